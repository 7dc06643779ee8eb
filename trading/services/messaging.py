"""Sending trading's tasks after commit, by name (services never import tasks: tasks import services).

The broker message is a hint: the rows are the truth, and the sweeper (`trading.sweep_stale_signals`)
re-sends what a lost message left behind, so a broker that is away never fails the request.
"""

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def send_on_commit(task_name: str, *, tenant_id, countdown: float | None = None, **kwargs) -> None:
    """Queue `task_name` with `kwargs` in `tenant_id` once the current transaction commits (after
    `countdown` seconds, when given)."""
    payload = {**kwargs, "tenant_id": str(tenant_id)}

    def send() -> None:
        try:
            if task_name not in current_app.tasks:
                # A web process has not imported the task modules yet: Celery's autodiscovery does it
                # (by name, so services never import tasks).
                current_app.loader.import_default_modules()
            current_app.tasks[task_name].apply_async(kwargs=payload, countdown=countdown)
        except Exception:  # noqa: BLE001 - the row is the truth; the sweeper re-sends
            logger.warning("could not queue %s %s; the sweeper will", task_name, kwargs, exc_info=True)

    transaction.on_commit(send)
