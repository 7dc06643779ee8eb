"""Recovery in seconds (issue 15): real Celery worker processes (prefork, concurrency 2, embedded beat) on a
redis-server of the test's own, the real intake in a process of its own sending orders all along, and a
real callback receiver on 127.0.0.1 that answers slowly, so assignments and deliveries are in flight.

- kill -9 of the whole worker (parent and pool children) while it holds claims: a new worker assigns
  every order and delivers every callback; the orders the dead worker had claimed come back through
  their claim lease (the dispatch lease is an hour here, so nothing else could bring them back).
- Redis stopped under load and started again empty: every order accepted meanwhile (its hint dropped,
  the row given back at once) and every one whose message Redis lost is assigned, every event delivered.

Each ends with a census: every accepted order assigned once (one order_history row, one order.assigned
event, one audit entry), the ledger exact, every event delivered with a verified signature. The bounds are
generous correctness bounds (the figures are bench/recovery.py's). Every wait is bounded; every process
the test starts is killed in a `finally`.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from audit.models import AuditLog
from payments.models import CallbackEvent, IncomingOrder, OrderHistory
from payments.selectors.ledger import verify_tenant_ledger
from tenancy.scoping import tenant_context

from .api_support import fresh_rate
from .assignment_support import RATE, make_funded_requisite
from .broker_support import RedisServer, wait_for
from .callback_receiver import Receiver
from .factories import make_reference_data, make_store
from .test_assignment_faults import ROOT, Intake, environment, stop_process_group

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

# Seconds after the worker / Redis is back: a correctness bound, not the speed target (10 s orders, 30 s callbacks,
# which bench/recovery.py measures): CI machines are shared and a loaded one must not turn this red.
RECOVERY_BOUND = 120
LOAD_BATCH = 2  # orders per intake call, every LOAD_PAUSE seconds: about what two processes keep up with
LOAD_PAUSE = 0.25


def recovery_environment(redis: RedisServer) -> dict:
    """Short claims and sweeps, and dispatch leases of an hour: only the claim and the give-back can recover."""
    return {**environment(redis), "ASSIGNMENT_DISPATCH_LEASE_SECONDS": "3600", "CALLBACK_DISPATCH_LEASE_SECONDS":
            "3600", "ASSIGNMENT_CLAIM_LEASE_SECONDS": "2", "CALLBACK_CLAIM_LEASE_SECONDS": "3",
            "ASSIGNMENT_SWEEP_SECONDS": "1", "CALLBACK_SWEEP_SECONDS": "1", "ASSIGNMENT_MAX_ATTEMPTS": "10",
            "CALLBACK_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}


class Worker:
    """`celery worker -B` (prefork, concurrency 2, all queues: no -Q, as `make worker`) in a session of its own."""

    def __init__(self, redis: RedisServer, workdir: Path, name: str):
        self.log_path = workdir / f"{name}.log"
        celery = ROOT / ".venv/bin/celery"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [str(celery) if celery.exists() else "celery", "-A", "config", "worker", "--pool", "prefork",
                 "--concurrency", "2", "-B", "--schedule", str(workdir / f"{name}-beat"), "-l", "info",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h"],
                cwd=ROOT, env=recovery_environment(redis), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_for(lambda: self.proc.poll() is not None or " ready." in self.log_path.read_text(),
                 what=lambda: f"the worker to be ready\n{self.log()}", timeout=60)
        assert self.proc.poll() is None, f"the worker exited\n{self.log()}"

    def log(self) -> str:
        """What a failure needs: the broker's comings and goings and the last lines."""
        lines = self.log_path.read_text().splitlines()
        events = [line for line in lines if any(word in line for word in (
            "Connected to", "Cannot connect", "Connection to broker lost", " ready.", "Trying again"))]
        return "\n".join(events[-30:] + ["…"] + lines[-40:])

    def kill_all(self) -> None:
        """SIGKILL to the parent and every pool child at once: nothing gets to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process_group(self.proc)


class Load:
    """Orders through the real intake from a thread, LOAD_BATCH every LOAD_PAUSE seconds, until stopped."""

    def __init__(self, intake: Intake):
        self.intake, self.accepted, self.errors = intake, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted += self.intake.accept(LOAD_BATCH)
            except AssertionError as exc:
                self.errors.append(str(exc))
                return
            time.sleep(LOAD_PAUSE)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self.errors, self.errors
        return self.accepted


@pytest.fixture
def setting(tenant):
    """A store whose callbacks go to a slow local receiver, and requisites enough for every order."""
    receiver = Receiver(delay_seconds=0.02)
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs, callback_url=receiver.url)[0]
        receiver.secret = store.secret_key
        fresh_rate(refs, RATE)
        for _ in range(3):
            make_funded_requisite(refs, crypto=Decimal("100000"))
    try:
        yield store, receiver
    finally:
        receiver.close()


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="recovery-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def all_assigned(tenant, orders) -> bool:
    with tenant_context(tenant):
        return IncomingOrder.objects.filter(pk__in=orders, status="assigned").count() == len(orders)


def all_delivered(tenant, orders) -> bool:
    with tenant_context(tenant):
        events = CallbackEvent.objects.filter(incoming_order__in=orders)
        return (events.filter(status="delivered").count() == 2 * len(orders)
                and events.count() == 2 * len(orders))


def claims_held(tenant) -> tuple[list[int], list[int]]:
    """Open orders and pending events a worker has claimed (and not finished) right now."""
    now = timezone.now()
    with tenant_context(tenant):
        orders = list(IncomingOrder.objects.filter(status__in=["new", "retrying"], dispatched_at__isnull=True,
                                                   next_attempt_at__gt=now).values_list("pk", flat=True))
        events = list(CallbackEvent.objects.filter(status="pending", dispatched_at__isnull=True,
                                                   next_attempt_at__gt=now).values_list("pk", flat=True))
    return orders, events


def catch_claims(tenant, worker: "Worker") -> tuple[list[int], list[int]]:
    """Wait (up to 10 s) for a moment the worker holds claims on orders and events both; failing that, (up to
    20 s more) for any claim at all."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = claims_held(tenant)
        if all(held):
            return held
        time.sleep(0.01)
    return wait_for(lambda: any(claims_held(tenant)) and claims_held(tenant),
                    what=lambda: f"the worker to hold claims\n{worker.log()}", timeout=20)


