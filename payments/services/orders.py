"""Intake-side order actions that need no assignment machinery (execution: payments.services.execution)."""

from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from payments.callbacks.events import enqueue_order_created_once, enqueue_order_event
from payments.errors import ConflictError
from payments.models import IncomingOrder

from .audit_trail import record

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out


# How long a cancel waits for an assignment worker holding the order's row (its transaction takes milliseconds);
# past it the store gets the retryable 409 `order_busy`. PostgreSQL only: SQLite takes no row locks.
CANCEL_LOCK_WAIT_MS = 3000


class OrderNoLongerOpen(ConflictError):
    """The order was assigned or failed before the cancel got its row; it is no longer `new`/`retrying`."""

    code = "order_not_cancellable"


@transaction.atomic
def cancel_incoming_order(*, order: IncomingOrder, actor=None, reason: str = "") -> IncomingOrder:
    """Cancel an order no requisite has been assigned to yet (`new` or `retrying`).

    The open order's row is locked first, as the assignment worker locks it: a
    worker that got there first wins (we wait for it, at most CANCEL_LOCK_WAIT_MS,
    else 409 `order_busy`), then find the order no longer open: OrderNoLongerOpen,
    so a caller that may cancel an assigned order too goes on with it as it now is.
    Holding the lock, the store's `order.created` event is written from
    the order as it still is, when no worker claimed it yet, before `order.cancelled`.
    The status change stays a compare-and-swap (SQLite takes no row locks).
    """
    now = timezone.now()
    open_order = IncomingOrder.objects.unscoped().filter(
        pk=order.pk, tenant_id=order.tenant_id, status__in=IncomingOrder.OPEN_STATUSES)
    locked = _lock_waiting_briefly(open_order)
    updated = 0
    if locked is not None:
        enqueue_order_created_once(incoming_order=locked)
        updated = open_order.update(status=IncomingOrder.Status.CANCELLED, state=IncomingOrder.Status.CANCELLED,
                                    failure_reason=reason[:500] or "Cancelled.", next_attempt_at=None,
                                    updated_at=now)
    if not updated:  # the transaction rolls back, order.created with it
        current = IncomingOrder.objects.unscoped().filter(pk=order.pk).values_list("status", flat=True).first()
        raise OrderNoLongerOpen(f"The order cannot be cancelled now (status {current}).")
    old_status = locked.status
    order.refresh_from_db()
    record(action="order.cancelled", target=order, actor=actor,
           description=f"{order} cancelled" + (f": {reason}" if reason else ""),
           details={"changes": {"status": {"old": old_status, "new": order.status}}, "reason": reason})
    enqueue_order_event(incoming_order=order, event_type="order.cancelled")
    return order


def _lock_waiting_briefly(open_order: QuerySet[IncomingOrder]) -> IncomingOrder | None:
    """The open order's row, locked; waits for a worker holding it at most CANCEL_LOCK_WAIT_MS, then 409
    `order_busy`. The wait bound is set for this statement only (SET LOCAL, then back to the default)."""
    rows = open_order.select_for_update(of=("self",), no_key=True)
    if connection.vendor != "postgresql":
        return rows.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{CANCEL_LOCK_WAIT_MS}ms"])
    try:
        locked = rows.first()
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise ConflictError("The order is being assigned right now; try again in a moment.",
                            code="order_busy") from error
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    return locked
