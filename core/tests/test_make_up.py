"""The CI smoke test of `make up`: the production-shaped stack (gunicorn, a Celery worker per queue, beat, the
copy-trade server, through honcho) on this test's PostgreSQL database and a redis-server of its own, with
DEBUG off and JSON logs. A PayIn through the store API is assigned by the real assignment worker,
/health/ready answers 200, /metrics shows the order, and Ctrl+C (SIGINT) stops every process cleanly.

Free ports, waits on conditions with deadlines (generous: a loaded 2-core CI machine boots five workers),
and only the processes this test started are signalled: `make`'s process group, and the groups of the
processes honcho started (each in a session of its own; their pids are in honcho's log).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from payments.models import IncomingOrder
from payments.tests.api_support import PAYIN, make_api_store
from payments.tests.assignment_support import make_funded_requisite
from payments.tests.broker_support import RedisServer, free_port, wait_for
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

ROOT = Path(settings.BASE_DIR)
PROCESSES = ("web", "worker_celery", "worker_assignment", "worker_callbacks", "worker_sweeps", "worker_trading",
             "beat", "copytrade")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
    pytest.mark.skipif(not shutil.which("make"), reason="needs make"),
]


class Stack:
    """`make up` in a session of its own, its output in a file."""

    def __init__(self, env: dict):
        self.log_path = Path(tempfile.mkstemp(prefix="make-up-", suffix=".log")[1])
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["make", "up", f"VENV={sys.prefix}"], cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def started(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in re.findall(r"system\s+\| (\w+)\.1 started \(pid=(\d+)\)", self.log())}

    def stopped(self) -> dict[str, int]:
        return {name: int(rc) for name, rc in re.findall(r"system\s+\| (\w+)\.1 stopped \(rc=(-?\d+)\)", self.log())}

    def interrupt(self) -> None:
        """Ctrl+C: SIGINT to the terminal's process group, which is make's."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def kill_everything(self) -> None:
        for pid in [self.proc.pid, *self.started().values()]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def redis():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_make_up_assigns_an_order_with_the_real_worker_and_stops_cleanly(redis, tmp_path):
    pytest.importorskip("honcho")
    db = connection.settings_dict
    web_port, copytrade_port = free_port(), free_port()
    token = "smoke-metrics-token-0123456789"
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}",
           "REDIS_URL": redis.url, "CELERY_BROKER_URL": redis.url, "CELERY_TASK_ALWAYS_EAGER": "false",
           "DEBUG": "false", "SECRET_KEY": settings.SECRET_KEY,
           "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS), "SECURE_SSL_REDIRECT": "false",
           "ALLOWED_HOSTS": "127.0.0.1", "METRICS_TOKEN": token, "LOG_FORMAT": "json",
           "WEB_BIND": f"127.0.0.1:{web_port}", "WEB_WORKERS": "1", "COPYTRADE_PORT": str(copytrade_port),
           "STATE_DIR": str(tmp_path), "HEALTH_HEARTBEAT_SECONDS": "2", "METRICS_FLUSH_SECONDS": "0.5",
           "STOP_GRACE_SECONDS": "90", "IN_PROCESS_BEAT": "false"}
    env.pop("PYTEST_XDIST_WORKER", None)
    tenant = Tenant.objects.create(name="Operator A")
    api = make_api_store(tenant)
    with tenant_context(tenant):
        make_funded_requisite(api.refs, crypto=Decimal("100000"))

    base = f"http://127.0.0.1:{web_port}"
    stack = Stack(env)
    try:
        def ready():
            assert stack.proc.poll() is None, f"make up exited\n{stack.tail()}"
            try:
                return httpx.get(f"{base}/health/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, what=lambda: f"/health/ready to answer 200\n{stack.tail()}", timeout=300)
        assert set(stack.started()) == set(PROCESSES)

        response = httpx.post(f"{base}/api/v1/payins", json={**PAYIN, "client_id": "smoke-1"},
                              headers={"Authorization": f"Bearer {api.key}"}, timeout=30)
        assert response.status_code == 201, response.text
        hash_id = response.json()["id"]

        def assigned():
            with tenant_context(tenant):
                return IncomingOrder.objects.get(hash_id=hash_id).status == IncomingOrder.Status.ASSIGNED

        wait_for(assigned, what=lambda: f"the order to be assigned\n{stack.tail()}", timeout=120)
        worker_lines = [line for line in stack.log().splitlines() if re.search(r" worker_assignment\.1\s+\| ", line)
                        and "payments.assign_incoming_order" in line and "succeeded" in line]
        assert worker_lines, stack.tail()
        assert json.loads(worker_lines[0].split("| ", 1)[1])["task"] == "payments.assign_incoming_order"

        ready_answer = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready_answer.status_code == 200, ready_answer.text
        assert set(ready_answer.json()["checks"]["heartbeats"]["age_seconds"]) == {
            "beat", *(f"worker:{queue.name}" for queue in settings.CELERY_TASK_QUEUES)}

        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 404  # no token

        def metrics_show_the_order():
            text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
            values = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                      for family in text_string_to_metric_families(text) for sample in family.samples}
            return (values.get(("p2p_orders", (("kind", "incoming"), ("status", "assigned")))) == 1
                    and values.get(("p2p_order_assignment_latency_seconds_count", ())) == 1
                    and values.get(("p2p_http_request_duration_seconds_count",
                                    (("method", "POST"), ("status", "2xx"), ("view", "store_api:payins")))) == 1)

        wait_for(metrics_show_the_order, what="the metrics to show the order", timeout=60)

        stack.interrupt()
        wait_for(lambda: stack.proc.poll() is not None, what=lambda: f"make up to stop\n{stack.tail()}",
                 timeout=150)
        assert stack.stopped() == dict.fromkeys(PROCESSES, 0), stack.tail()
        assert "SIGKILL" not in stack.log()
        assert "Warm shutdown" in stack.log()
        assert not port_open(web_port) and not port_open(copytrade_port)
        for pid in stack.started().values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        stack.kill_everything()
        time.sleep(0)  # nothing to wait for: every process of the stack is gone or killed
