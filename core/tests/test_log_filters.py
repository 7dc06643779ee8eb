"""A 403 is logged as one line, once; a 500 keeps its traceback."""

import logging

from django.core.exceptions import PermissionDenied

from core.log_filters import ClientErrorsWithoutTraceback


def record(status: int) -> logging.LogRecord:
    try:
        raise PermissionDenied("x")
    except PermissionDenied:
        import sys

        entry = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden", (), sys.exc_info())
    entry.status_code = status
    return entry


def test_client_errors_lose_the_traceback_server_errors_keep_it():
    keep = ClientErrorsWithoutTraceback()

    forbidden, failed = record(403), record(500)
    assert keep.filter(forbidden) and keep.filter(failed)

    assert forbidden.exc_info is None and failed.exc_info is not None


SCRIPT = """
import django
django.setup()
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.test import RequestFactory
response_for_exception(RequestFactory().get("/refuse"), PermissionDenied("not yours"))
"""


def test_a_refused_page_is_logged_once_without_a_traceback():
    """With the project's LOGGING, as `make run` prints it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Forbidden (Permission denied): /refuse") == 1, done.stderr
    assert "Traceback" not in done.stderr
