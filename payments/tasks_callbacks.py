"""Celery tasks of store callbacks: take ids, call one service (payments.services.callbacks)."""

from celery import shared_task

from payments.services.callbacks import deliver_callback, sweep_due_callbacks
from tenancy.task_context import TenantTask

__all__ = ["deliver_callback_task", "sweep_due_callbacks_task"]


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
