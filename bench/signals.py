#!/usr/bin/env python
"""Benchmark of signal trading (issue 17, not a test): TradingView-style webhook → entry order acknowledged by
the exchange, for ACCOUNTS accounts on the fake Binance USDⓈ-M (LATENCY s added to every exchange answer).

    DATABASE_URL=postgres://p2p_app:p2p_app@127.0.0.1:5432/<scratch db> .venv/bin/python bench/signals.py \\
        [--accounts 100] [--rate 50] [--seconds 30] [--latency 0.02] [--workers 2] [--pool threads] \\
        [--concurrency 8] [--threads 16]

PostgreSQL only, on a scratch database (it migrates it and adds a tenant named "bench signals-…"). It starts
its own redis-server on a free port (the broker; never the shared one), gunicorn (2 workers) serving the
webhook, and WORKERS `celery worker -Q trading` processes (pool POOL, CONCURRENCY each) — the real pipeline:
intake stores the signal and queues `trading.process_signal`; a worker sizes it, places the entry and its
reduce-only stop-loss and take-profit through real ccxt, and queues the reconciliation pass that follows
every placement (also on the `trading` queue, so it is part of the load). The fake exchange runs in this
process on 127.0.0.1 and notes when it acknowledged each entry order.

Each account first sends one warm-up signal (not measured: ccxt clients, market lists and leverage are
set up once per worker process and credential). Then THREADS threads POST buy signals at RATE/s in all for
SECONDS s (open loop: a signal is sent at its time whether or not earlier ones are done), each on a market
the account holds no position on, and it waits for every signal to end. It prints: webhook answer times;
signal → entry acknowledged p50/p90/p99/max; throughput; and the census: every 202 answer's signal accepted
with exactly one entry order on the exchange (0 duplicates), none without one (0 lost).
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import configure_environment, percentile  # noqa: E402
from bench.recovery import OwnRedis, log, start_gunicorn, start_process, stop_group  # noqa: E402

MARKETS = 24  # one position per market per account: warm-up + RATE·SECONDS/ACCOUNTS signals must fit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50, help="signals per second, all threads together")
    parser.add_argument("--seconds", type=float, default=30, help="how long the measured load runs")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake exchange adds to every answer")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes on the trading queue")
    parser.add_argument("--pool", choices=("threads", "prefork"), default="threads")
    parser.add_argument("--concurrency", type=int, default=8, help="per worker")
    parser.add_argument("--threads", type=int, default=16, help="load threads")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for every signal to end")
    return parser.parse_args()


def start_fake_exchange(latency: float):
    """The fake Binance with MARKETS markets, noting the time it acknowledged each entry order."""
    from trading.testing.fake_binance import FakeBinance, FakeMarket

    markets = [FakeMarket(f"M{i:02d}USDT", f"M{i:02d}", Decimal("100"), tick_size=Decimal("0.01"),
                          step_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal("5"),
                          max_leverage=50) for i in range(MARKETS)]
    fake = FakeBinance(markets, latency=latency)
    acks: dict[str, float] = {}
    original = fake.route

    def route(method, path, params, account):
        result = original(method, path, params, account)
        client_id = params.get("newClientOrderId", "")
        if method == "POST" and path == "/fapi/v1/order" and client_id.endswith("-entry"):
            acks.setdefault(client_id, time.time())
        return result

    fake.route = route
    return fake.start(), acks


def build_accounts(label: str, count: int, fake) -> tuple[object, list[dict]]:
    """A tenant with COUNT traders, each with one account on the fake exchange and its key there."""
    from accounts.models import User
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context
    from trading.models import Exchange
    from trading.services.accounts import add_credential, create_trading_account, update_settings

    tenant = Tenant.objects.create(name=f"bench signals-{label}")
    accounts = []
    with tenant_context(tenant):
        exchange = Exchange.objects.create(name="Binance (fake)", ccxt_id="binanceusdm", api_base_url=fake.base_url,
                                           requests_per_second=100_000)
        for i in range(count):
            user = User.objects.create_user(f"bench-signals-{label}-{i}@bench.local", None, full_name=f"Trader {i}")
            account = create_trading_account(actor=None, user=user, name=f"Bench {i}", exchange=exchange)
            key, secret = f"bench-{label}-{i}-key", f"bench-{label}-{i}-secret"
            fake.add_account(key, secret, balance=Decimal("1000000"))
            add_credential(actor=None, account=account, api_key=key, secret=secret, check=False)
            update_settings(actor=None, user=user, risk_per_trade=Decimal("1"), min_leverage=1, max_leverage=20,
                            max_open_positions=MARKETS)
            accounts.append({"url_path": f"/hooks/signals/{account.webhook_token_encrypted}",
                             "passphrase": account.webhook_passphrase, "pk": account.pk, "next_market": 0})
    return tenant, accounts


class Load:
    """Open-loop sender: signal n goes out at start + n/RATE from one of THREADS threads."""

    def __init__(self, port: int, accounts: list[dict], *, rate: float, seconds: float, threads: int, run: str,
                 first_market: int):
        import httpx

        self.base = f"http://127.0.0.1:{port}"
        self.accounts, self.rate, self.run = accounts, rate, run
        self.total = int(rate * seconds)
        self.first_market = first_market
        self.sent: dict[str, float] = {}  # alert id → time sent
        self.answers: list[tuple[str, int, float, dict]] = []  # (alert id, status, seconds, body)
        self.lock = threading.Lock()
        self.counter = iter(range(self.total))
        self.start = time.time() + 0.5
        self.clients = [httpx.Client(timeout=30) for _ in range(threads)]
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in self.clients]
        for thread in self.threads:
            thread.start()

    def _run(self, client) -> None:
        while True:
            with self.lock:
                n = next(self.counter, None)
            if n is None:
                return
            account = self.accounts[n % len(self.accounts)]
            market = self.first_market + n // len(self.accounts)
            alert_id = f"{self.run}-{n}"
            body = {"passphrase": account["passphrase"], "symbol": f"M{market:02d}USDT", "signal": "buy",
                    "price": "100", "stop_price": "99", "take_profit_price": "102", "leverage": "5",
                    "alert_id": alert_id}
            delay = self.start + n / self.rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.time()
            try:
                response = client.post(self.base + account["url_path"], json=body)
                status, payload = response.status_code, response.json()
            except Exception as exc:  # noqa: BLE001 - counted as a failed answer
                status, payload = 0, {"error": str(exc)}
            with self.lock:
                self.sent[alert_id] = sent
                self.answers.append((alert_id, status, time.time() - sent, payload))

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        for client in self.clients:
            client.close()


def wait_for_signals(tenant, signal_ids: list[int], timeout: float) -> dict[int, tuple[str, str]]:
    """Wait until every signal has ended; {signal id: (status, reason)}."""
    from tenancy.scoping import tenant_context
    from trading.models import Signal

    deadline = time.monotonic() + timeout
    while True:
        with tenant_context(tenant):
            rows = {pk: (status, reason) for pk, status, reason in
                    Signal.objects.filter(pk__in=signal_ids).values_list("pk", "status", "reason")}
        if all(rows.get(pk, ("queued",))[0] in ("accepted", "rejected") for pk in signal_ids) \
                or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench/signals.py runs on PostgreSQL: set DATABASE_URL to a scratch database")
    if args.accounts * (MARKETS - 1) < args.rate * args.seconds:
        sys.exit(f"{args.accounts} accounts × {MARKETS - 1} markets cannot take {args.rate * args.seconds:g} signals")
    workdir = Path(tempfile.mkdtemp(prefix="bench-signals-"))
    redis = OwnRedis()
    redis.start()
    env = configure_environment(redis.url)
    env.update({"REDIS_URL": redis.url, "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
                "TRADING_EXCHANGE_TIMEOUT_MS": "5000", "TRADING_EXCHANGE_RETRY_BASE_SECONDS": "0.1"})
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    fake, acks = start_fake_exchange(args.latency)
    label = uuid.uuid4().hex[:8]
    tenant, accounts = build_accounts(label, args.accounts, fake)

    web = None
    workers = []
    try:
        web, port = start_gunicorn(env, workdir)
        workers = [start_trading_worker(env, workdir, f"trading-{i}", args.pool, args.concurrency)
                   for i in range(args.workers)]
        log(f"gunicorn :{port}, {args.workers} workers (-Q trading, {args.pool} ×{args.concurrency}), "
            f"redis :{redis.port}, fake exchange {fake.base_url} ({args.latency * 1000:g} ms)")

        warm = Load(port, accounts, rate=min(args.rate, 25), seconds=len(accounts) / min(args.rate, 25),
                    threads=args.threads, run=f"warm-{label}", first_market=0)
        warm.join()
        warm_ids = [a[3]["signal_id"] for a in warm.answers if a[1] == 202]
        wait_for_signals(tenant, warm_ids, args.timeout)
        log(f"warm-up: {len(warm_ids)} signals done; measuring {args.rate:g}/s for {args.seconds:g} s")

        load = Load(port, accounts, rate=args.rate, seconds=args.seconds, threads=args.threads,
                    run=f"run-{label}", first_market=1)
        load.join()
        log(f"sent {len(load.answers)} in {max(load.sent.values()) - load.start:.1f} s; waiting for the workers")
        report(args, tenant, load, acks, fake)
    finally:
        for worker in workers:
            stop_group(worker)
        stop_group(web)
        fake.stop()
        redis.stop()


def start_trading_worker(env: dict, workdir: Path, name: str, pool: str, concurrency: int):
    """A `celery worker -Q trading` with POOL × CONCURRENCY, once it says it is ready."""
    log_path = workdir / f"{name}.log"
    proc = start_process([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool,
                          "--concurrency", str(concurrency), "-l", "info", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h", "-Q", "trading"],
                         {**env, "LOG_LEVEL": "INFO"}, log_path)  # Celery's "ready." line is INFO
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in log_path.read_text():
            return proc
        if proc.poll() is not None:
            sys.exit(f"the worker exited:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.05)
    sys.exit("the worker was not ready within 60 s")


def report(args, tenant, load: Load, acks: dict[str, float], fake) -> None:
    from tenancy.scoping import tenant_context
    from trading.models import Order, OrderLeg

    accepted_answers = [a for a in load.answers if a[1] == 202]
    by_alert = {a[0]: a[3]["signal_id"] for a in accepted_answers}
    ended = wait_for_signals(tenant, list(by_alert.values()), args.timeout)
    with tenant_context(tenant):
        entries = {}
        for signal_id, client_id in Order.objects.filter(signal_id__in=list(by_alert.values()),
                                                         leg=OrderLeg.ENTRY).values_list("signal_id",
                                                                                         "client_order_id"):
            entries.setdefault(signal_id, []).append(client_id)
    latencies, lost, duplicates, rejected = [], [], [], {}
    for alert_id, signal_id in by_alert.items():
        status, reason = ended.get(signal_id, ("missing", ""))
        if status == "rejected":
            rejected[reason[:80]] = rejected.get(reason[:80], 0) + 1
        client_ids = entries.get(signal_id, [])
        on_exchange = sum(len(fake.orders_with_client_id(key, cid)) for cid in client_ids
                          for key in list(fake.accounts))
        if len(client_ids) > 1 or on_exchange > 1:
            duplicates.append(signal_id)
        ack = acks.get(client_ids[0]) if client_ids else None
        if ack is None or status != "accepted":
            lost.append(signal_id)
            continue
        latencies.append(ack - load.sent[alert_id])
    latencies.sort()
    answer_times = sorted(a[2] for a in load.answers)
    other = [a for a in load.answers if a[1] != 202]
    first, last = load.start, max(acks.get(c[0], 0) for c in entries.values()) if entries else load.start
    print()
    print(f"signals sent          {len(load.answers)} at {args.rate:g}/s target over {args.seconds:g} s "
          f"({args.accounts} accounts, {args.workers} workers × {args.pool} {args.concurrency}, "
          f"exchange latency {args.latency * 1000:g} ms)")
    print(f"webhook answers       202: {len(accepted_answers)}, other: {len(other)}"
          f"{'  e.g. ' + str(other[0][1:]) if other else ''}")
    print(f"webhook answer time   p50 {percentile(answer_times, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(answer_times, 0.99) * 1000:.0f} ms")
    print(f"webhook → entry acked p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
          f"p90 {percentile(latencies, 0.9) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000 if latencies else float('nan'):.0f} ms")
    print(f"throughput            {len(latencies) / max(0.001, last - first):.1f} entries acked/s "
          f"(first send → last ack {last - first:.1f} s)")
    print(f"duplicates            {len(duplicates)}  (signals with more than one entry order here or on the exchange)")
    print(f"lost                  {len(lost)}  (202 answers without an accepted signal and an acknowledged entry)")
    if rejected:
        print(f"rejected              {rejected}")


if __name__ == "__main__":
    main()
