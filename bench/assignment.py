#!/usr/bin/env python
"""Benchmark of assignment (issues 5 and 21, not a test): Celery workers against a one-statement floor.

    DATABASE_URL=postgres://p2p_app:p2p_app@127.0.0.1:5432/p2p_bench \\
        .venv/bin/python bench/assignment.py [--orders 20000] [--requisites 1000,10000,100000] [--workers 1,2,4]

PostgreSQL only, on a scratch database (it migrates it and adds tenants named
"bench …"). It starts its own redis-server on a free port unless --redis-url is
given, and its own `celery worker --concurrency W` processes.

For each number of requisites R (sizes run back to back, in one run) and each worker count W, on a
fresh tenant (R requisites of
REQUISITES/4 funded traders, one priority, limits mixed: 30 % with a tight day
cap that fills during the run, 10 % with a lifetime cap, 10 % with a 60-minute
window, the rest loose; 20 % of the orders are PayOuts):
1. throughput: ORDERS orders are written `new` and their messages queued, then
   the workers start; assignments/s = assigned / (last − first assignment);
2. latency: with the workers warm, orders go through the real intake
   (payments.services.intake) one by one at a quarter of the measured rate; intake →
   assigned latency p50/p99 is order_history.created_at − incoming_orders.created_at;
3. limit violations (must be 0), recomputed from order_history in SQL: day,
   lifetime and window turnover over their caps, trader holds that differ
   from the open PayIns they back; and requisites whose kept turnover
   (payments.services.turnover) differs from order_history's (must be 0).
The sweeper runs in this process every second (as beat would), so an order
whose attempt found nothing free is retried.

The floor: the same claim + insert — lock the next `new` order, pick and lock
the best requisite with the same filters and order by the same index walk
(SKIP LOCKED), insert order_history, mark the order assigned, bump
last_used_at, add to the requisite's kept turnover — as ONE SQL statement per
order, run by pgbench with W clients on a fresh tenant of the same shape. It
does none of the rest of the service's work (dynamic limit check, hold and its
ledger row, audit entry, callback event, Celery). The ratio printed is
assignments/s ÷ floor at the same concurrency; the target is ≥ 0.5 with 2
workers. With several sizes, the summary also gives each size's assigned/s
and floor/s as a share of the first size's (issue 21: ≥ 0.7 at 100 000
against 1 000).
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = Decimal("36.50")
CRYPTO_STEP = Decimal("0.00000001")
CUSTOMER_CARD = "4111111111111111"  # where PayOut traders pay


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--requisites", default="1000", help="requisite counts, comma-separated")
    parser.add_argument("--skip-latency", action="store_true", help="throughput, violations and floor only")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--latency-orders", type=int, default=1000)
    parser.add_argument("--redis-url", default="", help="an existing broker (default: start a redis-server)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one run")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis() -> tuple[subprocess.Popen, str]:
    if not shutil.which("redis-server"):
        sys.exit("redis-server not found: install it or pass --redis-url")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def configure_environment(broker_url: str) -> dict:
    """Production-like settings for this process and the workers (DEBUG off: no query log)."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.setdefault("DEBUG", "false")
    env.setdefault("SECURE_SSL_REDIRECT", "false")  # plain HTTP on loopback (bench/recovery.py's gunicorn)
    env.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    env.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": broker_url,
                "CELERY_TASK_ALWAYS_EAGER": "false", "LOG_LEVEL": env.get("LOG_LEVEL", "WARNING"),
                "ASSIGNMENT_RETRY_BASE_SECONDS": "0.5", "ASSIGNMENT_RETRY_MAX_SECONDS": "2",
                "ASSIGNMENT_MAX_ATTEMPTS": "50", "ASSIGNMENT_DISPATCH_LEASE_SECONDS": "3600",
                "PYTHONPATH": str(ROOT)})
    os.environ.update(env)
    return env


# --- the market -------------------------------------------------------------------------------------------

class Market:
    def __init__(self, tenant, store, fiat, crypto, requisites):
        self.tenant, self.store, self.fiat, self.crypto, self.requisites = tenant, store, fiat, crypto, requisites


