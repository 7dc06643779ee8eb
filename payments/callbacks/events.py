"""Writing callback events: one row per order change, in the transaction that made the change, and its
delivery message sent on commit (by task name: core.messaging).

The row is the truth, the message only a hint: the sweeper (payments.callbacks.sweeper) sends a new
message for every pending event whose time has come and that has no message out.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from django.db import connections, router, transaction
from django.utils import timezone

from core import messaging, sql
from payments.models import CallbackEvent, IncomingOrder, MerchantStore
from tenancy.scoping import tenant_context

from .bodies import order_event_data
from .destinations import callback_url_problem

EVENT_TYPES = (
    "order.created", "order.assigned", "order.failed", "order.cancelled", "order.paid", "order.completed",
    "order.disputed", "order.expired", "appeal.opened", "appeal.resolved",
)
# The task that delivers one event (payments.tasks.deliver_callback_task).
DELIVER_TASK = "payments.deliver_callback"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enqueue_order_event(*, incoming_order: IncomingOrder, event_type: str) -> CallbackEvent:
    """Record that `incoming_order` changed (call it inside the transaction that changed it, after the change).

    The body is fixed now, from the rows as this transaction sees them, so it
    describes exactly this change however late it is delivered. A store without
    a usable callback URL still gets the row (status `failed`, saying why), so
    its merchant sees what was not sent and can resend it after setting a URL.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown callback event type {event_type!r}.")
    store = MerchantStore.objects.unscoped().only("id", "tenant_id", "callback_url").get(
        pk=incoming_order.store_id, tenant_id=incoming_order.tenant_id)
    data = order_event_data(incoming_order, event_type=event_type)
    [event] = write_order_events(incoming_order=incoming_order, callback_url=store.callback_url,
                                 events=[(event_type, data)])
    return event


def write_order_events(*, incoming_order: IncomingOrder, callback_url: str,
                       events: Sequence[tuple[str, dict]]) -> list[CallbackEvent]:
    """Write events of `incoming_order` whose `data` the caller built (`order_event_data` or its in-hand
    twin), oldest first, in one INSERT; as `enqueue_order_event` does, with the store's `callback_url`
    as the caller read it in this transaction."""
    problem = callback_url_problem(callback_url)
    rows = []
    for event_type, data in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"Unknown callback event type {event_type!r}.")
        now = timezone.now()
        event = CallbackEvent(tenant_id=incoming_order.tenant_id, store_id=incoming_order.store_id,
                              incoming_order_id=incoming_order.pk, event_type=event_type, created_at=now)
        event.payload = {"id": str(event.event_id), "type": event_type, "created": _iso(now), "data": data}
        if problem:
            event.status = CallbackEvent.Status.FAILED
            event.last_error = f"Not sent: {problem}."
        else:
            event.next_attempt_at = now
            event.dispatched_at = now
        rows.append(event)
    sql.insert_many(rows, connections[router.db_for_write(CallbackEvent)])
    if not problem:
        for event in rows:
            transaction.on_commit(partial(dispatch_event, event.pk, event.tenant_id, marked_at=event.dispatched_at))
    return rows


def enqueue_order_created_once(*, incoming_order: IncomingOrder) -> CallbackEvent | None:
    """Write the order's `order.created` event unless it has one; None when it had.

    Call it holding the order's row lock, before any other event of the
    transaction. Intake writes no event (its request path stays one INSERT), so
    the first transaction that takes the lock writes it: the assignment worker
    claiming the order, or the store cancelling it before any worker did. The
    lock serialises those transactions and each one's query sees what the
    previous one committed, so the event is written once per order, and before
    (earlier created_at and id) the assigned / failed / cancelled event that follows.
    """
    earlier = CallbackEvent.objects.unscoped().filter(
        tenant_id=incoming_order.tenant_id, incoming_order_id=incoming_order.pk, event_type="order.created")
    if earlier.exists():
        return None
    return enqueue_order_event(incoming_order=incoming_order, event_type="order.created")


def dispatch_event(event_pk: int, tenant_id, *, marked_at: datetime) -> None:
    """Send the delivery message as a hint (core.messaging): never waited for, dropped if the broker is away.

    A dropped message gives the event back to the sweeper at once (`dispatched_at` cleared), so it goes
    out on the next sweep after the broker is back rather than after its dispatch lease. The drop may be
    noticed in the publisher thread, later: only the mark made for this message (`marked_at` or before)
    is cleared, not a later sweep's or a worker's claim.
    """

    def give_back_to_the_sweeper() -> None:
        with tenant_context(tenant_id):
            CallbackEvent.objects.filter(pk=event_pk, status=CallbackEvent.Status.PENDING,
                                         dispatched_at__lte=marked_at).update(dispatched_at=None)

    messaging.send(DELIVER_TASK, kwargs={"event_id": event_pk, "tenant_id": str(tenant_id)},
                   on_drop=give_back_to_the_sweeper)
