"""Celery tasks of order execution: take ids, call one service."""

from celery import shared_task

from payments.services.execution import expire_due_orders

__all__ = ["expire_due_orders_task"]


@shared_task(name="payments.expire_due_orders", ignore_result=True, soft_time_limit=120, time_limit=180)
def expire_due_orders_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): orders nobody confirmed in time become `expired`, holds released."""
    return expire_due_orders()
