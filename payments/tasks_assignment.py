"""Celery tasks of assignment: take ids, call one service (payments.services.assignment).

Worker settings that make the row, not the message, the truth (config/settings.py):
late acks, one message prefetched per process. A worker claims the orders of a
message before it works on them (payments.services.dispatch), so the orders of a
worker killed mid-work are due again seconds later even though Redis keeps its
unacknowledged message for an hour. No Celery retries and no ETAs: a failed attempt
writes its next time into the order row, and the sweeper sends the message then.
"""

from celery import shared_task

from payments.services.assignment import assign_dispatched_orders, sweep_due_orders
from tenancy.scoping import current_tenant_id
from tenancy.task_context import TenantTask

__all__ = ["assign_incoming_order_task", "assign_incoming_orders_task", "sweep_due_orders_task"]


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
