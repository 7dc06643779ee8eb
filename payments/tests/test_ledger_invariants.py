"""Ledger invariants after a random mix of operations; the database's own floors; verify_ledger."""

import io
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from payments.errors import PaymentsError
from payments.models import (
    Appeal,
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    CryptoTransfer,
    MovementKind,
    OrderHistory,
    OrderType,
)
from payments.selectors.ledger import verify_tenant_ledger
from payments.services import execution, ledger, transfers

from .execution_support import fund, held_order, make_world, png
from .factories import TraderFactory

pytestmark = pytest.mark.usefixtures("in_tenant")

Status = OrderHistory.Status
TRON = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


def total(queryset, field="amount") -> Decimal:
    # Quantized: SQLite sums decimals in floating point (PostgreSQL exactly).
    return Decimal(queryset.aggregate(s=Sum(field))["s"] or 0).quantize(Decimal("0.00000001"))


def run_random_mix(refs, staff, seed: int, steps: int = 60) -> dict:
    """Two stores, three traders, PayIns and PayOuts driven through every action in random order."""
    rng = random.Random(seed)
    manager = staff("can_manage_orders")
    resolver = staff("can_handle_appeals")
    deciders = staff("can_manage_merchants", "can_manage_traders")
    worlds = [make_world(refs, trader_crypto="400", trader_fiat="8000", store_crypto="300")]
    worlds.append(make_world(refs, trader_crypto="150", store=worlds[0].store))
    worlds.append(make_world(refs, trader_crypto="60", trader_fiat="500", store_crypto="40"))
    orders: list[OrderHistory] = []
    outcomes = {"refused": 0, "done": 0}

    def attempt(action, *args, **kwargs):
        try:
            action(*args, **kwargs)
            outcomes["done"] += 1
        except PaymentsError:
            outcomes["refused"] += 1

    for _ in range(steps):
        world = rng.choice(worlds)
        move = rng.choice(["assign", "assign", "pay", "confirm", "confirm_other", "cancel", "dispute", "appeal",
                           "resolve", "expire", "staff", "deposit", "withdraw", "ask_transfer", "decide_transfer"])
        open_orders = [o for o in orders if o.status in execution.OPEN_STATUSES + (Status.EXPIRED,)]
        order = rng.choice(open_orders) if open_orders else None
        if order is not None:
            order.refresh_from_db()
        trader_user = order.trader.user if order else None
        if move == "assign":
            order_type = rng.choice([OrderType.PAY_IN, OrderType.PAY_OUT])
            try:
                orders.append(held_order(world, order_type=order_type,
                                         expires_at=timezone.now() + timedelta(minutes=rng.choice([-1, 30]))))
                outcomes["done"] += 1
            except PaymentsError:
                outcomes["refused"] += 1
        elif order is None:
            continue
        elif move == "pay":
            attempt(execution.mark_paid, order=order)
        elif move in ("confirm", "confirm_other"):
            amount = None if move == "confirm" else Decimal(rng.choice(["500.00", "999.99", "1000.01", "1200.00"]))
            receipt = png() if order.order_type == OrderType.PAY_OUT else None
            attempt(execution.confirm_order, order=order, actor=trader_user, confirmed_fiat=amount,
                    receipt=receipt)
        elif move == "cancel":
            attempt(execution.cancel_order, order=order, actor=rng.choice([trader_user, manager]))
        elif move == "dispute":
            attempt(execution.dispute_order, order=order, actor=trader_user, reason="no money")
        elif move == "appeal":
            attempt(execution.open_appeal, order=order, opened_by_role="customer", reason="I paid")
        elif move == "resolve":
            appeal = Appeal.objects.filter(status="open").order_by("?").first()
            if appeal:
                attempt(execution.resolve_appeal, appeal=appeal, actor=resolver,
                        resolution=rng.choice(["completed", "cancelled"]),
                        confirmed_fiat=rng.choice([None, Decimal("777.77")]))
        elif move == "expire":
            execution.expire_due_orders()
        elif move == "staff":
            target = rng.choice(execution.allowed_targets(order.status) or [Status.CANCELLED])
            attempt(execution.set_order_status_by_staff, order=order, status=target, actor=manager,
                    reason="random staff change")
        elif move == "deposit":
            ledger.post_store_movement(store=world.store, crypto_currency=refs.usdt, amount=Decimal("10"),
                                       kind=MovementKind.DEPOSIT)
        elif move == "withdraw":
            attempt(ledger.post_trader_crypto_movement, trader=world.trader, fiat_currency=refs.thb,
                    crypto_currency=refs.usdt, amount=Decimal("-30"), kind=MovementKind.WITHDRAWAL)
        elif move == "ask_transfer":
            amount = Decimal(rng.choice(["5", "25.5", "500"]))
            if rng.random() < 0.5:
                balance = BalanceStore.objects.filter(store=world.store).first()
                if balance:
                    attempt(transfers.request_store_withdrawal, store_balance=balance, amount=amount,
                            network="TRC20", address=TRON, actor=world.store.merchant.user)
            else:
                balance = BalanceTrader.objects.filter(trader=world.trader).first()
                attempt(transfers.request_trader_transfer, trader_balance=balance,
                        direction=rng.choice(["withdrawal", "top_up"]), amount=amount, network="TRC20",
                        address=TRON, actor=world.trader.user)
        elif move == "decide_transfer":
            pending = CryptoTransfer.objects.filter(status="pending").order_by("?").first()
            if pending:
                if rng.random() < 0.6:
                    attempt(transfers.approve_transfer, transfer=pending, actor=deciders)
                else:
                    attempt(transfers.decline_transfer, transfer=pending, actor=deciders, reason="random")
    return outcomes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_invariants_hold_after_a_random_mix_of_operations(refs, staff, in_tenant, seed):
    outcomes = run_random_mix(refs, staff, seed)

    assert outcomes["done"] > 10  # the mix really moved money, not only refusals
    assert OrderHistory.objects.filter(status=Status.COMPLETED).exists()
    # No balance below its floor.
    for balance in BalanceStore.objects.all():
        assert 0 <= balance.hold <= balance.balance
        assert balance.balance == total(BalanceStoreHistory.objects.filter(balance=balance))
        assert balance.hold == total(BalanceStoreHistory.objects.filter(balance=balance), "hold_change")
    for balance in BalanceTrader.objects.all():
        assert 0 <= balance.crypto_hold <= balance.crypto_balance
        assert balance.fiat_balance >= -balance.fiat_credit_limit
        assert balance.crypto_balance == total(BalanceTraderCryptoHistory.objects.filter(balance=balance))
        assert balance.crypto_hold == total(BalanceTraderCryptoHistory.objects.filter(balance=balance), "hold_change")
        assert balance.fiat_balance == total(BalanceTraderFiatHistory.objects.filter(balance=balance))
    # Every completed order nets to its commissions; every other one moved nothing and holds what it says.
    for order in OrderHistory.objects.all():
        crypto = (total(BalanceStoreHistory.objects.filter(order=order))
                  + total(BalanceTraderCryptoHistory.objects.filter(order=order)))
        fiat = total(BalanceTraderFiatHistory.objects.filter(order=order))
        holds = (total(BalanceStoreHistory.objects.filter(order=order), "hold_change")
                 + total(BalanceTraderCryptoHistory.objects.filter(order=order), "hold_change"))
        assert holds == order.hold_amount
        if order.status == Status.COMPLETED:
            assert crypto == order.trader_commission - order.store_commission
            assert fiat == (order.confirmed_fiat if order.order_type == OrderType.PAY_IN else -order.confirmed_fiat)
            assert order.hold_amount == 0
        else:
            assert crypto == 0 and fiat == 0
            if order.status in (Status.CANCELLED, Status.EXPIRED, Status.FAILED):
                assert order.hold_amount == 0
    assert CryptoTransfer.objects.exclude(status="pending").exists()  # withdrawals and top-ups were decided too
    assert verify_tenant_ledger(in_tenant.pk).differences == []