# Requisite i (0 … count − 1, i = 0 the template) belongs to trader i mod traders; its settings take
# the limits of kind i mod 10 (see the module doc).
CLONE_REQUISITES_SQL = """
INSERT INTO req_traders (tenant_id, trader_id, owner_of_requisites_id, fiat_id, method_id, bank_id, req_number,
                         req_number_last4, req_number_digest, status, last_used_at, distribution_weight,
                         trader_priority, is_excluded_from_distribution, created_at, updated_at)
SELECT r.tenant_id, (%(traders)s::bigint[])[1 + g %% cardinality(%(traders)s::bigint[])], NULL, r.fiat_id,
       r.method_id, r.bank_id, r.req_number, lpad((g %% 10000)::text, 4, '0'), 'bench-' || g, 'approve', NULL,
       5, 5, false, r.created_at, r.updated_at
FROM req_traders r, generate_series(1, %(count)s - 1) g WHERE r.id = %(template)s
"""
SETTINGS_SQL = """
INSERT INTO full_requisites_settings (tenant_id, requisite_id, pay_in, pay_out, lower_limit, upper_limit,
                                      total_limit, turnover_day_max, turnover_limit_minutes, updated_at)
SELECT tenant_id, id, true, true, 100, 50000,
       CASE WHEN %(limits)s AND kind = 3 THEN 12000 END,
       CASE WHEN NOT %(limits)s OR kind = 3 THEN NULL WHEN kind < 3 THEN 8000 WHEN kind = 4 THEN 30000
            ELSE 1000000 END,
       CASE WHEN %(limits)s AND kind = 4 THEN 60 END,
       now()
FROM (SELECT id, tenant_id, CASE WHEN id = %(template)s THEN 0
                                 ELSE split_part(req_number_digest, '-', 2)::int %% 10 END AS kind
      FROM req_traders WHERE tenant_id = %(tenant)s) numbered
"""


