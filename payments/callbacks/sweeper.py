"""The callback sweeper (beat): a delivery message for every pending event that is due and has no owner."""

from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from payments.models import CallbackEvent
from payments.services import dispatch
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .events import DELIVER_TASK, dispatch_event


def sweep_due_callbacks(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send a delivery message for each pending event that is due and that no message or live worker owns;
    returns how many (the rules, as for assignment: payments.services.dispatch).

    Due: `next_attempt_at` has come (a new event's creation, a retry's time, the end of a worker's
    claim). Unowned: no message out (`dispatched_at` NULL), or one handed to the broker before
    `dispatch.resend_cutoff` (after CALLBACK_DISPATCH_LEASE_SECONDS, and never behind a backlog
    longer than CALLBACK_SWEEP_QUEUE_SLACK).

    Goes tenant by tenant inside each tenant's context (as the exchange-rate
    loader does) rather than bypassing RLS: the tenants table is small and the
    scope stays enforced. The dispatch mark is a compare-and-swap, so two
    sweepers never send the same event twice.
    """
    now = now or timezone.now()
    cutoff = dispatch.resend_cutoff(DELIVER_TASK, now=now,
                                    dispatch_lease=settings.CALLBACK_DISPATCH_LEASE_SECONDS,
                                    claim_lease=settings.CALLBACK_CLAIM_LEASE_SECONDS,
                                    slack=settings.CALLBACK_SWEEP_QUEUE_SLACK)
    no_message_out = Q(dispatched_at__isnull=True)
    if cutoff is not None:
        no_message_out |= Q(dispatched_at__lte=cutoff)
    sent = 0
    for tenant_id in Tenant.objects.order_by("created_at").values_list("pk", flat=True):
        with tenant_context(tenant_id):
            due = list(CallbackEvent.objects.filter(no_message_out, status=CallbackEvent.Status.PENDING,
                                                    next_attempt_at__lte=now)
                       .order_by("next_attempt_at").values_list("pk", flat=True)[:limit - sent])
            for event_pk in due:
                marked = CallbackEvent.objects.filter(no_message_out, pk=event_pk,
                                                      status=CallbackEvent.Status.PENDING).update(dispatched_at=now)
                if marked:
                    dispatch_event(event_pk, tenant_id, marked_at=now)
                    sent += 1
        if sent >= limit:
            break
    return sent