# --- the database refuses what the services refuse ------------------------------------------------------------

def _refused_by_database(queryset, **values) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**values)


def test_the_tables_refuse_a_balance_or_hold_below_its_floor(refs):
    world = make_world(refs, trader_crypto="10", store_crypto="10")
    held_order(world, trader_commission=Decimal("0"), amount_currency=Decimal("5"))
    trader = BalanceTrader.objects.filter(trader=world.trader)
    store = BalanceStore.objects.filter(store=world.store)

    _refused_by_database(trader, crypto_balance=Decimal("-1"))
    _refused_by_database(trader, crypto_hold=Decimal("11"))  # hold above the balance
    _refused_by_database(trader, fiat_balance=Decimal("-0.01"))  # no credit limit here
    _refused_by_database(store, balance=Decimal("-0.00000001"))
    _refused_by_database(store, hold=Decimal("10.1"))
    trader.update(fiat_credit_limit=Decimal("100"))
    trader.update(fiat_balance=Decimal("-100"))  # within the credit limit
    _refused_by_database(trader, fiat_balance=Decimal("-100.01"))


def test_an_order_cannot_settle_twice_even_past_the_services(refs):
    world = make_world(refs)
    order = held_order(world)
    execution.confirm_order(order=order, actor=world.trader.user)
    balance = BalanceStore.objects.get(store=world.store)

    with pytest.raises(IntegrityError), transaction.atomic():
        BalanceStoreHistory.objects.create(balance=balance, store=world.store, order=order, amount=Decimal("1"),
                                           balance_after=balance.balance + 1, kind=MovementKind.PAY_IN)