def build_market(label: str, requisite_count: int, *, limits: bool = True) -> "Market":
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from payments.models import (
        AvailableBankMethod,
        BalanceTrader,
        BalanceTraderCryptoHistory,
        Bank,
        Country,
        CryptoCurrency,
        ExchangeRate,
        FiatCurrency,
        Merchant,
        MovementKind,
        PaymentMethod,
        ReqTrader,
        Trader,
    )
    from payments.services import ledger, merchants
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    tag = f"{label}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(name=f"bench {tag}")
    rng = random.Random(7)
    with tenant_context(tenant), transaction.atomic():
        country = Country.objects.create(code="TH", name="Thailand")
        fiat = FiatCurrency.objects.create(code="THB", name="Thai baht", country=country)
        crypto = CryptoCurrency.objects.create(code="USDT", name="Tether", network="TRC20")
        bank = Bank.objects.create(name="Bench Bank", country=country)
        method = PaymentMethod.objects.create(code="card", name="Card transfer")
        AvailableBankMethod.objects.create(bank=bank, method=method)
        now = timezone.now()
        ExchangeRate.objects.create(fiat_currency=fiat, crypto_currency=crypto, rate=RATE, source="bench",
                                    fetched_at=now)
        owner = User.objects.create_user(f"merchant-{tag}@bench.invalid", full_name="Bench Merchant",
                                         status=User.Status.ACTIVE)
        merchant = Merchant.objects.create(user=owner, first_name="Bench")
        store, _ = merchants.create_store(merchant=merchant, store_name="Bench store", crypto_currency=crypto,
                                          fiat_currency=fiat, lower_limit=Decimal("100"),
                                          upper_limit=Decimal("50000"), pay_in_commission_percent=Decimal("2"),
                                          pay_out_commission_percent=Decimal("1.5"))
        ledger.post_store_movement(store=store, crypto_currency=crypto, amount=Decimal("10000000"),
                                   kind=MovementKind.DEPOSIT, description="bench")
        trader_count = max(1, requisite_count // 4)
        users = User.objects.bulk_create(
            User(email=f"trader-{tag}-{i}@bench.invalid", full_name=f"Trader {i}", status=User.Status.ACTIVE,
                 password="!") for i in range(trader_count))
        traders = Trader.objects.bulk_create(
            Trader(tenant=tenant, user=user, first_name="Trader", last_name=str(i), trafic_priority=5,
                   in_work=True, pay_in=True, pay_out=True, pay_in_commission_percent=Decimal("1.5"),
                   pay_out_commission_percent=Decimal("1.0")) for i, user in enumerate(users))
        funds = Decimal("100000")
        balances = BalanceTrader.objects.bulk_create(
            BalanceTrader(tenant=tenant, trader=trader, fiat_currency=fiat, crypto_currency=crypto,
                          crypto_balance=funds) for trader in traders)
        BalanceTraderCryptoHistory.objects.bulk_create(
            BalanceTraderCryptoHistory(tenant=tenant, balance=balance, trader=balance.trader,
                                       kind=MovementKind.DEPOSIT, amount=funds, balance_after=funds,
                                       description="bench deposit") for balance in balances)
        # One requisite through the ORM (its number encrypted), the rest copied from it in one statement
        # (the number does not matter to assignment; its digest, unique per method, is made up): 100 000
        # requisites take seconds instead of minutes.
        template = ReqTrader(tenant=tenant, trader=traders[0], fiat=fiat, method=method, bank=bank,
                             status="approve", distribution_weight=5, trader_priority=5)
        template.set_number(f"4{rng.randrange(10**14, 10**15)}00000")
        template.save()
        with connection.cursor() as cursor:
            cursor.execute(CLONE_REQUISITES_SQL, {"template": template.pk, "count": requisite_count,
                                                  "traders": [trader.pk for trader in traders]})
            cursor.execute(SETTINGS_SQL, {"template": template.pk, "tenant": tenant.pk, "limits": limits})
        requisites = list(ReqTrader.objects.order_by("pk").values_list("pk", flat=True))
    return Market(tenant, store, fiat, crypto, requisites)


def order_amounts(count: int, seed: int) -> list[tuple[str, Decimal]]:
    rng = random.Random(seed)
    return [("pay_out" if rng.random() < 0.2 else "pay_in", Decimal(rng.randrange(20000, 180000)) / 100)
            for _ in range(count)]


def write_orders(market: Market, count: int, *, seed: int) -> list[int]:
    """ORDERS rows written `new` as intake writes them (bulk: the throughput run starts with a backlog)."""
    from django.db import transaction
    from django.utils import timezone

    from payments.models import IncomingOrder
    from tenancy.scoping import tenant_context

    ids = []
    amounts = order_amounts(count, seed)
    with tenant_context(market.tenant):
        for start in range(0, count, 1000):
            rows = []
            for order_type, fiat in amounts[start:start + 1000]:
                crypto = (fiat / RATE).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
                rows.append(IncomingOrder(
                    tenant=market.tenant, merchant_id=market.store.merchant_id, store=market.store,
                    fiat_currency=market.fiat, crypto_currency=market.crypto, order_type=order_type,
                    amount_fiat=fiat if order_type == "pay_in" else None,
                    amount_crypto=crypto if order_type == "pay_out" else None, total_fiat=fiat,
                    amount_currency=crypto, exchange_rate=RATE,
                    store_commission=(crypto * Decimal("0.02")).quantize(CRYPTO_STEP), status="new",
                    customer_requisite=CUSTOMER_CARD if order_type == "pay_out" else "",
                    customer_requisite_last4=CUSTOMER_CARD[-4:] if order_type == "pay_out" else "",
                    created_at=timezone.now()))
            with transaction.atomic():
                ids.extend(order.pk for order in IncomingOrder.objects.bulk_create(rows))
    return ids


def refuse_foreign_open_orders() -> None:
    """The sweeper serves every tenant: open orders of other tenants (e.g. bench/intake.py's, which has no
    requisites and keeps retrying) would take the workers' time and skew every figure. Use a scratch database."""
    from payments.models import IncomingOrder
    from tenancy.scoping import dangerously_bypass_tenant_scope

    with dangerously_bypass_tenant_scope():
        foreign = (IncomingOrder.objects.filter(status__in=["new", "retrying", "processing"])
                   .exclude(tenant__name__startswith="bench ").count())
    if foreign:
        sys.exit(f"{foreign} open orders of other tenants are in this database; the workers would spend their "
                 "time on them. Run on a scratch database (createdb -O p2p_app p2p_bench_assignment).")


def analyze() -> None:
    """Fresh statistics, as autovacuum keeps them in a running system (the bench writes faster than it runs)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("incoming_orders", "order_history", "req_traders", "traders", "full_requisites_settings",
                      "balance_traders", "users", "requisite_turnover"):
            cursor.execute(f"ANALYZE {table}")


def queue_messages(market: Market, order_ids: list[int]) -> None:
    from config.celery import app
    from payments.tasks import assign_incoming_order_task

    tenant_id = str(market.tenant.pk)
    with app.producer_or_acquire() as producer:
        for order_id in order_ids:
            assign_incoming_order_task.apply_async(args=[order_id], kwargs={"tenant_id": tenant_id},
                                                   producer=producer)


# --- workers and the sweeper -----------------------------------------------------------------------------

def start_workers(count: int, env: dict) -> subprocess.Popen:
    celery = str(ROOT / ".venv/bin/celery") if (ROOT / ".venv/bin/celery").exists() else "celery"
    log = Path(tempfile.gettempdir()) / f"bench-assignment-worker-{count}.log"
    print(f"[{count} worker(s)] worker log: {log}", flush=True)
    return subprocess.Popen(
        [celery, "-A", "config", "worker", "--pool", "prefork", "--concurrency", str(count), "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"bench{count}-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_workers(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Sweeper(threading.Thread):
    """What beat would do: payments.sweep_due_orders every second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self):
        from django.db import connections

        from payments.services.assignment import sweep_due_orders

        while not self.stopped.wait(1.0):
            sweep_due_orders()
        connections.close_all()


