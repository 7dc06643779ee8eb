"""Cancelling an order before assignment, and balance movements."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from audit.models import AuditLog
from core.api_errors import http_status
from payments.errors import ConflictError, PaymentsError
from payments.models import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    IncomingOrder,
    MovementKind,
)
from payments.services import ledger
from payments.services.orders import cancel_incoming_order

from .factories import TraderFactory, make_incoming_order, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.mark.parametrize("status", ["new", "retrying"])
def test_an_open_order_can_be_cancelled(refs, staff, status):
    store, _ = make_store(refs)
    order = make_incoming_order(store, status=status)
    support = staff("can_manage_orders")

    cancel_incoming_order(order=order, actor=support, reason="customer left")

    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.CANCELLED
    entry = AuditLog.objects.get(action="order.cancelled")
    assert entry.details["changes"]["status"] == {"old": status, "new": "cancelled"}
    assert entry.actor == support


@pytest.mark.parametrize("status", ["assigned", "failed", "cancelled", "processing"])
def test_an_order_past_intake_cannot_be_cancelled(refs, status):
    store, _ = make_store(refs)
    order = make_incoming_order(store, status=status)

    with pytest.raises(ConflictError) as refused:
        cancel_incoming_order(order=order)

    assert http_status(refused.value) == 409
    order.refresh_from_db()
    assert order.status == status


def test_store_movements_keep_the_balance_equal_to_its_history(refs):
    store, _ = make_store(refs)

    ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("100"),
                               kind=MovementKind.DEPOSIT)
    ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("-30.12345678"),
                               kind=MovementKind.WITHDRAWAL)

    balance = BalanceStore.objects.get(store=store)
    history = BalanceStoreHistory.objects.filter(balance=balance)
    assert balance.balance == Decimal("69.87654322")
    assert history.aggregate(total=Sum("amount"))["total"] == balance.balance
    assert history.order_by("-id").first().balance_after == balance.balance


def test_a_movement_below_zero_is_refused_and_changes_nothing(refs):
    trader = TraderFactory()
    ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                       amount=Decimal("10"), kind=MovementKind.DEPOSIT)

    with pytest.raises(PaymentsError) as refused:
        ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                           amount=Decimal("-10.00000001"), kind=MovementKind.WITHDRAWAL)

    assert refused.value.code == "insufficient_balance"
    assert BalanceTrader.objects.get(trader=trader).crypto_balance == Decimal("10")
    assert BalanceTraderCryptoHistory.objects.filter(trader=trader).count() == 1


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.000000001"), Decimal("NaN")])
def test_bad_amounts_are_refused(refs, amount):
    store, _ = make_store(refs)
    with pytest.raises(PaymentsError):
        ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=amount, kind=MovementKind.DEPOSIT)


def test_manual_adjustments_by_staff_are_audited(refs, staff):
    trader = TraderFactory()
    admin = staff("can_edit_limits")

    ledger.post_trader_fiat_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                     amount=Decimal("500.00"), kind=MovementKind.ADJUSTMENT, actor=admin)

    assert AuditLog.objects.get(action="balance.adjusted").actor == admin


def test_a_new_orders_hold_must_be_what_the_order_holds_and_on_its_own_balance(refs):
    from .assignment_support import make_funded_requisite
    from .factories import make_assigned_order

    store = make_store(refs)[0]
    requisite = make_funded_requisite(refs, crypto=Decimal("100"))
    other = make_funded_requisite(refs, crypto=Decimal("100"))
    order = make_assigned_order(store, requisite)
    other_balance = BalanceTrader.objects.get(trader=other.trader)

    order.hold_amount = order.amount_currency + Decimal("1")
    with pytest.raises(PaymentsError, match="not what it must hold"):
        ledger.hold_for_new_order(order)
    order.hold_amount = order.amount_currency
    with pytest.raises(PaymentsError, match="not the one this order holds"):
        ledger.hold_for_new_order(order, trader_balance=other_balance)

    row = ledger.hold_for_new_order(order)

    balance = BalanceTrader.objects.get(trader=requisite.trader)
    assert (balance.crypto_balance, balance.crypto_hold) == (Decimal("100"), order.amount_currency)
    assert (row.kind, row.hold_change, row.hold_after, row.order_id) == (
        MovementKind.HOLD, order.amount_currency, order.amount_currency, order.pk)
    assert BalanceTrader.objects.get(trader=other.trader).crypto_hold == 0
