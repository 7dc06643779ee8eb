"""gunicorn settings of the web app; gunicorn reads ./gunicorn.conf.py by itself when started from here.

Command-line flags still win (the README's `gunicorn config.wsgi -b … -w 4`, bench/intake.py).
"""

import gc
import os

from core.logs import logging_config


def _log_format() -> str:
    debug = os.environ.get("DEBUG", "true").strip().lower() in ("1", "true", "yes", "on")
    return os.environ.get("LOG_FORMAT", "text" if debug else "json").strip().lower()


# gunicorn's own lines (start, worker boots and exits) in the app's format: JSON in production (core/logs.py).
logconfig_dict = logging_config(log_format=_log_format(), level=os.environ.get("LOG_LEVEL", "INFO"))


def post_worker_init(worker) -> None:
    """Load what a first request would load, then freeze it all out of the cyclic garbage collector.

    Loading: every module the URLconf names (views, serializers, forms) and the Celery task modules
    (the store API's hints are built from them) — about a quarter of a second of CPU on the 2-core
    machine that each worker's first request would otherwise wait for.
    Freezing: a worker then holds ~120 000 objects that live as long as the process. Every full
    collection walked all of them: about 150 ms on the 2-core machine, a stall for every request queued
    on that worker. Frozen, a full collection walks only what requests created (25 ms).
    """
    _load_request_code()
    gc.freeze()


def _load_request_code() -> None:
    from django.urls import get_resolver

    from config.celery import app

    get_resolver().url_patterns  # noqa: B018 (the property imports the URLconf and every view module)
    app.loader.import_default_modules()  # the task modules (autodiscover_tasks)
    app.finalize(auto=True)
