#!/usr/bin/env python
"""Benchmark of copy-trade fan-out (issue 18, not a test): one master, N followers, two server processes.

    DATABASE_URL=postgres://p2p_app:p2p_app@127.0.0.1:5432/p2p_he REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/fanout.py [--followers 100,1000,5000,10000] [--rounds 10] [--clients 2]

PostgreSQL + Redis (it migrates the database and adds a tenant named "bench fanout-…" per size). It
starts two `manage.py copytrade_server` processes on free ports; the followers are split evenly between
them and are held by CLIENTS client processes (asyncio, one small Protocol per connection, answering each
SIGNAL with an ACK at once); the master is on the first server, so half the followers are reached through
Redis. Each round the master sends an OPEN; every follower records when its SIGNAL arrived. Printed per N:

- OPEN → SIGNAL received: p50/p99/max over every follower of every round (send time of the OPEN line to
  the follower's read, one clock);
- OPEN → ACK stored: from the same send time to the `acked_at` the server wrote on the delivery row;
- missed (a follower without the round's SIGNAL) and duplicated (a seq received twice) — both must be 0;
- server memory per connection: growth of the two servers' RSS from before the followers connected to
  after, divided by N.

The soft descriptor limit is raised to the hard one; a size that needs more descriptors than that is
skipped with the reason.
"""

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- follower clients (a separate process each; no Django here) -------------------------------------------------

class _Follower(asyncio.Protocol):
    def __init__(self, key: str, ready: asyncio.Future, log: dict, dups: list):
        self.key, self.ready, self.log, self.dups = key, ready, log, dups
        self.buffer = b""
        self.transport = None
        self.seen: set[int] = set()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(f"AUTH:{self.key}\n".encode())

    def data_received(self, data):
        now = time.time()
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        out = []
        for raw in lines:
            if raw.startswith(b"SIGNAL:"):
                parts = raw.split(b":")
                seq, ticket = int(parts[1]), int(parts[4])
                if seq in self.seen:
                    self.dups[0] += 1
                else:
                    self.seen.add(seq)
                    self.log.setdefault(ticket, []).append(now)
                out.append(b"ACK:%d:%d\n" % (seq, 10_000_000 + seq))
            elif raw == b"SNAPSHOT:END" and not self.ready.done():
                self.ready.set_result(True)
            elif raw.startswith(b"ERR:") and not self.ready.done():
                self.ready.set_exception(RuntimeError(raw.decode()))
        if out:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed"))


