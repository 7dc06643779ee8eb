"""Intake-side order actions that need no assignment machinery (execution: payments.services.execution)."""

from django.db import transaction
from django.utils import timezone

from payments.errors import ConflictError
from payments.models import IncomingOrder

from .audit_trail import record
from .callbacks import enqueue_order_created_once, enqueue_order_event


@transaction.atomic
def cancel_incoming_order(*, order: IncomingOrder, cancelled_by=None, reason: str = "") -> IncomingOrder:
    """Cancel an order no requisite has been assigned to yet (`new` or `retrying`).

    The open order's row is locked first, as the assignment worker locks it: a
    worker that got there first wins (we wait for it, then find the order no
    longer open) and this refuses with a 409 instead of cancelling an assigned
    order. Holding the lock, the store's `order.created` event is written from
    the order as it still is, when no worker claimed it yet, before `order.cancelled`.
    The status change stays a compare-and-swap (SQLite takes no row locks).
    """
    now = timezone.now()
    open_order = IncomingOrder.objects.unscoped().filter(
        pk=order.pk, tenant_id=order.tenant_id, status__in=IncomingOrder.OPEN_STATUSES)
    locked = open_order.select_for_update(of=("self",), no_key=True).first()
    updated = 0
    if locked is not None:
        enqueue_order_created_once(incoming_order=locked)
        updated = open_order.update(status=IncomingOrder.Status.CANCELLED, failure_reason=reason[:500] or "Cancelled.",
                                    next_attempt_at=None, updated_at=now)
    if not updated:  # the transaction rolls back, order.created with it
        current = IncomingOrder.objects.unscoped().filter(pk=order.pk).values_list("status", flat=True).first()
        raise ConflictError(f"The order cannot be cancelled now (status {current}).", code="order_not_cancellable")
    old_status = locked.status
    order.refresh_from_db()
    record(action="order.cancelled", target=order, actor=cancelled_by,
           description=f"{order} cancelled" + (f": {reason}" if reason else ""),
           details={"changes": {"status": {"old": old_status, "new": order.status}}, "reason": reason})
    enqueue_order_event(incoming_order=order, event_type="order.cancelled")
    return order
