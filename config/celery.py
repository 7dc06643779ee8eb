"""Celery app: configured from Django settings (CELERY_ namespace), tasks autodiscovered.

Workers and beat log through Django's LOGGING (core/logs.py: JSON in production, the task's id, name and
tenant on each line) instead of Celery's own handler, and a pool process adds its metrics to Redis before it
exits (core.metrics).
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("p2p_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Connected, so Celery leaves the root logger to Django's LOGGING (applied by django.setup())."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


_task_context = {}


@signals.task_prerun.connect
def _bind_task(task_id=None, task=None, **kwargs) -> None:
    from core import logs

    _task_context[task_id] = logs.set_context(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _unbind_task(task_id=None, **kwargs) -> None:
    from core import logs

    token = _task_context.pop(task_id, None)
    if token is not None:
        try:
            logs.reset_context(token)
        except ValueError:  # set in another context (a thread pool): nothing to restore here
            pass


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _flush_metrics(**kwargs) -> None:
    from core import metrics

    metrics.flush()