# --- verify_ledger ----------------------------------------------------------------------------------------------------

def verify(*args) -> str:
    out = io.StringIO()
    call_command("verify_ledger", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def settled(refs):
    world = make_world(refs, trader_crypto="200", store_crypto="50")
    fund(refs, trader=world.trader, fiat="10.00")
    done = held_order(world)
    execution.confirm_order(order=done, actor=world.trader.user, confirmed_fiat=Decimal("990.00"))
    open_order = held_order(world)
    cancelled = held_order(world)
    execution.cancel_order(order=cancelled, actor=world.trader.user)
    return {"world": world, "done": done, "open": open_order, "cancelled": cancelled}


def test_verify_ledger_passes_on_exact_books(settled, in_tenant):
    output = verify()

    assert f"Operator A ({in_tenant.pk}): OK" in output and "no differences" in output


@pytest.mark.parametrize("injection, check", [
    ("store_balance", "balance = sum of history"),
    ("trader_hold", "crypto hold = holds of its open PayIns"),
    ("fiat_history", "fiat balance = sum of history"),
    ("order_commission", "crypto movements net to trader − store commission"),
    ("order_hold", "hold rows net to what the order holds"),
])
def test_verify_ledger_finds_an_injected_difference_and_exits_non_zero(settled, in_tenant, injection, check):
    world = settled["world"]
    if injection == "store_balance":
        BalanceStore.objects.filter(store=world.store).update(balance=Decimal("999"))
    elif injection == "trader_hold":
        row = BalanceTraderCryptoHistory.objects.filter(trader=world.trader).order_by("-id").first()
        BalanceTraderCryptoHistory.objects.filter(pk=row.pk).update(hold_change=row.hold_change + 1,
                                                                     hold_after=row.hold_after + 1)
        BalanceTrader.objects.filter(trader=world.trader).update(crypto_hold=row.hold_after + 1)
    elif injection == "fiat_history":
        BalanceTraderFiatHistory.objects.filter(order=settled["done"]).update(amount=Decimal("980.00"))
    elif injection == "order_commission":
        OrderHistory.objects.filter(pk=settled["done"].pk).update(store_commission=Decimal("0.5"))
    elif injection == "order_hold":
        OrderHistory.objects.filter(pk=settled["open"].pk).update(hold_amount=Decimal("1"))

    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out)

    assert "difference" in str(failed.value)
    assert check in out.getvalue()


def test_verify_ledger_checks_only_the_tenants_asked_for(settled, in_tenant, other_tenant):
    BalanceStore.objects.filter(store=settled["world"].store).update(balance=Decimal("999"))

    assert "OK" in verify("--tenant", str(other_tenant.pk))
    with pytest.raises(CommandError):
        verify("--tenant", str(in_tenant.pk))
    with pytest.raises(CommandError) as unknown:
        verify("--tenant", "not-a-uuid")
    assert "UUID" in str(unknown.value)


def test_verify_ledger_records_its_platform_wide_read(settled):
    from audit.models import AuditLog

    verify()

    assert AuditLog.objects.filter(action="tenancy.scope_bypassed", description__contains="verify_ledger").exists()


def test_a_trader_balance_made_by_the_ledger_takes_the_configured_credit_limit(refs, settings):
    settings.PAYMENTS_TRADER_FIAT_CREDIT_LIMIT = "250.00"
    trader = TraderFactory()

    fund(refs, trader=trader, crypto="1")

    assert BalanceTrader.objects.get(trader=trader).fiat_credit_limit == Decimal("250.00")
