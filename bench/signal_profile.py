"""Where a trading worker's time goes per signal, in one process: exchange calls and CPU per signal.

    DATABASE_URL=postgres://…/scratch .venv/bin/python bench/signal_profile.py [--signals 50] [--profile out.prof]

The machine is shared and loaded, so wall-clock figures from bench/signals.py are noisy; this measures what
does not depend on the load. It starts its own redis-server (the broker the notifications and follow-up
tasks are sent to; nothing consumes them) and the fake Binance (20 ms latency by default), makes ACCOUNTS
accounts, sends each one warm-up signal (not measured: client, markets, leverage set up once), then runs
SIGNALS buy signals through exactly what a worker runs for each — `process_signal` and the reconciliation
pass it queues (`reconcile_account(trigger="after_placement")`) — one after another, and prints per signal:
exchange requests by endpoint, new TCP connections to the exchange, the CPU of the thread doing the
work (the fake exchange's threads excluded) and wall time, and the
wall time spent waiting for the exchange (requests × latency). `--profile` writes a cProfile file.
"""

import argparse
import cProfile
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import configure_environment  # noqa: E402
from bench.recovery import OwnRedis, log  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--signals", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--profile", help="write a cProfile file of the measured loop here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench/signal_profile.py runs on PostgreSQL: set DATABASE_URL to a scratch database")
    redis = OwnRedis()
    redis.start()
    try:
        env = configure_environment(redis.url)
        env.update({"REDIS_URL": redis.url, "LOG_LEVEL": "WARNING"})
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        run(args)
    finally:
        redis.stop()


def run(args) -> None:
    from bench.signals import MARKETS, build_accounts, start_fake_exchange
    from tenancy.scoping import tenant_context
    from trading.models import Signal, SignalStatus
    from trading.services.execution import process_signal
    from trading.services.reconciliation import reconcile_account
    from trading.services.signals import receive_signal

    if args.signals > args.accounts * (MARKETS - 1):
        sys.exit(f"{args.accounts} accounts × {MARKETS - 1} markets cannot take {args.signals} signals")
    fake, _acks = start_fake_exchange(args.latency)
    connections = Counter()
    server = fake._server
    original_process = server.process_request

    def counting_process_request(request, client_address):
        connections["n"] += 1
        return original_process(request, client_address)

    server.process_request = counting_process_request
    label = uuid.uuid4().hex[:8]
    tenant, accounts = build_accounts(label, args.accounts, fake)

    def one(n: int, market: int) -> None:
        account = accounts[n % len(accounts)]
        with tenant_context(tenant):
            from trading.models import TradingAccount

            row = TradingAccount.objects.get(pk=account["pk"])
            signal, _dup = receive_signal(account=row, fields={
                "passphrase": account["passphrase"], "symbol": f"M{market:02d}USDT", "action": "buy",
                "price": "100", "stop_price": "99", "take_profit_price": "102", "leverage": "5",
                "alert_id": f"profile-{label}-{n}-{market}"})
            status = process_signal(signal_id=signal.pk)
            assert status == SignalStatus.ACCEPTED, Signal.objects.get(pk=signal.pk).reason
            reconcile_account(account_id=row.pk, trigger="after_placement", signal_id=signal.pk)

    for n in range(len(accounts)):  # warm-up
        one(n, 0)
    fake.requests.clear()
    connections.clear()
    profiler = cProfile.Profile() if args.profile else None
    cpu, wall = time.thread_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for n in range(args.signals):
        one(n, 1 + n // len(accounts))
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    by_path = Counter(f"{method} {path}" for method, path, _params in fake.requests)
    total = sum(by_path.values())
    fake.stop()
    count = args.signals
    log(f"{count} signals (process_signal + after-placement reconciliation), {args.accounts} accounts, "
        f"exchange latency {args.latency * 1000:g} ms")
    print(f"exchange requests     {total / count:.2f} per signal")
    for key, value in by_path.most_common():
        print(f"    {value / count:5.2f}  {key}")
    print(f"new connections       {connections['n'] / count:.2f} per signal (keep-alive reuses them)")
    print(f"CPU (worker thread)   {cpu / count * 1000:.1f} ms per signal")
    print(f"wall                  {wall / count * 1000:.1f} ms per signal, of which exchange latency "
          f"≈ {total / count * args.latency * 1000:.0f} ms")


if __name__ == "__main__":
    main()
