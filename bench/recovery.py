#!/usr/bin/env python
"""Benchmark of recovery (issue 15, not a test): how fast orders and callbacks recover after a worker is
killed with kill -9 and after a broker outage, with nothing lost or doubled.

    DATABASE_URL=postgres://p2p_app:p2p_app@127.0.0.1:5432/p2p_bench_recovery .venv/bin/python bench/recovery.py \\
        [--seconds 40] [--rate 10] [--threads 8] [--kill-at 6] [--restart-after 5] [--redis-at 22] [--redis-down 15]

PostgreSQL only, on a scratch database (it migrates it and adds a tenant named "bench recovery-…"). It
starts its own redis-server on a free port (the broker it stops and starts again: never a shared one),
gunicorn (2 workers), one `celery worker --concurrency 2` serving every queue, `celery beat`, and a
callback receiver on 127.0.0.1 that checks every signature. THREADS threads send PayIns through the store
API at RATE orders/s in all for SECONDS seconds. Meanwhile:

- at KILL_AT s the worker is killed with SIGKILL, parent and pool children at once, and started again
  RESTART_AFTER s later;
- at REDIS_AT s the redis-server is stopped, and started again (empty, as after a crash without
  persistence) REDIS_DOWN s later.

Then it waits for every order to be assigned and every callback delivered, and prints the table of the
issue: orders in flight at the kill (created, not assigned) — when the last and the 90th percentile were
assigned, counted from the moment the new worker was ready; orders accepted while Redis was down — when
they were assigned, counted from Redis's return, and their create → assigned p50; callback events
dispatched in the 3 s before the kill and pending at it — when they were delivered, from the new worker's
readiness. And a census: every 201 answer's order in the database, one order_history row per assigned
order, the ledger exact (payments.selectors.ledger), every event delivered with a verified signature.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import (  # noqa: E402
    build_market,
    configure_environment,
    free_port,
    percentile,
    refuse_foreign_open_orders,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=10, help="PayIns per second, all threads together")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=6)
    parser.add_argument("--restart-after", type=float, default=5)
    parser.add_argument("--redis-at", type=float, default=22)
    parser.add_argument("--redis-down", type=float, default=15)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for everything to settle")
    parser.add_argument("--workers", choices=("single", "per-queue"), default="single",
                        help="one worker (concurrency 2) serving every queue, or a worker per queue (the README's "
                             "production layout); the kill hits every worker")
    return parser.parse_args()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class OwnRedis:
    """The bench's own redis-server on a free port, stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        sys.exit("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def start_process(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "a") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_group(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# --workers per-queue: the README's production layout, a worker per queue, so callbacks to stores never delay
# assignment (the concurrency adds up to about the single worker's).
PER_QUEUE = (("assignment", "assignment", 1), ("callbacks", "callbacks", 1), ("sweeps", "sweeps,celery", 1))


def start_workers(env: dict, workdir: Path, name: str, layout: str) -> tuple[list[subprocess.Popen], float]:
    """The worker(s) of the layout, and the time.time() the last said it was ready."""
    if layout == "single":
        worker, ready = start_worker(env, workdir, name)
        return [worker], ready
    started = [start_worker(env, workdir, f"{name}-{label}", queues=queues, concurrency=concurrency)
               for label, queues, concurrency in PER_QUEUE]
    return [worker for worker, _ in started], max(ready for _, ready in started)


