"""Callbacks to stores: every order event, signed, delivered to the store's callback_url until it answers.

How it holds together (docs/callbacks.md has the receiver's side):
- `enqueue_order_event` writes a CallbackEvent in the caller's transaction, so an
  event exists exactly when the status change committed, and sends a Celery
  message on commit. The row is the truth, the message only a hint:
  `sweep_due_callbacks` (beat) sends a new message for every pending event whose
  time has come and that has no message out, so a lost message, Redis being down
  or a worker killed mid-request only delay a delivery.
- `deliver_callback` claims the event with a compare-and-swap (its next attempt
  moved a short claim lease ahead and its dispatch mark cleared, so a duplicate
  message is a no-op, and a worker killed mid-POST leaves it due again seconds
  later: payments.services.dispatch), POSTs outside any transaction while a
  thread renews the claim, then records the attempt and the next step in one
  short transaction: `delivered` on 2xx, else another try after an exponential,
  jittered delay, until CALLBACK_RETRY_WINDOW after the event: then `failed`.
- Every attempt (automatic or a merchant's resend) also feeds the store's
  endpoint health: a failure streak long enough (CALLBACK_FLAG_AFTER_FAILURES
  failed attempts or CALLBACK_FLAG_AFTER of failing) flags the store and mails
  its merchant once; the next success clears the flag.
- Callbacks reach public internet addresses only (SSRF guard): checked when the
  URL is saved and at every attempt, where the request goes to the checked
  address; a refused attempt is recorded like a failed one, nothing is raised.
- `order.created` is not written by intake (its request path stays one INSERT)
  but by the first transaction holding the order's row lock: the assignment
  worker's first claim, or a cancel that comes before it.

Modules: `signing` (the X-Signature header), `destinations` (callback URLs and the SSRF guard),
`bodies` (the event body a store receives), `events` (writing events in the caller's transaction),
`delivery` (an attempt, its record, the endpoint's health, a merchant's resend), `sweeper` (beat).

The signing secrets never leave `signing` and `delivery`: not in attempts, events, the audit
trail or the logs (the signature itself is not logged either).
"""