def open_orders(market: Market) -> int:
    from payments.models import IncomingOrder
    from tenancy.scoping import tenant_context

    with tenant_context(market.tenant):
        return IncomingOrder.objects.filter(status__in=["new", "retrying"]).count()


def wait_until_worked_off(market: Market, timeout: float, label: str) -> bool:
    """Poll until no order of the market is open; report progress every 30 s. False on timeout."""
    started = time.monotonic()
    reported = started
    while remaining := open_orders(market):
        now = time.monotonic()
        if now - started > timeout:
            print(f"{label} timed out after {timeout:.0f}s with {remaining} orders still open")
            return False
        if now - reported >= 30:
            print(f"{label} {remaining} orders still open after {now - started:.0f}s", flush=True)
            reported = now
        time.sleep(0.5)
    return True


# --- measuring ---------------------------------------------------------------------------------------------

def sql_rows(market: Market, sql: str, params=None) -> list:
    from django.db import connection

    from tenancy.scoping import tenant_context

    with tenant_context(market.tenant), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def throughput(market: Market, order_ids: list[int]) -> dict:
    (first, last, assigned, failed, retried), = sql_rows(market, """
        SELECT min(h.created_at), max(h.created_at), count(h.id),
               (SELECT count(*) FROM incoming_orders WHERE status = 'failed' AND id = ANY(%s)),
               (SELECT count(*) FROM incoming_orders WHERE retry_count > 0 AND id = ANY(%s))
        FROM order_history h WHERE h.incoming_order_id = ANY(%s)""", [order_ids, order_ids, order_ids])
    seconds = (last - first).total_seconds() if assigned > 1 else float("nan")
    return {"assigned": assigned, "failed": failed, "retried": retried, "seconds": seconds,
            "rate": assigned / seconds if seconds else float("nan")}


def latencies(market: Market, order_ids: list[int]) -> list[float]:
    rows = sql_rows(market, """
        SELECT EXTRACT(EPOCH FROM (h.created_at - o.created_at)) FROM order_history h
        JOIN incoming_orders o ON o.id = h.incoming_order_id WHERE o.id = ANY(%s)""", [order_ids])
    return sorted(float(value) * 1000 for (value,) in rows)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(share * (len(values) - 1))))]


