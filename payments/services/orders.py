"""Intake-side order actions that need no assignment machinery (execution: payments.services.execution)."""

from django.db import transaction
from django.utils import timezone

from payments.errors import ConflictError
from payments.models import IncomingOrder

from .audit_trail import record
from .callbacks import enqueue_order_event


@transaction.atomic
def cancel_incoming_order(*, order: IncomingOrder, cancelled_by=None, reason: str = "") -> IncomingOrder:
    """Cancel an order no requisite has been assigned to yet (`new` or `retrying`).

    Compare-and-swap on the status, so an assignment worker that got there first
    wins and this refuses with a 409 instead of cancelling an assigned order.
    """
    now = timezone.now()
    updated = IncomingOrder.objects.unscoped().filter(
        pk=order.pk, tenant_id=order.tenant_id, status__in=IncomingOrder.OPEN_STATUSES,
    ).update(status=IncomingOrder.Status.CANCELLED, failure_reason=reason[:500] or "Cancelled.",
             next_attempt_at=None, updated_at=now)
    if not updated:
        current = IncomingOrder.objects.unscoped().filter(pk=order.pk).values_list("status", flat=True).first()
        raise ConflictError(f"The order cannot be cancelled now (status {current}).", code="order_not_cancellable")
    old_status = order.status
    order.refresh_from_db()
    record(action="order.cancelled", target=order, actor=cancelled_by,
           description=f"Incoming order {order.hash_id} cancelled" + (f": {reason}" if reason else ""),
           details={"changes": {"status": {"old": old_status, "new": order.status}}, "reason": reason})
    enqueue_order_event(incoming_order=order, event_type="order.cancelled")
    return order
