"""Celery tasks of payments: each takes ids, enters the row's tenant (TenantTask) where it has one, and calls
one service. Services never import this module: they send messages by task name (core.messaging).

Worker settings that make the row, not the message, the truth (config/settings.py): late acks, one
message prefetched per process. A worker claims the rows of a message before it works on them
(payments.services.dispatch), so the rows of a worker killed mid-work are due again seconds later even
though Redis keeps its unacknowledged message for an hour. No Celery retries and no ETAs: a failed
attempt writes its next time into the row, and the row's sweeper sends the message then.
"""

from celery import shared_task

from payments.callbacks.delivery import deliver_callback
from payments.callbacks.sweeper import sweep_due_callbacks
from payments.services.assignment import assign_dispatched_orders, sweep_due_orders
from payments.services.exchange_rates import load_exchange_rates
from payments.services.execution import expire_due_orders
from payments.services.idempotency import purge_expired_idempotency_keys
from payments.services.ledger_verification import verify_ledgers
from tenancy.scoping import current_tenant_id
from tenancy.task_context import TenantTask

# --- periodic housekeeping -------------------------------------------------------------------------------


@shared_task(name="payments.load_exchange_rates", ignore_result=True, soft_time_limit=60, time_limit=90)
def load_exchange_rates_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): refresh every active tenant's rates from the provider."""
    return load_exchange_rates().created


@shared_task(name="payments.purge_idempotency_keys", ignore_result=True, soft_time_limit=120, time_limit=180)
def purge_idempotency_keys_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): drop store API idempotency answers past their expiry."""
    return purge_expired_idempotency_keys()


@shared_task(name="payments.verify_ledger", ignore_result=True, soft_time_limit=1800, time_limit=1900)
def verify_ledger_task() -> int:
    """Periodic (LEDGER_VERIFY_SECONDS): verify every tenant's ledger; the result shows in /metrics."""
    reports = verify_ledgers(reason="periodic ledger verification (payments.verify_ledger)")
    return sum(len(report.differences) for _, report in reports)


# --- assignment (payments.services.assignment) -----------------------------------------------------------


@shared_task(base=TenantTask, name="payments.assign_incoming_order", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=30, time_limit=60)
def assign_incoming_order_task(order_id: int) -> str:
    """Assign one incoming order, in its tenant (sent by the sweeper, and by intake when not coalesced)."""
    results = assign_dispatched_orders(order_ids=[order_id], tenant_id=current_tenant_id())
    return results[0].outcome.value if results else "skipped"


@shared_task(base=TenantTask, name="payments.assign_incoming_orders", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=300, time_limit=330)
def assign_incoming_orders_task(order_ids: list[int]) -> int:
    """Assign several incoming orders of one tenant, one after another (intake's hints, coalesced under load).

    A redelivered batch is harmless: an order already assigned or held by another task is not claimed.
    """
    results = assign_dispatched_orders(order_ids=order_ids, tenant_id=current_tenant_id())
    return sum(1 for result in results if result.assigned)


@shared_task(name="payments.sweep_due_orders", ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_due_orders_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): send the due open orders that no message or live task owns."""
    return sweep_due_orders()


# --- store callbacks (payments.callbacks) ----------------------------------------------------------------


@shared_task(base=TenantTask, name="payments.deliver_callback", ignore_result=True, soft_time_limit=60,
             time_limit=90)
def deliver_callback_task(event_id: int) -> None:
    """One attempt of a callback event (sent on commit of the change, and by the sweeper), in its tenant.

    No Celery retries: the next attempt's time is kept in the event row and the
    sweeper sends the message for it, so nothing depends on a broker ETA.
    """
    deliver_callback(event_id=event_id)


@shared_task(name="payments.sweep_due_callbacks", ignore_result=True, soft_time_limit=120, time_limit=180)
def sweep_due_callbacks_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): send the due pending events that have no message out."""
    return sweep_due_callbacks()


# --- order execution (payments.services.execution) -------------------------------------------------------


@shared_task(name="payments.expire_due_orders", ignore_result=True, soft_time_limit=120, time_limit=180)
def expire_due_orders_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): orders nobody confirmed in time become `expired`, holds released."""
    return expire_due_orders()