VIOLATIONS_SQL = """
WITH counted AS (
    SELECT h.requisite_id, h.created_at, COALESCE(h.confirmed_fiat, h.total_fiat) AS amount
    FROM order_history h WHERE h.status NOT IN ('cancelled', 'failed', 'expired')
)
SELECT
  (SELECT count(*) FROM (
      SELECT c.requisite_id FROM counted c JOIN full_requisites_settings s ON s.requisite_id = c.requisite_id
      WHERE s.turnover_day_max IS NOT NULL
      GROUP BY c.requisite_id, s.turnover_day_max, date_trunc('day', c.created_at AT TIME ZONE 'UTC')
      HAVING sum(c.amount) > s.turnover_day_max) day_over),
  (SELECT count(*) FROM (
      SELECT c.requisite_id FROM counted c JOIN full_requisites_settings s ON s.requisite_id = c.requisite_id
      WHERE s.total_limit IS NOT NULL
      GROUP BY c.requisite_id, s.total_limit HAVING sum(c.amount) > s.total_limit) total_over),
  (SELECT count(*) FROM counted c JOIN full_requisites_settings s ON s.requisite_id = c.requisite_id
      WHERE s.turnover_limit_minutes IS NOT NULL AND s.turnover_day_max IS NOT NULL
        AND (SELECT sum(COALESCE(w.confirmed_fiat, w.total_fiat)) FROM order_history w
             WHERE w.requisite_id = c.requisite_id AND w.status NOT IN ('cancelled', 'failed', 'expired')
               AND w.created_at > c.created_at - make_interval(mins => s.turnover_limit_minutes)
               AND w.created_at <= c.created_at) > s.turnover_day_max),
  (SELECT count(*) FROM balance_traders b
      WHERE b.crypto_hold <> COALESCE((SELECT sum(h.hold_amount) FROM order_history h
                                       WHERE h.trader_id = b.trader_id AND h.order_type = 'pay_in'), 0))
"""


def violations(market: Market) -> dict:
    from django.utils import timezone

    from payments.services import turnover
    from tenancy.scoping import tenant_context

    (day, total, window, holds), = sql_rows(market, VIOLATIONS_SQL)
    with tenant_context(market.tenant):
        kept = len(turnover.mismatches(today=turnover.utc_day(timezone.now())))
    return {"day": day, "total": total, "window": window, "holds": holds, "kept_turnover": kept}


def paced_intake(market: Market, count: int, rate: float) -> list[int]:
    """Orders through the real intake service, one transaction each, at `rate` per second."""
    from payments.services.intake import create_incoming_order
    from tenancy.scoping import tenant_context

    ids = []
    interval = 1.0 / rate
    start = time.monotonic()
    with tenant_context(market.tenant):
        for i, (order_type, fiat) in enumerate(order_amounts(count, seed=99)):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            crypto = (fiat / RATE).quantize(CRYPTO_STEP) if order_type == "pay_out" else None
            order = create_incoming_order(store=market.store, order_type=order_type,
                                          amount_fiat=fiat if order_type == "pay_in" else None,
                                          amount_crypto=crypto, customer_requisite=CUSTOMER_CARD
                                          if order_type == "pay_out" else None)
            ids.append(order.pk)
    return ids


# --- the floor ---------------------------------------------------------------------------------------------

