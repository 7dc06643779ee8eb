"""gunicorn.conf.py: workers freeze their start-up objects out of the cyclic collector."""

import gc
import importlib.util
from pathlib import Path

from django.conf import settings


def load_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(settings.BASE_DIR) / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_worker_freezes_what_it_loaded_before_serving():
    conf = load_conf()
    gc.unfreeze()
    try:
        conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000  # Django and the app, loaded by the test run
    finally:
        gc.unfreeze()
