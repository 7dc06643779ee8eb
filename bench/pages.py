#!/usr/bin/env python
"""Benchmark of the pages people look at (issue 19, not a test): cabinets, dashboards and admin changelists
with 100 000 orders in one tenant.

    DATABASE_URL=postgres://p2p_app:p2p_app@127.0.0.1:5432/<scratch db> \\
        .venv/bin/python bench/pages.py [--orders 100000] [--requests 30]

PostgreSQL only, on a scratch database (it migrates it and adds a tenant named "bench pages …"):
1. builds the tenant through the services (reference data, a merchant with 4 stores, 20 traders with a
   requisite each, balances funded through the ledger), then bulk-inserts ORDERS orders in ONE
   `INSERT … SELECT generate_series` per table (incoming_orders, then order_history): spread over the last 30
   days, half of them to one trader (the busiest cabinet), 80 % completed (paid a few minutes after they were
   made), 10 % cancelled, 5 % expired, the rest still open; a few hundred callback events and appeals; then
   VACUUM (ANALYZE). The bulk rows carry no ledger movements (balances are what the services posted): pages only read.
2. for every page — each merchant and trader cabinet page (the dashboards for 7 and 30 days), the pay page,
   and every admin changelist (every app) as a super admin — sends REQUESTS
   GETs through Django's test client in this process (the whole middleware stack, templates, the real
   database; no network), after 3 warm-ups, and prints p50/p95/max in ms and the number of queries;
3. prints the pages over the target: p95 ≤ 100 ms.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 100.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--traders", type=int, default=20)
    parser.add_argument("--only", default="", help="measure only the pages whose label contains this text")
    return parser.parse_args()


# --- the tenant ------------------------------------------------------------------------------------------------

def build_tenant(traders: int) -> dict:
    from accounts.models import User
    from payments.models import MovementKind, RequisiteStatus
    from payments.services import ledger, merchants, requisites
    from payments.services import traders as trader_services
    from payments.services.exchange_rates import record_exchange_rate
    from payments.tests.factories import make_reference_data
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context
    from tenancy.services import create_super_admin

    tag = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"bench pages {tag}")
    password = "bench-pages-2026"

    def user(email: str, name: str) -> User:
        return User.objects.create_user(email, password, full_name=name, status="active", email_verified=True)

    boss = create_super_admin(email=f"boss-{tag}@bench.local", full_name="Bench Boss", password=password)
    from tenancy.services import add_membership

    add_membership(tenant=tenant, user=boss.user, is_default=True)
    with tenant_context(tenant):
        refs = make_reference_data()  # the tests' reference data: THB, USDT, banks and methods
        thb, usdt, bank, card = refs.thb, refs.usdt, refs.bank, refs.card
        record_exchange_rate(fiat_currency=thb, crypto_currency=usdt, rate=Decimal("36.50"))
        merchant = merchants.create_merchant(tenant=tenant, user=user(f"merchant-{tag}@bench.local", "Mila Bench"),
                                             first_name="Mila", last_name="Bench")
        stores = []
        for n in range(4):
            store, _ = merchants.create_store(
                merchant=merchant, store_name=f"Bench Store {n}", crypto_currency=usdt, fiat_currency=thb,
                lower_limit=Decimal("100"), upper_limit=Decimal("50000"),
                pay_in_commission_percent=Decimal("2"), pay_out_commission_percent=Decimal("1.5"))
            ledger.post_store_movement(store=store, crypto_currency=usdt, amount=Decimal("100000"),
                                       kind=MovementKind.DEPOSIT, description="bench")
            stores.append(store)
        trader_rows, requisite_rows = [], []
        for n in range(traders):
            trader = trader_services.create_trader(
                tenant=tenant, user=user(f"trader{n}-{tag}@bench.local", f"Tomas Bench{n}"), first_name="Tomas",
                last_name=f"Bench{n}", preferred_fiat_currency=thb, crypto_currency=usdt)
            requisite = requisites.create_requisite(
                trader=trader, fiat=thb, method=card, bank=bank, req_number=f"4000{n:04d}{tag[:4].encode().hex()[:8]}",
                status=RequisiteStatus.APPROVE,
                settings={"pay_in": True, "pay_out": True, "turnover_day_max": Decimal("5000000"),
                          "total_limit": Decimal("900000000")})
            ledger.post_trader_crypto_movement(trader=trader, fiat_currency=thb, crypto_currency=usdt,
                                               amount=Decimal("100000"), kind=MovementKind.DEPOSIT,
                                               description="bench")
            trader_rows.append(trader)
            requisite_rows.append(requisite)
    return {"tenant": tenant, "boss": boss.user, "merchant": merchant, "stores": stores, "traders": trader_rows,
            "requisites": requisite_rows, "thb": thb, "usdt": usdt, "bank": bank, "card": card,
            "password": password}


def _columns(model, overrides: dict) -> tuple[list[str], list[str], list]:
    """(columns, SQL expressions, params) for an INSERT … SELECT of `model`: `overrides` give SQL for some
    columns, every other column takes its field's default (or NULL)."""
    from django.db import connection

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.get_internal_type() in ("AutoField", "BigAutoField"):
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in overrides:
            expressions.append(overrides[field.column])
        elif field.has_default():
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.null:
            expressions.append("NULL")
        else:
            raise SystemExit(f"{model._meta.db_table}.{field.column}: no value for the bulk insert")
    return columns, expressions, params


