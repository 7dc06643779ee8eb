"""Benchmark of the store API intake (POST /api/v1/payins) against two baselines on the same database.

    DATABASE_URL=postgres://user:pass@127.0.0.1:5432/p2p_bench .venv/bin/python bench/intake.py

What one run does:
1. refuses anything but PostgreSQL; migrates the database; creates (or reuses) a bench tenant with
   reference data, a merchant, a store with a fresh key, and a fresh exchange rate;
2. starts the app under gunicorn (same config for everything), with bench.settings so the
   bare-DRF baseline view is mounted, DEBUG off, persistent database connections, a rate limit
   far above the load, and the Celery broker on Redis when one answers (else in-memory), so the
   assignment task is only sent, as in production, never run inside the request;
3. for each concurrency (16 and 64 connections) drives with wrk, in rounds (three of 8 s by default, the
   targets taken in turn so that the VM's drifting speed shifts them alike):
   - the intake: POST /api/v1/payins, each request with its own Idempotency-Key and client_id;
   - the bare DRF view: POST /api/v1/bench/bare (JSON in, one INSERT, JSON out);
   - the intake's writes alone: POST /api/v1/bench/writes, the very statement an intake request sends
     (the key's answer row and the order row, under row-level security) and nothing else, so its ratio
     to the bare view is the most any intake doing these writes could reach (bench/bare_view.py);
   and runs pgbench with one single-row INSERT per transaction into a table of the same shape;
4. prints requests/s, p50/p99 latency, errors and CPU per request (gunicorn's and PostgreSQL's, from
   /proc, when they run here, and the whole machine's) of each, the ratios intake/bare-DRF,
   writes-only/bare-DRF and intake/pgbench, where the intake's extra CPU goes (and the ratio
   PostgreSQL's extra work per order alone would allow), and checks that every order the intake
   accepted (201) is in the database.

Targets on the 2-core machine: intake ≥ 0.8 × bare DRF, p99 < 100 ms at 64 connections, zero errors.
Needs wrk and pgbench (Debian: apt-get install -y wrk postgresql-client).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_TENANT = "Bench Operator"
BARE_TABLE = "bench_bare_rows"
PGBENCH_TABLE = "bench_pgbench_rows"
TABLE_SHAPE = """(
    id bigserial PRIMARY KEY,
    client_id varchar(128) NOT NULL,
    amount_fiat numeric(20, 2) NOT NULL,
    status varchar(16) NOT NULL,
    created_at timestamptz NOT NULL
)"""

WRK_SCRIPT = r"""
local run_id = "%(run_id)s"
local out_dir = "%(out_dir)s"
local counter = 0
local threads = {}
local id_file = nil

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  id_file = io.open(string.format("%%s/ids-%%s-%%d.txt", out_dir, run_id, tid), "w")
end

function request()
  counter = counter + 1
  local n = string.format("%%s-%%d-%%d", run_id, tid, counter)
  local body = string.format('{"amount_fiat": "1500.00", "client_id": "c-%%s", '
    .. '"customer_id": "cust-%%d", "method": "card"}', n, counter %% 997)
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer %(key)s"
  headers["Idempotency-Key"] = "k-" .. n
  return wrk.format("POST", "%(path)s", headers, body)
end

function response(status, headers, body)
  if status == 201 and id_file ~= nil then
    local id = string.match(body, '"id":%%s*"?([%%w_%%-]+)"?')
    if id then id_file:write(id, "\n") end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests": %%d, "seconds": %%.6f, "p50_us": %%d, "p99_us": %%d, '
    .. '"max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


HTTP_RUNS = (("intake", "/api/v1/payins"), ("bare DRF", "/api/v1/bench/bare"), ("writes only", "/api/v1/bench/writes"))


def die(message: str) -> None:
    print(f"bench/intake.py: {message}", file=sys.stderr)
    sys.exit(2)


# --- database and data ------------------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        for table in (BARE_TABLE, PGBENCH_TABLE):
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} {TABLE_SHAPE}")
            cursor.execute(f"TRUNCATE {table}")