def census(tenant, orders: list[int], receiver: Receiver) -> None:
    """Every order assigned exactly once, the ledger exact, every event delivered, signed and verified."""
    assert len(set(orders)) == len(orders)
    with tenant_context(tenant):
        assert Counter(IncomingOrder.objects.filter(pk__in=orders).values_list("status", flat=True)) == {
            "assigned": len(orders)}
        per_order = OrderHistory.objects.filter(incoming_order__in=orders).values("incoming_order").annotate(
            n=Count("id"))
        assert sorted(row["incoming_order"] for row in per_order) == sorted(orders)
        assert {row["n"] for row in per_order} == {1}
        kinds = Counter(CallbackEvent.objects.filter(incoming_order__in=orders).values_list("event_type", flat=True))
        assert kinds == {"order.created": len(orders), "order.assigned": len(orders)}
        event_ids = {str(e) for e in CallbackEvent.objects.filter(incoming_order__in=orders)
                     .values_list("event_id", flat=True)}
        assert verify_tenant_ledger(tenant.pk).differences == []
    assert AuditLog.objects.filter(action="order.assigned", target_id__in=[str(pk) for pk in orders]).values(
        "target_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    received = {request.headers.get("X-Event-Id") for request in receiver.requests}
    assert event_ids <= received
    assert all(request.verified for request in receiver.requests)


def test_a_whole_worker_killed_under_load_loses_and_doubles_nothing(tenant, setting, workdir):
    store, receiver = setting
    redis = RedisServer()
    redis.start()
    intake = Intake(redis, tenant, store)
    worker = Worker(redis, workdir, "first")
    second = None
    try:
        load = Load(intake)
        # when: kill -9 of every process of the worker while it holds claims — on orders and events when the
        # moment comes (an order's claim lasts milliseconds on a quiet machine), else on what it holds
        held = catch_claims(tenant, worker)
        worker.kill_all()
        time.sleep(1)
        accepted_meanwhile = len(load.accepted)
        second = Worker(redis, workdir, "second")
        time.sleep(1)
        orders = load.stop()

        # then: every order assigned, every callback delivered, within the bound of the new worker
        wait_for(lambda: all_assigned(tenant, orders) and all_delivered(tenant, orders),
                 what=lambda: f"every order assigned and every event delivered\n{second.log()}",
                 timeout=RECOVERY_BOUND)
    finally:
        intake.close()
        for running in (worker, second):
            if running is not None:
                running.stop()
        redis.stop()
    claimed_orders, claimed_events = held
    assert set(claimed_orders) <= set(orders) and accepted_meanwhile < len(orders)
    census(tenant, orders, receiver)
    with tenant_context(tenant):  # what the dead worker held came back, each delivered once it did
        assert CallbackEvent.objects.filter(pk__in=claimed_events, status="delivered").count() == len(claimed_events)


def test_redis_stopped_under_load_loses_and_doubles_nothing(tenant, setting, workdir):
    store, receiver = setting
    redis = RedisServer()
    redis.start()
    intake = Intake(redis, tenant, store)
    worker = Worker(redis, workdir, "worker")
    try:
        load = Load(intake)
        time.sleep(1)
        # when: Redis goes away for a few seconds and comes back empty, orders coming in all along
        redis.stop()
        before_outage = len(load.accepted)
        time.sleep(3)
        during_outage = len(load.accepted) - before_outage
        redis.start()
        time.sleep(1)
        orders = load.stop()

        # then
        wait_for(lambda: all_assigned(tenant, orders) and all_delivered(tenant, orders),
                 what=lambda: f"every order assigned and every event delivered\n{worker.log()}",
                 timeout=RECOVERY_BOUND)
    finally:
        intake.close()
        worker.stop()
        redis.stop()
    assert during_outage > 0  # intake kept accepting while the broker was away
    census(tenant, orders, receiver)
