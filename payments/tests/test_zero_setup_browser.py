"""The zero-setup demo in a real browser: `manage.py runserver` on a SQLite file, no broker (tasks in-process),
seeded with `seed_demo` as `make run` does. An order that finds no free requisite moves on by itself: the
in-process beat (core.in_process_beat) retries it, and the customer's page, which said "preparing the
payment details", shows them. Debian's chromium via Playwright (as accounts/tests/test_browser.py)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from core.tests.browser import browser_page, needs_chromium

from .broker_support import free_port, wait_for

ROOT = Path(settings.BASE_DIR)

pytestmark = [pytest.mark.browser, needs_chromium]

TRADERS_AT_WORK = """
import os
from payments.models import Trader
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
with tenant_context(Tenant.objects.get(name="Demo Operator")):
    print(Trader.objects.update(in_work=os.environ["AT_WORK"] == "on"))
"""


def zero_setup_environment(workdir: Path, port: int) -> dict:
    """What `make run` has: no DATABASE_URL (a SQLite file, here the test's own), no broker; quick retries."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")}
    env.update({"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "SITE_URL": f"http://127.0.0.1:{port}",
                "ASSIGNMENT_SWEEP_SECONDS": "1", "ASSIGNMENT_RETRY_BASE_SECONDS": "1",
                "ASSIGNMENT_RETRY_MAX_SECONDS": "2", "ASSIGNMENT_MAX_ATTEMPTS": "100", "PYTHONPATH": str(ROOT)})
    return env


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def page():
    with browser_page() as page:  # the runserver's address is only known in the test
        yield page


def test_under_make_run_an_order_with_no_free_requisite_moves_on_by_itself(page):
    workdir = Path(tempfile.mkdtemp(prefix="zero-setup-"))
    port = free_port()
    env = zero_setup_environment(workdir, port)
    log_path = workdir / "runserver.log"
    server = None
    try:
        manage(env, "migrate", "--noinput")
        key = re.search(r"Bearer (\S+)", manage(env, "seed_demo")).group(1)
        assert manage({**env, "AT_WORK": "off"}, "shell", "-c", TRADERS_AT_WORK).strip() != "0"  # every requisite busy
        with open(log_path, "w") as log:
            server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        wait_for(lambda: "Quit the server" in log_path.read_text() or server.poll() is not None,
                 what=lambda: f"runserver to serve\n{log_path.read_text()[-3000:]}", timeout=60)
        assert "In-process beat started" in log_path.read_text()  # said at start-up

        # given: a PayIn accepted while no trader is at work
        answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/payins", timeout=30,
                            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "zero-setup-1"},
                            json={"amount_fiat": "1000.00", "client_id": "zero-setup-1"})
        assert answer.status_code == 201, answer.text
        page.goto(answer.json()["payment_url"])
        page.get_by_text("We are preparing the payment details").wait_for()

        # when: a trader is back at work, and nobody touches the order or the page
        manage({**env, "AT_WORK": "on"}, "shell", "-c", TRADERS_AT_WORK)

        # then: the in-process beat retries it, and the page shows the details by itself (it polls every 10 s)
        page.get_by_role("button", name="I have paid").wait_for(timeout=45_000)
        assert "We are preparing the payment details" not in page.content()
        assert "Transfer" in page.content()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