def insert_orders(world: dict, orders: int) -> float:
    """One INSERT … SELECT per table; returns the seconds it took."""
    from django.db import connection, transaction

    from payments.models import IncomingOrder, OrderHistory

    tenant_id = str(world["tenant"].pk)
    stores = [s.pk for s in world["stores"]]
    requisites = world["requisites"]
    busy = requisites[0]
    started = time.monotonic()
    # i: 1..N; created over 30 days; status by row number mod 20: 0..15 completed, 16..17 cancelled, 18 expired,
    # 19 open.
    created = "now() - (((%(n)s - i)::float / %(n)s) * interval '30 days')"
    incoming = {
        "tenant_id": f"'{tenant_id}'::uuid",
        "hash_id": "'bp' || left(md5(random()::text || i::text), 30)",
        "client_id": f"'bench-{uuid.uuid4().hex[:6]}-' || i",
        "merchant_id": str(world["merchant"].pk),
        "store_id": f"(ARRAY{stores})[1 + mod(i, {len(stores)})]",
        "fiat_currency_id": str(world["thb"].pk),
        "crypto_currency_id": str(world["usdt"].pk),
        "amount_fiat": "(500 + mod(i * 37, 4500))::numeric(20,2)",
        "total_fiat": "(500 + mod(i * 37, 4500))::numeric(20,2)",
        "amount_currency": "round((500 + mod(i * 37, 4500)) / 36.5, 8)",
        "exchange_rate": "36.5",
        "store_commission": "round((500 + mod(i * 37, 4500)) / 36.5 * 0.02, 8)",
        "order_type": "CASE WHEN mod(i, 10) = 0 THEN 'pay_out' ELSE 'pay_in' END",
        "status": "'assigned'",
        "created_at": created,
        "updated_at": created,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.bypass_rls = 'on'")
        columns, expressions, params = _columns(IncomingOrder, incoming)
        sql = (f"INSERT INTO incoming_orders ({', '.join(columns)}) SELECT {', '.join(expressions)} "
               f"FROM generate_series(1, %(n)s) AS i")
        cursor.execute(*_named(sql, params, orders))
        # order_history: one per incoming order, half to the busiest requisite, the rest spread.
        req_ids = [r.pk for r in requisites]
        trader_ids = [r.trader_id for r in requisites]
        pick = f"CASE WHEN mod(o.rn, 2) = 0 THEN 1 ELSE 1 + mod(o.rn, {len(req_ids)}) END"
        status = ("CASE WHEN mod(o.rn, 20) < 16 THEN 'completed' WHEN mod(o.rn, 20) < 18 THEN 'cancelled' "
                  "WHEN mod(o.rn, 20) = 18 THEN 'expired' ELSE 'pending' END")
        done = "mod(o.rn, 20) < 16"
        history = {
            "tenant_id": "o.tenant_id", "client_id": "o.client_id", "incoming_order_id": "o.id", "hash_id": "o.hash_id",
            "trader_id": f"(ARRAY{trader_ids})[{pick}]", "requisite_id": f"(ARRAY{req_ids})[{pick}]",
            "merchant_id": "o.merchant_id", "store_id": "o.store_id", "method_id": str(world["card"].pk),
            "bank_id": str(world["bank"].pk), "crypto_currency_id": "o.crypto_currency_id",
            "fiat_id": "o.fiat_currency_id",
            "order_type": "o.order_type", "exchange_rate": "o.exchange_rate", "amount_currency": "o.amount_currency",
            "total_fiat": "o.total_fiat", "store_commission": "o.store_commission",
            "trader_commission": "round(o.amount_currency * 0.01, 8)", "status": status,
            "expires_at": "o.created_at + interval '30 minutes'",
            "paid_at": f"CASE WHEN {done} THEN o.created_at + (2 + mod(o.rn, 9)) * interval '1 minute' END",
            "completed_at": f"CASE WHEN {done} THEN o.created_at + (4 + mod(o.rn, 9)) * interval '1 minute' END",
            "confirmed_fiat": "CASE WHEN mod(o.rn, 20) < 16 THEN o.total_fiat END",
            "confirmed_crypto": "CASE WHEN mod(o.rn, 20) < 16 THEN o.amount_currency END",
            "created_at": "o.created_at", "updated_at": "o.created_at",
        }
        columns, expressions, params = _columns(OrderHistory, history)
        sql = (f"INSERT INTO order_history ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM "
               f"(SELECT *, row_number() OVER (ORDER BY id) AS rn FROM incoming_orders "
               f"WHERE tenant_id = '{tenant_id}'::uuid AND status = 'assigned' AND hash_id LIKE 'bp%%') AS o")
        cursor.execute(sql, params)
        # The merchant's view of each order follows its execution row (payments.services.order_state).
        cursor.execute("UPDATE incoming_orders AS i SET state = h.status FROM order_history AS h "
                       "WHERE h.incoming_order_id = i.id AND i.tenant_id = %s::uuid", [tenant_id])
    print(f"  busiest trader: {busy.trader} (half of the orders)", flush=True)
    return time.monotonic() - started


def _named(sql: str, params: list, n: int):
    """The %(n)s of the SELECT and the positional defaults, as one positional list."""
    return sql.replace("%(n)s", str(int(n))), params


def add_side_rows(world: dict) -> None:
    from payments.callbacks.events import enqueue_order_event
    from payments.models import Appeal, IncomingOrder, OrderHistory
    from payments.services import transfers
    from tenancy.scoping import tenant_context

    with tenant_context(world["tenant"]):
        for incoming in IncomingOrder.objects.filter(merchant=world["merchant"]).order_by("-id")[:300]:
            enqueue_order_event(incoming_order=incoming, event_type="order.completed")
        for order in OrderHistory.objects.filter(status="completed").order_by("-id")[:200]:
            Appeal.objects.create(order=order, opened_by_role=Appeal.OpenedBy.CUSTOMER, reason="bench")
        address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
        for store in world["stores"]:
            balance = store.balances.first()
            for _ in range(10):
                transfers.request_store_withdrawal(store_balance=balance, amount=Decimal("1"), network="TRC20",
                                                   address=address, actor=world["merchant"].user)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # As autovacuum leaves a table that has settled: statistics, and the visibility map that lets an
        # index-only scan skip the table (the capped counts of core.pagination).
        for table in ("incoming_orders", "order_history", "callback_events", "order_appeals", "crypto_transfers"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")


# --- the pages ------------------------------------------------------------------------------------------------

def pages(world: dict) -> list[tuple[str, str, object]]:
    """(label, path, user) of every page measured."""
    from django.contrib import admin
    from django.urls import reverse

    from payments.models import CallbackEvent, IncomingOrder, OrderHistory
    from tenancy.scoping import tenant_context

    merchant_user = world["merchant"].user
    trader = world["requisites"][0].trader
    trader_user = trader.user
    with tenant_context(world["tenant"]):
        incoming = IncomingOrder.objects.filter(merchant=world["merchant"]).order_by("-id").first()
        trader_order = OrderHistory.objects.filter(trader=trader).order_by("-id").first()
        event = CallbackEvent.objects.order_by("-created_at").first()
    out = [
        ("merchant dashboard 7 d", reverse("cabinet:merchant_dashboard") + "?days=7", merchant_user),
        ("merchant dashboard 30 d", reverse("cabinet:merchant_dashboard") + "?days=30", merchant_user),
        ("merchant orders", reverse("cabinet:merchant_orders"), merchant_user),
        ("merchant orders ?status=completed", reverse("cabinet:merchant_orders") + "?status=completed", merchant_user),
        ("merchant orders ?status=cancelled", reverse("cabinet:merchant_orders") + "?status=cancelled", merchant_user),
        ("merchant orders page 50", reverse("cabinet:merchant_orders") + "?page=50", merchant_user),
        ("merchant order", reverse("cabinet:merchant_order", args=[incoming.hash_id]), merchant_user),
        ("merchant store", reverse("cabinet:merchant_store", args=[world["stores"][0].pk]), merchant_user),
        ("merchant balances", reverse("cabinet:merchant_balances"), merchant_user),
        ("merchant withdrawals", reverse("cabinet:merchant_withdrawals"), merchant_user),
        ("merchant callbacks", reverse("cabinet:merchant_callbacks"), merchant_user),
        ("merchant callback", reverse("cabinet:merchant_callback", args=[event.event_id]), merchant_user),
        ("merchant appeals", reverse("cabinet:merchant_appeals"), merchant_user),
        ("trader dashboard 7 d", reverse("cabinet:trader_dashboard") + "?days=7", trader_user),
        ("trader dashboard 30 d", reverse("cabinet:trader_dashboard") + "?days=30", trader_user),
        ("trader active orders (htmx)", reverse("cabinet:trader_active_orders"), trader_user),
        ("trader history", reverse("cabinet:trader_history"), trader_user),
        ("trader history page 50", reverse("cabinet:trader_history") + "?page=50", trader_user),
        ("trader order", reverse("cabinet:trader_order", args=[trader_order.hash_id]), trader_user),
        ("trader requisites", reverse("cabinet:trader_requisites"), trader_user),
        ("trader balances", reverse("cabinet:trader_balances"), trader_user),
        ("trader transfers", reverse("cabinet:trader_transfers"), trader_user),
        ("trader appeals", reverse("cabinet:trader_appeals"), trader_user),
        ("pay page", reverse("pay:order", args=[incoming.hash_id]), None),
    ]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        out.append((f"admin {model._meta.app_label} {model._meta.verbose_name_plural}", reverse(name), world["boss"]))
    out.append(("admin index", reverse("admin:index"), world["boss"]))
    return out


def measure(world: dict, requests: int, only: str = "") -> list[dict]:
    from django.db import connection
    from django.test import Client

    clients: dict = {}
    results = []
    for label, path, user in pages(world):
        if only and only not in label:
            continue
        client = clients.get(getattr(user, "pk", None))
        if client is None:
            client = Client()
            if user is not None:
                client.force_login(user)
            clients[getattr(user, "pk", None)] = client
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
        for _ in range(3):
            response = client.get(path, **headers)
        if response.status_code != 200:
            print(f"  {label}: HTTP {response.status_code} — skipped", flush=True)
            continue
        queries: list[str] = []

        def count(execute, sql, params, many, context, seen=queries):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(path, **headers)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path, **headers)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        row = {"label": label, "p50": statistics.median(times), "p95": times[max(0, int(len(times) * 0.95) - 1)],
               "max": times[-1], "queries": len(queries)}
        results.append(row)
        flag = "" if row["p95"] <= TARGET_MS else "  ← over"
        print(f"  {label:<44} p50 {row['p50']:6.1f}  p95 {row['p95']:6.1f}  max {row['max']:6.1f} ms  "
              f"{row['queries']:3d} queries{flag}", flush=True)
    return results


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    url = os.environ["DATABASE_URL"]
    if "conn_max_age" not in url:  # persistent connections, as a server runs (bench/intake.py does the same)
        os.environ["DATABASE_URL"] = url + ("&" if "?" in url else "?") + "conn_max_age=600"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    # The bench logs its users in with force_login: a slow password hash only slows the set-up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    world = build_tenant(args.traders)
    print(f"tenant {world['tenant'].name}: built through the services in {time.monotonic() - started:.1f}s",
          flush=True)
    seconds = insert_orders(world, args.orders)
    print(f"{args.orders} orders (+ their order_history rows) bulk-inserted in {seconds:.1f}s", flush=True)
    add_side_rows(world)
    analyze()
    print(f"\n{args.requests} GETs per page after 3 warm-ups (Django test client, in process), target p95 ≤ "
          f"{TARGET_MS:.0f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
    results = measure(world, args.requests, args.only)
    over = [row for row in results if row["p95"] > TARGET_MS]
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print(f"\n{len(results)} pages measured; {len(over)} over the target"
          + (": " + ", ".join(f"{row['label']} ({row['p95']:.0f} ms)" for row in over) if over else "."))


if __name__ == "__main__":
    main()