# The candidate CTE is the workers' search (payments.services.assignment._CANDIDATE_SQL): the order's values
# come in as scalar subqueries (parameters to the planner), so it walks ix_req_traders_rotation in its order,
# with the workers' planner setting (enable_sort off, in PGOPTIONS).
FLOOR_SQL = """
WITH o AS (
    SELECT id, tenant_id, hash_id, client_id, merchant_id, store_id, fiat_currency_id, crypto_currency_id,
           order_type, exchange_rate, amount_currency, total_fiat, store_commission
    FROM incoming_orders WHERE status = 'new' ORDER BY created_at LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
), c AS (
    SELECT r.id, r.trader_id, r.method_id, r.bank_id,
           CASE WHEN (SELECT order_type FROM o) = 'pay_in' THEN t.pay_in_commission_percent
                ELSE t.pay_out_commission_percent END AS percent
    FROM req_traders r
    JOIN traders t ON t.id = r.trader_id
    JOIN users u ON u.id = t.user_id
    JOIN full_requisites_settings s ON s.requisite_id = r.id
    LEFT JOIN balance_traders b ON b.trader_id = r.trader_id AND b.tenant_id = r.tenant_id
      AND b.fiat_currency_id = (SELECT fiat_currency_id FROM o)
      AND b.crypto_currency_id = (SELECT crypto_currency_id FROM o)
    WHERE r.tenant_id = (SELECT tenant_id FROM o) AND r.fiat_id = (SELECT fiat_currency_id FROM o)
      AND r.status = 'approve' AND NOT r.is_excluded_from_distribution AND t.in_work AND u.status <> 'blocked'
      AND CASE WHEN (SELECT order_type FROM o) = 'pay_in' THEN t.pay_in AND s.pay_in ELSE t.pay_out AND s.pay_out END
      AND (s.lower_limit IS NULL OR s.lower_limit <= (SELECT total_fiat FROM o))
      AND (s.upper_limit IS NULL OR s.upper_limit >= (SELECT total_fiat FROM o))
      AND ((SELECT order_type FROM o) <> 'pay_in'
           OR b.crypto_balance - b.crypto_hold >= (SELECT amount_currency FROM o))
    ORDER BY r.trader_priority, r.last_used_at NULLS FIRST, r.id
    LIMIT 1 FOR NO KEY UPDATE OF r SKIP LOCKED
), ins AS (
    INSERT INTO order_history (tenant_id, client_id, incoming_order_id, hash_id, trader_id, requisite_id,
        merchant_id, store_id, method_id, bank_id, crypto_currency_id, fiat_id, order_type, exchange_rate,
        amount_currency, total_fiat, store_commission, trader_commission, status, expires_at, amount_mismatch,
        hold_amount, dispute_reason, created_at, updated_at)
    SELECT o.tenant_id, o.client_id, o.id, o.hash_id, c.trader_id, c.id, o.merchant_id, o.store_id, c.method_id,
        c.bank_id, o.crypto_currency_id, o.fiat_currency_id, o.order_type, o.exchange_rate, o.amount_currency,
        o.total_fiat, o.store_commission, round(o.amount_currency * c.percent / 100, 8), 'pending',
        now() + interval '30 minutes', '', 0, '', now(), now()
    FROM o, c
    RETURNING incoming_order_id, requisite_id, method_id, bank_id, tenant_id, total_fiat
), claimed AS (
    UPDATE incoming_orders SET status = 'assigned', payment_method_id = ins.method_id, bank_id = ins.bank_id,
        last_attempt_at = now(), updated_at = now()
    FROM ins WHERE incoming_orders.id = ins.incoming_order_id RETURNING incoming_orders.id
), used AS (
    UPDATE req_traders SET last_used_at = now() FROM ins WHERE req_traders.id = ins.requisite_id RETURNING 1
), counted AS (
    INSERT INTO requisite_turnover AS v (requisite_id, tenant_id, total, day, day_total)
    SELECT requisite_id, tenant_id, total_fiat, (now() AT TIME ZONE 'UTC')::date, total_fiat FROM ins
    ON CONFLICT (requisite_id) DO UPDATE SET total = v.total + EXCLUDED.total,
        day_total = CASE WHEN v.day = EXCLUDED.day THEN v.day_total + EXCLUDED.day_total ELSE EXCLUDED.day_total END,
        day = EXCLUDED.day
    RETURNING 1
)
SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM used);
"""