def start_worker(env: dict, workdir: Path, name: str, *, queues: str = "",
                 concurrency: int = 2) -> tuple[subprocess.Popen, float]:
    """A worker serving `queues` (every queue when empty), and the time.time() it said it was ready."""
    log_path = workdir / f"{name}.log"
    proc = start_process([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
                          "--concurrency", str(concurrency), "-l", "info", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
                          *(["-Q", queues] if queues else [])],
                         {**env, "LOG_LEVEL": "INFO"}, log_path)  # Celery's "ready." line is INFO
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in log_path.read_text():
            return proc, time.time()
        if proc.poll() is not None:
            sys.exit(f"the worker exited:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.05)
    sys.exit("the worker was not ready within 60 s")


def start_gunicorn(env: dict, workdir: Path) -> tuple[subprocess.Popen, int]:
    import socket

    port = free_port()
    proc = start_process([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                          "--workers", "2", "--timeout", "60", "--log-level", "warning"], env, workdir / "web.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start")


class Load:
    """THREADS threads POSTing PayIns at RATE/s in all; every 201 kept with the time it was answered."""

    def __init__(self, port: int, key: str, *, rate: float, threads: int, seconds: float) -> None:
        self.url, self.key = f"http://127.0.0.1:{port}/api/v1/payins", key
        self.interval = threads / rate
        self.end = time.monotonic() + seconds
        self.accepted: list[tuple[str, float]] = []  # (the order's id in the API, time.time() of the answer)
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int) -> None:
        import httpx

        time.sleep(index * self.interval / len(self.threads))
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < self.end:
                started = time.monotonic()
                body = {"amount_fiat": "1500.00", "client_id": f"r-{uuid.uuid4().hex[:12]}", "method": "card"}
                try:
                    answer = client.post(self.url, json=body, headers={
                        "Authorization": f"Bearer {self.key}", "Idempotency-Key": uuid.uuid4().hex})
                    outcome = str(answer.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self.lock:
                    if outcome == "201":
                        self.accepted.append((answer.json()["id"], time.time()))
                    else:
                        self.failures[outcome] = self.failures.get(outcome, 0) + 1
                time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


def order_rows(tenant_id) -> dict[str, dict]:
    """incoming order hash id (the API's `id`) → its created_at, status and assignment time (epoch seconds)."""
    from django.db import connection

    from tenancy.scoping import tenant_context

    with tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute("""SELECT o.hash_id, o.created_at, o.status, h.created_at FROM incoming_orders o
                          LEFT JOIN order_history h ON h.incoming_order_id = o.id WHERE o.tenant_id = %s""",
                       [tenant_id])
        return {row[0]: {"created": row[1].timestamp(), "status": row[2],
                         "assigned": row[3].timestamp() if row[3] else None} for row in cursor.fetchall()}


def event_rows(tenant_id) -> dict[int, dict]:
    from payments.models import CallbackEvent
    from tenancy.scoping import tenant_context

    with tenant_context(tenant_id):
        return {row["pk"]: row for row in CallbackEvent.objects.values(
            "pk", "event_id", "status", "created_at", "delivered_at", "attempts", "dispatched_at")}


def settled(tenant_id) -> tuple[int, int]:
    from payments.models import CallbackEvent, IncomingOrder
    from tenancy.scoping import tenant_context

    with tenant_context(tenant_id):
        return (IncomingOrder.objects.filter(status__in=["new", "retrying", "processing"]).count(),
                CallbackEvent.objects.filter(status="pending").count())


def main() -> None:
    args = parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/recovery.py runs on PostgreSQL: set DATABASE_URL to a scratch database")
    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    redis = OwnRedis()
    redis.start()
    env = configure_environment(redis.url)
    env.update({"REDIS_URL": redis.url, "CALLBACK_ALLOW_PRIVATE_HOSTS": "127.0.0.1", "LOG_LEVEL": "INFO",
                "STORE_API_RATE_LIMIT": "100000/min", "ALLOWED_HOSTS": "127.0.0.1,localhost",
                # the settings' own leases and sweep intervals, not bench/assignment.py's
                "ASSIGNMENT_DISPATCH_LEASE_SECONDS": os.environ.get("ASSIGNMENT_DISPATCH_LEASE_SECONDS", "10")})
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    refuse_foreign_open_orders()

    from payments.models import MerchantStore
    from payments.selectors.ledger import verify_tenant_ledger
    from payments.services import merchants
    from payments.tests.callback_receiver import Receiver
    from tenancy.scoping import tenant_context

    market = build_market("recovery", 40, limits=False)
    tenant_id = market.tenant.pk
    receiver = Receiver()
    with tenant_context(tenant_id):
        MerchantStore.objects.filter(pk=market.store.pk).update(callback_url=receiver.url)
        store = MerchantStore.objects.get(pk=market.store.pk)
        receiver.secret = store.secret_key
        key = merchants.rotate_store_keys(store=store)

    web = beat = None
    workers: list[subprocess.Popen] = []
    try:
        web, port = start_gunicorn(env, workdir)
        beat = start_process([sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info",
                              "--schedule", str(workdir / "beat-schedule")], env, workdir / "beat.log")
        workers, _ = start_workers(env, workdir, "worker-1", args.workers)
        log(f"gunicorn :{port}, beat, workers {args.workers}, redis :{redis.port}; load {args.rate}/s from "
            f"{args.threads} threads for {args.seconds:g} s")
        started = time.monotonic()
        load = Load(port, key, rate=args.rate, threads=args.threads, seconds=args.seconds)

        def at(seconds: float) -> None:
            time.sleep(max(0.0, started + seconds - time.monotonic()))

        at(args.kill_at)
        kill_time = time.time()
        for worker in workers:
            os.killpg(worker.pid, signal.SIGKILL)
        for worker in workers:
            worker.wait(timeout=10)
        rows = order_rows(tenant_id)
        in_flight = [pk for pk, row in rows.items() if row["assigned"] is None]
        events_before_kill = [pk for pk, row in event_rows(tenant_id).items()
                              if row["status"] == "pending" and row["created_at"].timestamp() >= kill_time - 3]
        log(f"worker killed (kill -9 of its process group): {len(in_flight)} orders not assigned, "
            f"{len(events_before_kill)} events of the last 3 s pending")
        at(args.kill_at + args.restart_after)
        workers, worker_ready = start_workers(env, workdir, "worker-2", args.workers)
        log(f"worker started again, ready {worker_ready - kill_time:.1f} s after the kill")

        at(args.redis_at)
        redis.stop()
        redis_down = time.time()
        log("redis stopped")
        at(args.redis_at + args.redis_down)
        redis.start()
        redis_up = time.time()
        log("redis started again (empty)")

        load.join()
        log(f"load done: {len(load.accepted)} accepted, failures {load.failures or 'none'}")
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and any(settled(tenant_id)):
            time.sleep(0.5)
        left = settled(tenant_id)

        rows = order_rows(tenant_id)
        events = event_rows(tenant_id)
        accepted_ids = [pk for pk, _ in load.accepted]
        during_outage = [pk for pk, answered in load.accepted if redis_down <= answered <= redis_up]

        def after(ids, origin, field="assigned", table=rows):
            values = [table[pk][field] - origin for pk in ids if table[pk][field] is not None]
            return values, len(ids) - len(values)

        kill_after, kill_missing = after(in_flight, worker_ready)
        outage_after, outage_missing = after(during_outage, redis_up)
        create_to_assigned = [rows[pk]["assigned"] - rows[pk]["created"] for pk in during_outage
                              if rows[pk]["assigned"] is not None]
        delivered = {pk: (row["delivered_at"].timestamp() if row["delivered_at"] else None)
                     for pk, row in events.items()}
        callback_after = [delivered[pk] - worker_ready for pk in events_before_kill if delivered[pk] is not None]

        def fig(values, missing):
            if not values:
                return "none" if not missing else f"{missing} never"
            text = f"all by {max(values):.1f} s (90 % by {percentile(sorted(values), 0.9):.1f} s)"
            return text + (f", {missing} never" if missing else "")

        print()
        print("| what | count | measured |")
        print("|---|---|---|")
        print(f"| orders in flight at the kill, assigned after the worker is back (ready) | {len(in_flight)} | "
              f"{fig(kill_after, kill_missing)} |")
        p50 = f"{percentile(sorted(create_to_assigned), 0.5):.1f}" if create_to_assigned else "–"
        print(f"| orders accepted while Redis was down, assigned after it is back | {len(during_outage)} | "
              f"{fig(outage_after, outage_missing)}; p50 create→assigned {p50} s |")
        print(f"| callback events dispatched in the 3 s before the kill, delivered after a worker is back | "
              f"{len(events_before_kill)} | {fig(callback_after, len(events_before_kill) - len(callback_after))} |")
        print()
        # census
        history = {}
        from django.db import connection

        with tenant_context(tenant_id), connection.cursor() as cursor:
            cursor.execute("SELECT incoming_order_id, count(*) FROM order_history WHERE tenant_id = %s "
                           "GROUP BY incoming_order_id", [tenant_id])
            history = dict(cursor.fetchall())
            ledger = verify_tenant_ledger(tenant_id)
        lost = [pk for pk in accepted_ids if pk not in rows]
        doubled = [pk for pk, n in history.items() if n > 1]
        unverified = sum(1 for request in receiver.requests if not request.verified)
        received = {request.headers.get("X-Event-Id") for request in receiver.requests}
        undelivered = [pk for pk, row in events.items() if str(row["event_id"]) not in received]
        statuses: dict[str, int] = {}
        for pk in accepted_ids:
            statuses[rows.get(pk, {}).get("status", "missing")] = statuses.get(
                rows.get(pk, {}).get("status", "missing"), 0) + 1
        print(f"census: {len(accepted_ids)} orders answered 201, statuses {statuses}; lost {len(lost)}, "
              f"with two order_history rows {len(doubled)}, still open {left[0]}; {len(events)} callback events, "
              f"pending {left[1]}, never received {len(undelivered)}, signatures not verified {unverified}, "
              f"requests {len(receiver.requests)}; ledger differences {len(ledger.differences)}")
        print(f"(times: the kill at {datetime.fromtimestamp(kill_time, UTC):%H:%M:%S}, logs in {workdir})")
    finally:
        for proc in (*workers, beat, web):
            stop_group(proc)
        redis.stop()
        receiver.close()


if __name__ == "__main__":
    main()
