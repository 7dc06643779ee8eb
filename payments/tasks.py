"""Celery tasks of payments: take ids, call one service."""

from celery import shared_task

from payments.services.exchange_rates import load_exchange_rates


@shared_task(name="payments.load_exchange_rates", ignore_result=True, soft_time_limit=60, time_limit=90)
def load_exchange_rates_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): refresh every active tenant's rates from the provider."""
    return load_exchange_rates().created