def floor(market: Market, order_ids: list[int], clients: int) -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    per_client = -(-len(order_ids) // clients)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(" ".join(FLOOR_SQL.split()) + "\n")
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or "",
           "PGOPTIONS": f"-c app.tenant_id={market.tenant.pk} -c app.bypass_rls=off -c enable_sort=off"}
    started = time.monotonic()
    result = subprocess.run(
        ["pgbench", "-n", "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432),
         "-U", db["USER"], "-c", str(clients), "-j", str(clients), "-t", str(per_client), "-f", script.name,
         db["NAME"]], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    os.unlink(script.name)
    if result.returncode:
        raise SystemExit(f"pgbench failed:\n{result.stderr}")
    tps = next(float(line.split("=")[1].split()[0]) for line in result.stdout.splitlines()
               if line.startswith("tps") and "without initial connection" in line)
    (assigned,), = sql_rows(market, "SELECT count(*) FROM order_history WHERE incoming_order_id = ANY(%s)",
                            [order_ids])
    # Statements that found every remaining order or requisite locked assign nothing: count only assignments.
    return {"assigned": assigned, "rate": tps * assigned / (per_client * clients), "wall": wall}


# --- the run -------------------------------------------------------------------------------------------------

def run_one(size: int, workers: int, args, env: dict) -> tuple:
    """One size and worker count: throughput, latency, violations on a fresh market, then the floor on another."""
    label = f"[{size} requisites, {workers} worker(s)]"
    started = time.monotonic()
    market = build_market(f"r{size}w{workers}", size)
    order_ids = write_orders(market, args.orders, seed=workers)
    analyze()
    queue_messages(market, order_ids)
    print(f"{label} market built, {len(order_ids)} orders written and queued in "
          f"{time.monotonic() - started:.1f}s; starting the workers", flush=True)
    sweeper = Sweeper()
    sweeper.start()
    proc = start_workers(workers, env)
    try:
        finished = wait_until_worked_off(market, args.timeout, label)
        done = throughput(market, order_ids)
        print(f"{label} throughput: {done['assigned']} assigned in {done['seconds']:.1f}s "
              f"= {done['rate']:.1f}/s ({done['failed']} failed, {done['retried']} retried)", flush=True)
        lat = []
        if finished and not args.skip_latency:
            rate = max(1.0, done["rate"] / 4)
            latency_ids = paced_intake(market, min(args.latency_orders, int(rate * 20)), rate)
            wait_until_worked_off(market, args.timeout, label)
            lat = latencies(market, latency_ids)
            print(f"{label} latency at {rate:.1f}/s: p50 {percentile(lat, .5):.1f} ms, "
                  f"p99 {percentile(lat, .99):.1f} ms over {len(lat)} orders", flush=True)
    finally:
        sweeper.stopped.set()
        stop_workers(proc)
    broken = violations(market)
    print(f"{label} limit violations: {broken}", flush=True)
    floor_market = build_market(f"floor{size}w{workers}", size, limits=False)
    floor_ids = write_orders(floor_market, args.orders, seed=workers)
    analyze()
    base = floor(floor_market, floor_ids, workers)
    print(f"{label} floor (pgbench, {workers} clients): {base['assigned']} assigned, "
          f"{base['rate']:.1f}/s\n", flush=True)
    return size, workers, done, lat, broken, base


def main() -> None:
    args = parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    sizes = [int(n) for n in args.requisites.split(",")]
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    if not shutil.which("pgbench"):
        sys.exit("pgbench not found (postgresql-contrib / postgresql-client).")
    redis_proc, broker = (None, args.redis_url) if args.redis_url else start_redis()
    env = configure_environment(broker)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    refuse_foreign_open_orders()
    db = urlsplit(os.environ["DATABASE_URL"])
    print(f"database {unquote(db.path[1:])} on {db.hostname}, broker {broker}, {os.cpu_count()} CPUs", flush=True)
    print(f"{args.orders} orders, requisites {sizes}, workers {worker_counts}\n")
    results = []
    try:
        for size in sizes:
            for workers in worker_counts:
                results.append(run_one(size, workers, args, env))
    finally:
        if redis_proc:
            redis_proc.terminate()
            redis_proc.wait()
    print("requisites  workers  assigned/s  p50 ms  p99 ms  violations  floor/s  ratio  assigned/s ×first  "
          "floor/s ×first")
    first = {}
    for size, workers, done, lat, broken, base in results:
        ref_done, ref_base = first.setdefault(workers, (done["rate"], base["rate"]))
        print(f"{size:>10}  {workers:>7}  {done['rate']:>10.1f}  {percentile(lat, .5):>6.1f}  "
              f"{percentile(lat, .99):>6.1f}  {sum(broken.values()):>10}  {base['rate']:>7.1f}  "
              f"{done['rate'] / base['rate']:>5.2f}  {done['rate'] / ref_done:>17.2f}  "
              f"{base['rate'] / ref_base:>14.2f}")


if __name__ == "__main__":
    main()
