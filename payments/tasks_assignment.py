"""Celery tasks of assignment: take ids, call one service (payments.services.assignment).

Worker settings that make the row, not the message, the truth (config/settings.py):
late acks, a message whose worker died is rejected back to the queue, one
message prefetched per process. No Celery retries and no ETAs: a failed attempt
writes its next time into the order row, and the sweeper sends the message then.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from payments.services.assignment import assign_incoming_order, sweep_due_orders
from tenancy.scoping import current_tenant_id
from tenancy.task_context import TenantTask

logger = logging.getLogger(__name__)

__all__ = ["assign_incoming_order_task", "assign_incoming_orders_task", "sweep_due_orders_task"]


@shared_task(base=TenantTask, name="payments.assign_incoming_order", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=30, time_limit=60)
def assign_incoming_order_task(order_id: int) -> str:
    """Assign one incoming order, in its tenant (sent on commit by intake, and by the sweeper)."""
    return assign_incoming_order(order_id=order_id, tenant_id=current_tenant_id()).outcome.value


@shared_task(base=TenantTask, name="payments.assign_incoming_orders", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, soft_time_limit=300, time_limit=330)
def assign_incoming_orders_task(order_ids: list[int]) -> int:
    """Assign several incoming orders of one tenant, one after another (intake's hints, coalesced under load).

    Each is its own assignment (its own transaction); one that raises is left to the sweeper and the
    rest go on. A redelivered batch is harmless: an order already assigned is a no-op.
    """
    tenant_id = current_tenant_id()
    done = 0
    for order_id in order_ids:
        try:
            assign_incoming_order(order_id=order_id, tenant_id=tenant_id)
            done += 1
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.exception("Assigning incoming order %s failed; the sweeper will retry it", order_id)
    return done


@shared_task(name="payments.sweep_due_orders", ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_due_orders_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): send the due open orders that no live task holds."""
    return sweep_due_orders()
