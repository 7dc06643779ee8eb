"""Celery tasks of core: the per-queue worker heartbeat (core.heartbeat)."""

from celery import shared_task

from core import heartbeat


@shared_task(name="core.heartbeat", ignore_result=True, soft_time_limit=10, time_limit=20)
def heartbeat_task(queue: str) -> None:
    """Sent by beat to each queue (CELERY_BEAT_SCHEDULE); the worker that takes it notes its queue alive."""
    heartbeat.write(f"worker:{queue}")