def client_process(targets: list[tuple[int, str]], conn) -> None:
    """Connect every (port, key), say ready, hold them until told to stop, then send back the receive log."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main():
        loop = asyncio.get_running_loop()
        log: dict[int, list[float]] = {}
        dups = [0]
        gate = asyncio.Semaphore(200)
        transports = []

        async def connect(port, key):
            async with gate:
                ready = loop.create_future()
                transport, _ = await loop.create_connection(lambda: _Follower(key, ready, log, dups),
                                                            "127.0.0.1", port)
                transports.append(transport)
                await asyncio.wait_for(ready, 120)

        await asyncio.gather(*(connect(port, key) for port, key in targets))
        conn.send("ready")
        await loop.run_in_executor(None, conn.recv)  # "stop"
        conn.send({"log": log, "duplicates": dups[0]})
        for transport in transports:
            transport.close()

    asyncio.run(main())


# --- the driver -----------------------------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def make_accounts(n: int):
    """A tenant with a master and n followers, written in bulk (the service path audits each one)."""
    from django.utils import timezone

    from accounts.models import User
    from core import crypto
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context
    from trading.models import TradingAccount
    from trading.services.accounts import api_key_digest

    tenant = Tenant.objects.create(name=f"bench fanout-{n}-{uuid.uuid4().hex[:6]}")
    with tenant_context(tenant):
        user = User.objects.create_user(email=f"fanout-{uuid.uuid4().hex[:8]}@bench.local", password=None,
                                        full_name="Fan-out bench")

        def account(name, role, **extra):
            raw = "sk_live_" + crypto.new_token(24)
            token = crypto.new_token(24)
            return raw, TradingAccount(
                user=user, name=name, role=role, api_key_digest=api_key_digest(raw), api_key_encrypted=raw,
                api_key_last4=raw[-4:], webhook_token_digest=crypto.digest(token, purpose="bench"),
                webhook_token_encrypted=token, webhook_passphrase="x", tenant=tenant, created_at=timezone.now(),
                **extra)

        master_key, master = account("Bench master", "master", master_token="MST-" + uuid.uuid4().hex[:16])
        master.save()
        pairs = [account(f"Bench follower {i}", "follower", following=master) for i in range(n)]
        TradingAccount.objects.bulk_create([a for _, a in pairs], batch_size=1000)
    return tenant, master, master_key, [key for key, _ in pairs]


def run_size(n: int, rounds: int, clients: int, env: dict) -> dict:
    from django.db import connection

    from tenancy.scoping import tenant_context
    from trading.copytrade.processes import ServerProcess
    from trading.copytrade.simulator import MasterEA
    from trading.models import CopyDelivery

    tenant, master, master_key, keys = make_accounts(n)
    connection.close()
    log = os.environ.get("BENCH_SERVER_LOG", "")
    servers = [ServerProcess(env=env, log_path=log).start(), ServerProcess(env=env, log_path=log).start()]
    try:
        rss_before = sum(rss_kb(s.process.pid) for s in servers)
        targets = [(servers[i % 2].port, key) for i, key in enumerate(keys)]
        context = multiprocessing.get_context("spawn")
        pipes, procs = [], []
        for c in range(clients):
            parent, child = context.Pipe()
            proc = context.Process(target=client_process, args=(targets[c::clients], child), daemon=True)
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        started = time.monotonic()
        for pipe in pipes:
            if not pipe.poll(600) or pipe.recv() != "ready":
                raise RuntimeError("followers did not connect")
        connect_seconds = time.monotonic() - started
        time.sleep(1.0)
        rss_after = sum(rss_kb(s.process.pid) for s in servers)

        sent_at: dict[int, float] = {}
        ok_at: dict[int, float] = {}

        async def drive():
            ea = MasterEA("127.0.0.1", servers[0].port, master_key)
            assert (await ea.connect()).startswith("OK:AUTH:")
            for r in range(rounds):
                ticket = 1_000_000 + r
                line = f"OPEN:{ticket}:EURUSD:BUY:0.10:1.08500:1.08000:1.09500"
                sent_at[ticket] = time.time()
                answer = await ea.command(line, timeout=120)
                ok_at[ticket] = time.time()
                assert answer == f"OK:OPEN:{ticket}:{n}", answer
                await asyncio.sleep(max(0.5, n / 4000))  # let the ACKs land between rounds
            await asyncio.sleep(2.0 + n / 2000)
            await ea.close()

        asyncio.run(drive())
        # Slow is not missed: wait (up to a generous deadline) until every delivery is acknowledged, then
        # count what each follower received.
        deadline = time.monotonic() + 120
        with tenant_context(tenant):
            pending = CopyDelivery.objects.filter(master_trade__master=master, status="pending")
            while pending.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
        connection.close()
        logs, duplicates = {}, 0
        for pipe in pipes:
            pipe.send("stop")
            report = pipe.recv()
            duplicates += report["duplicates"]
            for ticket, times in report["log"].items():
                logs.setdefault(ticket, []).extend(times)
        for proc in procs:
            proc.join(timeout=30)

        signal_ms, missed, per_round = [], 0, []
        for ticket, t0 in sent_at.items():
            got = logs.get(ticket, [])
            missed += n - len(got)
            round_ms = [(t - t0) * 1000 for t in got]
            signal_ms.extend(round_ms)
            if round_ms:
                per_round.append((percentile(round_ms, .5), percentile(round_ms, .99), max(round_ms)))
        with tenant_context(tenant):
            acked = list(CopyDelivery.objects.filter(master_trade__master=master, acked_at__isnull=False)
                         .values_list("master_trade__ticket", "acked_at"))
        ack_ms = [(at.timestamp() - sent_at[ticket]) * 1000 for ticket, at in acked]
        ok_ms = [(ok_at[t] - sent_at[t]) * 1000 for t in sent_at]
        return {
            "n": n, "rounds": rounds, "connect_s": connect_seconds,
            "signal": (percentile(signal_ms, .5), percentile(signal_ms, .99), max(signal_ms)) if signal_ms else None,
            "ack": (percentile(ack_ms, .5), percentile(ack_ms, .99), max(ack_ms)) if ack_ms else None,
            "ok_p50": statistics.median(ok_ms), "acks_stored": len(ack_ms), "expected": n * rounds,
            "missed": missed, "duplicated": duplicates,
            "kb_per_conn": (rss_after - rss_before) / n, "per_round": per_round,
        }
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", default="100,1000,5000,10000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2, help="follower client processes")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    # Production-like settings here and in the servers it starts (they inherit the environment): DEBUG off,
    # as with DEBUG on every statement is also rendered for the query log (half an OPEN's time).
    from cryptography.fernet import Fernet

    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.COPYTRADE_REDIS_URL:
        sys.exit("bench/fanout.py needs DATABASE_URL=postgres://… and REDIS_URL (fan-out crosses processes)")
    call_command("migrate", verbosity=0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Silence for three heartbeats closes a connection: idle bench followers must outlive the setup.
    env = {"COPYTRADE_HEARTBEAT_SECONDS": "600", "COPYTRADE_AUTH_TIMEOUT_SECONDS": "300",
           "LOG_LEVEL": os.environ.get("BENCH_SERVER_LOG_LEVEL", "WARNING")}
    results = []
    for n in (int(x) for x in args.followers.split(",")):
        # each server holds n/2 sockets, the clients n in all, plus headroom
        if n // 2 + 200 > hard or n // args.clients + 200 > hard:
            print(f"N={n}: skipped, the descriptor limit is {hard}")
            continue
        rounds = args.rounds if n <= 1000 else max(3, args.rounds // 2)
        result = run_size(n, rounds, args.clients, env)
        results.append(result)
        print(_row(result), flush=True)
        print("  per round, OPEN→SIGNAL p50/p99/max ms: " + "; ".join(_fmt(r) for r in result["per_round"]),
              flush=True)
    print()
    print("| followers | rounds | OPEN→SIGNAL p50 / p99 / max ms | OPEN→ACK stored p50 / p99 / max ms "
          "| master OK p50 ms | missed | duplicated | server KB/conn |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(_row(r, markdown=True))


def _fmt(triple) -> str:
    return " / ".join(f"{v:.1f}" for v in triple) if triple else "n/a"


def _row(r: dict, markdown: bool = False) -> str:
    cells = [str(r["n"]), str(r["rounds"]), _fmt(r["signal"]), _fmt(r["ack"]), f"{r['ok_p50']:.1f}",
             str(r["missed"]), str(r["duplicated"]), f"{r['kb_per_conn']:.1f}"]
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return (f"N={r['n']}: connect {r['connect_s']:.1f}s; SIGNAL p50/p99/max {cells[2]} ms; ACK stored {cells[3]} ms "
            f"({r['acks_stored']}/{r['expected']}); OK p50 {cells[4]} ms; missed {r['missed']}; duplicated "
            f"{r['duplicated']}; {cells[7]} KB/conn")


if __name__ == "__main__":
    main()
