"""Who owns a row that a worker must act on (an open order, a pending callback event), and when it is due again.

Two columns of the row say it, with two leases:

- `dispatched_at`: a message for the row was handed to the broker then and not yet taken by a worker.
  NULL: no message is out — never sent, given back at once when the hint was dropped (the broker was
  away: core.messaging.hints calls `on_drop`), or taken by a worker (its claim, below).
- `next_attempt_at`: when the row is due (again). A worker that takes the message *claims* the row in
  one committed statement before it works on it: `next_attempt_at` = now + the claim lease, and
  `dispatched_at` = NULL. So the row of a worker killed mid-work (kill -9: its message dies with it,
  Redis keeps an unacknowledged message for an hour) is due again a few seconds later, while a row whose
  message still waits in the queue is not: it has no claim, only a dispatch mark.

The sweeper sends a message for each open row that is due and that no message owns:

- `dispatched_at` NULL: at once, backlog or not (no message of it is anywhere);
- `dispatched_at` set: only when the message looks lost in the broker (a Redis restarted empty), judged
  by the queue's length (`resend_cutoff`): with more than `slack` messages waiting, never — behind a
  backlog of thousands the message is most likely still queued, and re-sending would add duplicates
  for the busy workers to skip (a storm); with a short queue, after the dispatch lease; with an empty
  queue, after the claim lease (no message can be waiting then; one taken by a worker is claimed
  within milliseconds, and at worst a duplicate goes out, which its claim makes a no-op).

Re-sending marks `dispatched_at` again, so a row is re-sent at most once per lease whatever happens:
no loop. Correctness never rests on a lease: the row lock and the compare-and-swap on the row's state
make a duplicate message a no-op, so a lease that runs out too early costs a wasted message, never a
double assignment or delivery.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connections

from core import messaging

logger = logging.getLogger(__name__)


def resend_cutoff(task_name: str, *, now: datetime, dispatch_lease: float, claim_lease: float,
                  slack: int) -> datetime | None:
    """Rows whose message to task `task_name` was handed to the broker before the returned time count as lost;
    None: none do.

    See the module docstring. Unknown queue length (eager mode, or the broker does not say): the
    dispatch lease alone, as if the queue were short.
    """
    waiting = messaging.waiting(task_name)
    if waiting is None:
        return now - timedelta(seconds=dispatch_lease)
    if waiting == 0:
        return now - timedelta(seconds=claim_lease)
    if waiting <= slack:
        return now - timedelta(seconds=dispatch_lease)
    return None


@contextmanager
def claim_kept(renew: Callable[[], bool], *, every: float) -> Iterator[None]:
    """Run the body while a thread calls `renew()` every `every` seconds, until the body ends or `renew`
    returns False (the claim was lost). For work of unbounded length under a short claim lease (a
    callback POST to a slow store): a live worker keeps its row, a killed one stops renewing it.

    The thread opens its own database connection only if the body outlasts `every`, and closes it.
    """
    stop = threading.Event()

    def keep() -> None:
        try:
            while not stop.wait(every):
                if not renew():
                    return
        except Exception:
            logger.exception("Renewing a claim failed; it may run out and the row be sent again")
        finally:
            connections.close_all()

    keeper = threading.Thread(target=keep, daemon=True, name="claim-keeper")
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
