"""gunicorn.conf.py: workers load what requests need, then freeze it out of the cyclic collector."""

import gc
import importlib.util
import os
import subprocess
import sys
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


def test_a_worker_loads_the_views_and_tasks_before_its_first_request():
    """In a fresh interpreter (this one has loaded everything already), as a gunicorn worker starts."""
    script = (
        "import sys, django; django.setup()\n"
        "from config.celery import app\n"
        "before = 'payments.api.views' in sys.modules, 'payments.tasks' in sys.modules\n"
        "import importlib.util\n"
        "spec = importlib.util.spec_from_file_location('conf', 'gunicorn.conf.py')\n"
        "conf = importlib.util.module_from_spec(spec); spec.loader.exec_module(conf)\n"
        "conf.post_worker_init(worker=None)\n"
        "after = 'payments.api.views' in sys.modules, 'payments.assign_incoming_order' in app.tasks\n"
        "print(before, after)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run([sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120, check=True)

    assert result.stdout.split("\n")[-2] == "(False, False) (True, True)"