def prepare_store() -> tuple[str, int, str]:
    """(tenant id, store id, raw private key): one bench tenant, reused across runs, with a fresh key and rate."""
    from django.utils import timezone

    from accounts.models import User
    from payments.models import (
        AvailableBankMethod,
        Bank,
        CryptoCurrency,
        ExchangeRate,
        FiatCurrency,
        Merchant,
        MerchantStore,
        PaymentMethod,
    )
    from payments.services import merchants
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    tenant, _ = Tenant.objects.get_or_create(name=BENCH_TENANT)
    with tenant_context(tenant):
        thb, _ = FiatCurrency.objects.get_or_create(code="THB", defaults={"name": "Thai baht"})
        usdt, _ = CryptoCurrency.objects.get_or_create(code="USDT", defaults={"name": "Tether"})
        bank, _ = Bank.objects.get_or_create(name="Kasikornbank")
        card, _ = PaymentMethod.objects.get_or_create(code="card", defaults={"name": "Card transfer"})
        AvailableBankMethod.objects.get_or_create(bank=bank, method=card)
        ExchangeRate.objects.create(fiat_currency=thb, crypto_currency=usdt, rate=Decimal("36.5"), source="bench",
                                    fetched_at=timezone.now())
        store = MerchantStore.objects.filter(store_name="Bench Store").first()
        if store is None:
            user = User.objects.filter(email="bench-merchant@bench.local").first() or User.objects.create_user(
                email="bench-merchant@bench.local", password=uuid.uuid4().hex, full_name="Bench Merchant",
                status=User.Status.ACTIVE)
            merchant = Merchant.objects.filter(user=user).first() or merchants.create_merchant(
                tenant=tenant, user=user, first_name="Bench", last_name="Merchant")
            store, key = merchants.create_store(merchant=merchant, store_name="Bench Store", crypto_currency=usdt,
                                                fiat_currency=thb, lower_limit=Decimal("100"),
                                                upper_limit=Decimal("100000"), pay_in_commission_percent=Decimal("2"))
        else:
            key = merchants.rotate_store_keys(store=store)
    return str(tenant.pk), store.pk, key


def count_orders(tenant_id: str, store_id: int) -> int:
    from payments.models import IncomingOrder
    from tenancy.scoping import tenant_context

    with tenant_context(tenant_id):
        return IncomingOrder.objects.filter(store_id=store_id).count()


def missing_orders(tenant_id: str, hash_ids: list[str]) -> int:
    from payments.models import IncomingOrder
    from tenancy.scoping import tenant_context

    found = 0
    with tenant_context(tenant_id):
        for start in range(0, len(hash_ids), 5000):
            chunk = hash_ids[start:start + 5000]
            found += IncomingOrder.objects.filter(hash_id__in=chunk).count()
    return len(hash_ids) - found


def count_rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


