"""Celery tasks of payments: take ids, call one service."""

from celery import shared_task

from payments.services.exchange_rates import load_exchange_rates
from payments.services.idempotency import purge_expired_idempotency_keys


@shared_task(name="payments.load_exchange_rates", ignore_result=True, soft_time_limit=60, time_limit=90)
def load_exchange_rates_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): refresh every active tenant's rates from the provider."""
    return load_exchange_rates().created


@shared_task(name="payments.purge_idempotency_keys", ignore_result=True, soft_time_limit=120, time_limit=180)
def purge_idempotency_keys_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): drop store API idempotency answers past their expiry."""
    return purge_expired_idempotency_keys()

# Assignment (issue 5): the task intake sends on commit (payments.services.intake imports it from here),
# and the sweeper.
from payments.tasks_assignment import *  # noqa: E402,F401,F403

# Store callbacks (issue 5): importing registers the tasks for Celery autodiscovery.
from payments.tasks_callbacks import *  # noqa: E402,F401,F403

# Order execution (issue 5): the expiry sweep.
from payments.tasks_execution import *  # noqa: E402,F401,F403
