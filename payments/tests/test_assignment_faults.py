"""Assignment survives faults: a real Celery worker (prefork, with beat running the sweeper) on a
redis-server of its own, against the test database.

- Redis stops while orders come in: intake still accepts them (the message is lost), and every
  accepted order ends `assigned` or `failed` with a reason.
- The worker process assigning an order is killed with SIGKILL mid-transaction: PostgreSQL rolls
  its work back, and the order is assigned exactly once afterwards.

Nothing here can hang: every wait is bounded (`wait_for`, reads with a deadline), subprocesses write
their logs to files (a pipe nobody reads fills up and blocks its writer), and each subprocess is killed
in a `finally`. RedisServer and wait_for are shared with test_hints.py.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.models import AuditLog
from payments.models import BalanceTrader, CallbackEvent, IncomingOrder, OrderHistory
from tenancy.scoping import tenant_context

from .api_support import fresh_rate
from .assignment_support import RATE, make_funded_requisite, make_open_order
from .broker_support import RedisServer, wait_for
from .factories import make_reference_data, make_store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

ROOT = Path(settings.BASE_DIR)
LEASE_SECONDS = 2


def environment(redis: RedisServer) -> dict:
    """The worker's (and the intake process's) settings: this test database, this Redis, short timings."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": redis.url, "REDIS_URL": redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "false", "ASSIGNMENT_DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            "ASSIGNMENT_SWEEP_SECONDS": "1", "ASSIGNMENT_RETRY_BASE_SECONDS": "0.2",
            "ASSIGNMENT_RETRY_MAX_SECONDS": "0.5", "ASSIGNMENT_MAX_ATTEMPTS": "3", "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings"}


def stop_process_group(proc: subprocess.Popen, *, grace: float = 15) -> None:
    """SIGTERM the process group `proc` leads, SIGKILL it if it is still there after `grace` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        if server.proc:
            server.resume()  # a paused server would not die of SIGTERM; SIGKILL needs no resume, but be tidy
        server.stop()


@pytest.fixture(scope="module")
def worker(django_db_setup, redis):
    """`celery worker` (prefork, one process) with embedded beat: the sweeper runs every second.

    Ready before the tests start (its consumer is connected), so stopping Redis in a test
    interrupts a running worker rather than one still starting up.
    """
    workdir = Path(tempfile.mkdtemp(prefix="assignment-worker-"))
    log_path = workdir / "worker.log"
    celery = ROOT / ".venv/bin/celery"
    proc = None
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [str(celery) if celery.exists() else "celery", "-A", "config", "worker", "--pool", "prefork",
                 "--concurrency", "1", "-B", "--schedule", str(workdir / "beat-schedule"), "-l", "info",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"faults-{os.getpid()}@%h"],
                cwd=ROOT, env=environment(redis), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = log_path
        wait_for(lambda: proc.poll() is not None or " ready." in log_path.read_text(),
                 what=lambda: f"the worker to be ready\n{worker_log(proc)}", timeout=60)
        assert proc.poll() is None, f"the worker exited\n{worker_log(proc)}"
        yield proc
    finally:
        if proc is not None:
            stop_process_group(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def worker_log(worker) -> str:
    return Path(worker.log_path).read_text()[-4000:]


def settled(tenant, order_ids) -> bool:
    with tenant_context(tenant):
        return not IncomingOrder.objects.filter(pk__in=order_ids, status__in=["new", "retrying"]).exists()


INTAKE = textwrap.dedent("""
    import django, json, sys
    django.setup()
    from decimal import Decimal
    from payments.models import MerchantStore
    from payments.services.intake import create_incoming_order
    from tenancy.scoping import tenant_context
    with tenant_context(sys.argv[1]):
        store = MerchantStore.objects.get(pk=int(sys.argv[2]))
        for line in sys.stdin:  # one batch size per line, answered with the ids accepted
            ids = [create_incoming_order(store=store, order_type="pay_in", amount_fiat=Decimal("1000.00")).pk
                   for _ in range(int(line))]
            print(json.dumps(ids), flush=True)
""")


class Intake:
    """The real intake service in a process of its own (like a web worker), sending to the test's Redis.

    Its log goes to a file, and its answers are read by a thread, so that a request that hangs fails
    the test after `timeout` seconds instead of hanging it.
    """

    def __init__(self, redis: RedisServer, tenant, store, *, timeout: float = 30):
        self.timeout = timeout
        self.log_path = Path(tempfile.mkstemp(prefix="intake-", suffix=".log")[1])
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", INTAKE, str(tenant.pk), str(store.pk)], cwd=ROOT,
                                         env=environment(redis), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True, start_new_session=True)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def log(self) -> str:
        return self.log_path.read_text()[-3000:]

    def accept(self, count: int) -> list[int]:
        self.proc.stdin.write(f"{count}\n")
        self.proc.stdin.flush()
        try:
            line = self.answers.get(timeout=self.timeout)
        except queue.Empty:
            raise AssertionError(f"intake did not answer within {self.timeout} s\n{self.log()}") from None
        assert line, f"intake exited\n{self.log()}"
        return json.loads(line)

    def close(self) -> None:
        """Let it exit (it flushes its queued messages for up to 2 s), killing it if it does not."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            stop_process_group(self.proc, grace=5)
            self.log_path.unlink(missing_ok=True)