# --- CPU per request (Linux /proc; the database on this machine) -------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _tree_cpu_seconds(root: int) -> float:
    """CPU of `root`, of its live children, and of the children it has reaped (user + system)."""
    ticks = 0
    stat = _stat(root)
    if stat is not None:
        ticks += sum(int(value) for value in stat[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        child = _stat(int(entry.name)) if entry.name.isdigit() else None
        if child is not None and int(child[1]) == root:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (the parent of our backend)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = _stat(cursor.fetchone()[0])
    return int(stat[1]) if stat is not None else None


def _machine_cpu_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU spent during one load run, per request: by gunicorn (master and workers), by PostgreSQL (all
    its processes) and by the whole machine (every core: those two, wrk, Redis, the kernel). Steadier than
    requests/s on a machine whose speed drifts, and it says where a request's cost lies. A column stays
    empty for a process tree that is not on this machine."""

    def __init__(self, server: subprocess.Popen | None) -> None:
        self.roots = {"app_cpu_ms": server.pid if server is not None else None, "db_cpu_ms": _postmaster_pid()}
        self.before = {name: _tree_cpu_seconds(pid) for name, pid in self.roots.items() if pid is not None}
        self.machine_before = _machine_cpu_seconds()

    def per_request(self, requests: int) -> dict:
        scale = 1000 / max(requests, 1)
        figures = {name: (_tree_cpu_seconds(self.roots[name]) - self.before[name]) * scale
                   if name in self.before else None for name in self.roots}
        figures["machine_cpu_ms"] = (_machine_cpu_seconds() - self.machine_before) * scale
        return figures


def cost_gap(intake: dict, bare: dict) -> str:
    """Where the intake's extra CPU per request goes, and the ratio PostgreSQL's share alone allows.

    Under this closed-loop load the machine is saturated, so requests/s ≈ cores ÷ machine CPU per request:
    even an intake whose app side cost no more than the bare view's could reach at most
    bare / (bare + PostgreSQL's extra) of the bare view's requests/s.
    """
    parts = [f"machine {intake['machine_cpu_ms']:.2f} vs {bare['machine_cpu_ms']:.2f} ms"]
    if intake["app_cpu_ms"] is not None and bare["app_cpu_ms"] is not None:
        parts.append(f"gunicorn +{intake['app_cpu_ms'] - bare['app_cpu_ms']:.2f}")
    if intake["db_cpu_ms"] is None or bare["db_cpu_ms"] is None:
        return "; ".join(parts)
    db_extra = intake["db_cpu_ms"] - bare["db_cpu_ms"]
    accounted = sum(intake[name] - bare[name] for name in ("app_cpu_ms", "db_cpu_ms")
                    if intake[name] is not None and bare[name] is not None)
    other = intake["machine_cpu_ms"] - bare["machine_cpu_ms"] - accounted
    parts += [f"PostgreSQL +{db_extra:.2f}", f"the rest (wrk, Redis, kernel) {other:+.2f}"]
    ceiling = bare["machine_cpu_ms"] / (bare["machine_cpu_ms"] + db_extra)
    return "; ".join(parts) + f" → PostgreSQL's extra alone caps intake / bare DRF at {ceiling:.2f}"


# --- the server ------------------------------------------------------------------------------------------


def broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/14"
    except OSError:
        pass
    return "memory://"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_url: str, port: int, workers: int, broker: str, store_id: int) -> subprocess.Popen:
    from django.conf import settings

    # The same keys as this process: the store key's digest and the encrypted fields depend on them.
    env = {
        **os.environ,
        "DATABASE_URL": database_url + ("&" if "?" in database_url else "?") + "conn_max_age=600",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, as behind a proxy that ends TLS
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "bench.settings",  # the app's settings plus the baseline views' URLs
        "BENCH_STORE_ID": str(store_id),
        "STORE_API_RATE_LIMIT": "100000000/min",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "ERROR",
    }
    if broker.startswith("redis://"):
        env.setdefault("REDIS_URL", broker)
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "sync", "--backlog", "2048", "--timeout", "60",
               "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            die("gunicorn exited at start-up.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    die("gunicorn did not start listening within 60 s.")
    raise AssertionError  # unreachable


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- load generators ------------------------------------------------------------------------------------


def run_wrk(*, port: int, path: str, key: str, connections: int, seconds: int, out_dir: str, run_id: str) -> dict:
    script = Path(out_dir) / f"{run_id}.lua"
    script.write_text(WRK_SCRIPT % {"run_id": run_id, "out_dir": out_dir, "key": key, "path": path})
    command = ["wrk", "--threads", "2", "--connections", str(connections), "--duration", f"{seconds}s",
               "--timeout", "10s", "--latency", "--script", str(script), f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT "))
    result = json.loads(line.removeprefix("WRK_RESULT "))
    errors = result["connect"] + result["read"] + result["write"] + result["status"] + result["timeout"]
    ids = []
    for id_file in Path(out_dir).glob(f"ids-{run_id}-*.txt"):
        ids.extend(line for line in id_file.read_text().split() if line)
    return {"rps": result["requests"] / result["seconds"], "seconds": result["seconds"],
            "p50_ms": result["p50_us"] / 1000,
            "p99_ms": result["p99_us"] / 1000, "errors": errors, "requests": result["requests"],
            "accepted_ids": ids}


def run_pgbench(*, database_url: str, connections: int, seconds: int, out_dir: str) -> dict:
    parts = urlsplit(database_url)
    script = Path(out_dir) / "insert.sql"
    script.write_text(f"INSERT INTO {PGBENCH_TABLE} (client_id, amount_fiat, status, created_at) "
                      "VALUES ('c-' || :client_id, 1500.00, 'new', now());\n")
    prefix = Path(out_dir) / f"pgbench-{connections}"
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    command = ["pgbench", "-n", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
               "-U", parts.username or "postgres", "-c", str(connections), "-j", "2", "-T", str(seconds),
               "-f", str(script), "-l", "--log-prefix", str(prefix), parts.path.lstrip("/")]
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=out_dir).stdout
    tps = next(float(line.split("=")[1].split()[0]) for line in output.splitlines() if line.startswith("tps = "))
    failed = next((int(line.split(":")[1].split()[0]) for line in output.splitlines()
                   if line.strip().startswith("number of failed transactions")), 0)
    latencies = []
    for log in Path(out_dir).glob(f"{prefix.name}*"):
        latencies.extend(int(line.split()[2]) for line in log.read_text().splitlines() if line.strip())
    latencies.sort()
    return {"rps": tps, "p50_ms": percentile(latencies, 50) / 1000, "p99_ms": percentile(latencies, 99) / 1000,
            "errors": failed, "requests": len(latencies)}


def measure_http(server: subprocess.Popen, args: argparse.Namespace, *, key: str, connections: int,
                 out_dir: str) -> tuple[dict[str, list[dict]], list[str]]:
    """Each HTTP target's measured runs, `args.rounds` of them taken in turn, so that a machine whose speed
    drifts shifts every target alike; and the ids of the orders the intake accepted (warm-up included)."""
    def load(path: str, seconds: int) -> dict:
        return run_wrk(port=args.port, path=path, key=key, connections=connections, seconds=seconds,
                       out_dir=out_dir, run_id=uuid.uuid4().hex[:8])

    rounds: dict[str, list[dict]] = {name: [] for name, _path in HTTP_RUNS}
    warm_ups = {name: [load(path, args.warmup)] if args.warmup else [] for name, path in HTTP_RUNS}
    for turn in range(args.rounds):
        first = turn % len(HTTP_RUNS)
        for name, path in HTTP_RUNS[first:] + HTTP_RUNS[:first]:
            meter = CpuMeter(server)
            result = load(path, args.seconds)
            rounds[name].append({**result, **meter.per_request(result["requests"])})
    return rounds, [order_id for run in warm_ups["intake"] + rounds["intake"] for order_id in run["accepted_ids"]]


def merge_rounds(runs: list[dict]) -> dict:
    """One figure per HTTP target from its rounds: requests/s and CPU per request over all of them, the
    median round's p50 and p99 (wrk gives percentiles, not the samples to merge), errors summed."""
    requests = sum(run["requests"] for run in runs)
    merged = {"requests": requests, "rps": requests / sum(run["seconds"] for run in runs),
              "errors": sum(run["errors"] for run in runs),
              "p50_ms": statistics.median(run["p50_ms"] for run in runs),
              "p99_ms": statistics.median(run["p99_ms"] for run in runs)}
    for name in ("app_cpu_ms", "db_cpu_ms", "machine_cpu_ms"):
        known = [run for run in runs if run[name] is not None]
        merged[name] = sum(run[name] * run["requests"] for run in known) / max(requests, 1) if known else None
    return merged


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def percentile(values: list[int], pct: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


# --- main -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured runs of each HTTP target per concurrency, taken in turn (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured warm-up before each run (default 3)")
    parser.add_argument("--connections", default="16,64", help="concurrencies to measure (default 16,64)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "4")),
                        help="gunicorn sync workers (default 4)")
    parser.add_argument("--port", type=int, default=0, help="port for gunicorn (default: a free one)")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        die("DATABASE_URL must point at PostgreSQL (postgres://user:pass@host:port/db); SQLite is not benchmarked.")
    for tool in ("wrk", "pgbench"):
        if shutil.which(tool) is None:
            die(f"{tool} is missing: apt-get install -y {'wrk' if tool == 'wrk' else 'postgresql-client'}")
    concurrencies = [int(c) for c in args.connections.split(",")]
    args.port = args.port or free_port()

    setup_django(database_url)
    prepare_database()
    tenant_id, store_id, key = prepare_store()
    broker = broker_url()
    orders_before = count_orders(tenant_id, store_id)
    print(f"bench: PostgreSQL {urlsplit(database_url).path.lstrip('/')}, gunicorn {args.workers} sync workers, "
          f"broker {broker.split('@')[-1]}, {args.rounds} rounds of {args.seconds}s per target (+{args.warmup}s "
          "warm-up), wrk 2 threads")
    print(f"bench: {os.cpu_count()} cores, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    results: dict[tuple[str, int], dict] = {}
    round_ratios: dict[int, list[dict[str, float]]] = {}
    accepted: list[str] = []
    server = start_gunicorn(database_url, args.port, args.workers, broker, store_id)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as out_dir:
            for connections in concurrencies:
                rounds, accepted_here = measure_http(server, args, key=key, connections=connections,
                                                     out_dir=out_dir)
                accepted.extend(accepted_here)
                for name, runs in rounds.items():
                    results[(name, connections)] = merge_rounds(runs)
                round_ratios[connections] = [
                    {name: rounds[name][turn]["rps"] / rounds["bare DRF"][turn]["rps"] for name in rounds}
                    for turn in range(args.rounds)]
                meter = CpuMeter(None)
                result = run_pgbench(database_url=database_url, connections=connections,
                                     seconds=args.seconds * args.rounds, out_dir=out_dir)
                results[("pgbench", connections)] = {**result, **meter.per_request(result["requests"])}
    finally:
        stop(server)

    print()
    print(f"bench: load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (the bench itself adds ~2-3)")
    print(f"{'connections':>11}  {'what':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'app CPU ms/req':>15} {'db CPU ms/req':>14} {'machine CPU ms/req':>19}")
    for connections in concurrencies:
        for name in [name for name, _path in HTTP_RUNS] + ["pgbench"]:
            r = results[(name, connections)]
            print(f"{connections:>11}  {name:<11} {r['rps']:>9.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                  f"{r['errors']:>7} {_ms(r['app_cpu_ms']):>15} {_ms(r['db_cpu_ms']):>14} "
                  f"{_ms(r['machine_cpu_ms']):>19}")
    print()
    verdicts = []
    for connections in concurrencies:
        intake, bare, writes, pg = (results[(name, connections)]
                                    for name in ("intake", "bare DRF", "writes only", "pgbench"))
        vs_bare, vs_pg = intake["rps"] / bare["rps"], intake["rps"] / pg["rps"]
        print(f"{connections:>3} connections: intake / bare DRF = {vs_bare:.2f}, intake / pgbench = {vs_pg:.3f}")
        print(f"    writes only / bare DRF = {writes['rps'] / bare['rps']:.2f} (the most an intake doing these writes "
              f"can reach), intake / writes only = {intake['rps'] / writes['rps']:.2f}")
        for name in ("intake", "writes only"):
            print(f"    {name} / bare DRF in each round: "
                  + ", ".join(f"{ratios[name]:.2f}" for ratios in round_ratios[connections]))
        print(f"    CPU per request, intake vs bare DRF: {cost_gap(intake, bare)}")
        verdicts.append(("intake ≥ 0.8 × bare DRF at " + str(connections), vs_bare >= 0.8))
        verdicts.append((f"zero errors at {connections}",
                         all(results[(name, connections)]["errors"] == 0 for name, _path in HTTP_RUNS)))
    if 64 in concurrencies:
        verdicts.append(("p99 < 100 ms at 64 (intake)", results[("intake", 64)]["p99_ms"] < 100))

    orders_after = count_orders(tenant_id, store_id)
    lost = missing_orders(tenant_id, accepted)
    print(f"accepted (201) orders: {len(accepted)}; in the database: {len(accepted) - lost}; missing: {lost}; "
          f"store rows added during the run: {orders_after - orders_before}")
    print(f"bare rows: {count_rows(BARE_TABLE)}, pgbench rows: {count_rows(PGBENCH_TABLE)}")
    verdicts.append(("every accepted order is in the database", lost == 0))
    print()
    for label, ok in verdicts:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    if broker.startswith("redis://") and "/14" in broker:
        subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], capture_output=True, check=False)


if __name__ == "__main__":
    main()