def test_orders_accepted_while_redis_is_down_all_end_assigned_or_failed(tenant, redis, worker):
    # two requisites × 3 000 THB a day: 6 of the 12 orders of 1 000 THB fit, the rest must fail, with a reason
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        fresh_rate(refs, RATE)
        requisites = [make_funded_requisite(refs, limits={"turnover_day_max": Decimal("3000.00")})
                      for _ in range(2)]

    intake = Intake(redis, tenant, store)
    try:
        before = intake.accept(4)
        redis.stop()
        during = intake.accept(4)  # every message is lost; intake still answers, at once
        redis.start()  # empty: whatever was queued before is gone too
        after = intake.accept(4)
    finally:
        intake.close()
    orders = before + during + after
    assert len(set(orders)) == 12

    wait_for(lambda: settled(tenant, orders), what=lambda: f"every order to settle\n{worker_log(worker)}",
             timeout=90)
    with tenant_context(tenant):
        statuses = Counter(IncomingOrder.objects.filter(pk__in=orders).values_list("status", flat=True))
        assert statuses == {"assigned": 6, "failed": 6}
        failed = IncomingOrder.objects.filter(pk__in=orders, status="failed")
        assert all(order.failure_reason.startswith("Not assigned after 3 attempts.") for order in failed)
        turnover = dict(OrderHistory.objects.values("requisite").annotate(s=Sum("total_fiat"))
                        .values_list("requisite", "s"))
        assert turnover == {r.pk: Decimal("3000.00") for r in requisites}
        assert set(OrderHistory.objects.values_list("incoming_order_id", flat=True)) == set(
            IncomingOrder.objects.filter(pk__in=orders, status="assigned").values_list("pk", flat=True))


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def owner_of_local_port(port: int, candidates: list[int]) -> int | None:
    """The process among `candidates` whose TCP socket has local port `port` (its database connection)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in candidates:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if os.readlink(fd) in inodes:
                    return pid
        except OSError:
            continue
    return None


def is_dead(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone, and reaped
        return True


def backend_gone(backend_pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend_pid])
        return cursor.fetchone()[0] == 0


def waiting_insert():
    """The backend (pid, client port) of a worker blocked inside its INSERT INTO order_history, if any."""
    with connection.cursor() as cursor:
        # we poll from inside the blocking transaction, which would otherwise keep its first snapshot
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("""SELECT pid, client_port FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid()
                            AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "order_history"%'""")
        return cursor.fetchone()


def test_a_worker_killed_mid_assignment_leaves_the_order_to_be_assigned_once(tenant, redis, worker):
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        requisite = make_funded_requisite(refs, crypto=Decimal("100"))
        order = make_open_order(store, fiat=Decimal("1000.00"))  # the sweeper sends it once its lease is over

    class Release(Exception):
        pass

    killed = None
    try:
        with tenant_context(tenant), transaction.atomic():
            # An uncommitted row with the same incoming_order_id: the worker's INSERT waits on it,
            # holding its locks on the order, the requisite and the trader's balance.
            OrderHistory.objects.create(
                incoming_order=order, hash_id="blocker", trader=requisite.trader, requisite=requisite,
                merchant=store.merchant, store=store, method=requisite.method, bank=requisite.bank,
                crypto_currency=refs.usdt, fiat=refs.thb, order_type="pay_in", exchange_rate=RATE,
                amount_currency=order.amount_currency, total_fiat=order.total_fiat,
                store_commission=order.store_commission, trader_commission=Decimal("0"))
            backend_pid, client_port = wait_for(waiting_insert,
                                                what=lambda: f"the worker to block\n{worker_log(worker)}")
            if client_port is None:
                pytest.skip("the worker reaches PostgreSQL through a Unix socket: cannot tell its process")
            killed = owner_of_local_port(client_port, children(worker.pid))
            assert killed is not None, "no worker process owns the blocked connection"
            os.kill(killed, signal.SIGKILL)
            wait_for(lambda: is_dead(killed), what="the process to die", timeout=20)
            raise Release
    except Release:
        pass  # the blocker is rolled back; the dead worker's transaction can only roll back too

    # PostgreSQL notices the dead client and ends its session, rolling its transaction back.
    wait_for(lambda: backend_gone(backend_pid), what="the dead worker's database session to end", timeout=30)
    wait_for(lambda: settled(tenant, [order.pk]), what=lambda: f"the order to be assigned\n{worker_log(worker)}")
    with tenant_context(tenant):
        order.refresh_from_db()
        assert order.status == IncomingOrder.Status.ASSIGNED
        placed = OrderHistory.objects.get(incoming_order=order)
        assert placed.hash_id == order.hash_id and placed.requisite_id == requisite.pk
        assert BalanceTrader.objects.get(trader=requisite.trader).crypto_hold == order.amount_currency
        assert CallbackEvent.objects.filter(incoming_order=order, event_type="order.assigned").count() == 1
    assert AuditLog.objects.filter(action="order.assigned", target_id=str(order.pk)).count() == 1
    assert killed not in children(worker.pid)


def test_a_message_written_by_the_wire_is_run_by_the_worker(tenant, redis, worker):
    """core.messaging.redis_wire writes what kombu would; the worker runs it (the sweeper leaves this order alone)."""
    import redis as redis_client

    from config.celery import app
    from core.messaging.redis_wire import RedisTaskWire
    from payments.tasks import assign_incoming_order_task

    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        make_funded_requisite(refs)
        order = make_open_order(store, dispatched_at=timezone.now() + timezone.timedelta(hours=1))
    wire = RedisTaskWire(app, redis_client.Redis.from_url(redis.url))

    assert wire.push(assign_incoming_order_task, [order.pk], {"tenant_id": str(tenant.pk)})

    wait_for(lambda: settled(tenant, [order.pk]), what=lambda: f"the order to be assigned\n{worker_log(worker)}")
    with tenant_context(tenant):
        assert IncomingOrder.objects.get(pk=order.pk).status == "assigned"
    wire.close()
