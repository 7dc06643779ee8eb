"""Withdrawals and top-ups: held on request, settled or released on decision, flags, audit, the ledger check."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from audit.models import AuditLog
from payments.errors import ConflictError, PaymentsError
from payments.models import BalanceStoreHistory, BalanceTraderCryptoHistory, CryptoTransfer, MovementKind
from payments.selectors.ledger import verify_tenant_ledger
from payments.services import transfers

from .execution_support import held_order, make_world, store_balance, trader_balance
from .factories import make_staff

pytestmark = pytest.mark.usefixtures("in_tenant")

TRON = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
ETH = "0x" + "ab" * 20


def no_differences(tenant):
    report = verify_tenant_ledger(tenant.pk)
    assert report.differences == [], [str(d) for d in report.differences]


@pytest.fixture
def world(refs):
    return make_world(refs, trader_crypto="100", store_crypto="50")


def test_a_merchant_withdrawal_is_held_then_settled(world, staff, in_tenant):
    balance = store_balance(world)
    merchant_user = world.store.merchant.user
    transfer = transfers.request_store_withdrawal(store_balance=balance, amount=Decimal("20"), network="TRC20",
                                                  address=TRON, actor=merchant_user)

    balance.refresh_from_db()
    assert (balance.balance, balance.hold, transfer.status) == (Decimal("50"), Decimal("20"), "pending")
    no_differences(in_tenant)

    approver = staff("can_manage_merchants")
    transfers.approve_transfer(transfer=transfer, actor=approver, tx_reference="0xfeed")

    balance.refresh_from_db()
    transfer.refresh_from_db()
    assert (balance.balance, balance.hold) == (Decimal("30"), Decimal("0"))
    assert (transfer.status, transfer.decided_by, transfer.tx_reference) == ("settled", approver, "0xfeed")
    row = BalanceStoreHistory.objects.filter(balance=balance).order_by("-id").first()
    assert (row.kind, row.amount, row.hold_change, row.created_by) == (
        MovementKind.WITHDRAWAL, Decimal("-20"), Decimal("-20"), approver)
    actions = AuditLog.objects.filter(target_id=str(transfer.pk), action__startswith="transfer.")
    assert list(actions.values_list("action", flat=True).order_by("id")) == ["transfer.requested", "transfer.approved"]
    no_differences(in_tenant)


def test_a_declined_withdrawal_releases_its_hold_and_keeps_the_reason(world, staff, in_tenant):
    balance = trader_balance(world)
    transfer = transfers.request_trader_transfer(trader_balance=balance, direction="withdrawal",
                                                 amount=Decimal("40"), network="ERC20", address=ETH,
                                                 actor=world.trader.user)
    balance.refresh_from_db()
    assert balance.crypto_hold == Decimal("40")

    with pytest.raises(PaymentsError) as no_reason:
        transfers.decline_transfer(transfer=transfer, actor=staff("can_manage_traders"), reason="  ")
    assert "reason" in no_reason.value.fields

    transfers.decline_transfer(transfer=transfer, actor=staff("can_manage_traders"), reason="Address on a blacklist")
    balance.refresh_from_db()
    transfer.refresh_from_db()
    assert (balance.crypto_balance, balance.crypto_hold) == (Decimal("100"), Decimal("0"))
    assert (transfer.status, transfer.decision_reason) == ("declined", "Address on a blacklist")
    assert BalanceTraderCryptoHistory.objects.filter(balance=balance, kind=MovementKind.RELEASE).count() == 1
    no_differences(in_tenant)


def test_a_trader_top_up_holds_nothing_and_is_deposited_on_approval(world, staff, in_tenant):
    balance = trader_balance(world)
    transfer = transfers.request_trader_transfer(trader_balance=balance, direction="top_up", amount=Decimal("5.5"),
                                                 network="TRC20", address=TRON, actor=world.trader.user)
    balance.refresh_from_db()
    assert (balance.crypto_balance, balance.crypto_hold) == (Decimal("100"), Decimal("0"))

    transfers.approve_transfer(transfer=transfer, actor=staff("can_manage_traders"))
    balance.refresh_from_db()
    assert balance.crypto_balance == Decimal("105.5")
    no_differences(in_tenant)


def test_a_withdrawal_over_the_available_balance_says_what_is_available(world):
    held_order(world)  # the PayIn holds part of the trader's crypto
    balance = trader_balance(world)
    balance.refresh_from_db()
    with pytest.raises(PaymentsError) as refused:
        transfers.request_trader_transfer(trader_balance=balance, direction="withdrawal", amount=Decimal("100"),
                                          network="TRC20", address=TRON, actor=world.trader.user)
    assert f"at most {balance.crypto_available.normalize():f} USDT" in refused.value.fields["amount"][0]
    assert not CryptoTransfer.objects.exists()


@pytest.mark.parametrize("network, address", [("TRC20", ETH), ("ERC20", TRON), ("ERC20", "0x12"), ("XYZ", TRON)])
def test_an_address_that_does_not_fit_the_network_is_refused(world, network, address):
    with pytest.raises(PaymentsError) as refused:
        transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("1"), network=network,
                                           address=address, actor=world.store.merchant.user)
    assert set(refused.value.fields) & {"address", "network"}


def test_only_the_owner_asks_and_only_the_owners_flag_decides(world, staff):
    with pytest.raises(PermissionDenied):
        transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("1"), network="TRC20",
                                           address=TRON, actor=world.trader.user)
    transfer = transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("1"),
                                                  network="TRC20", address=TRON, actor=world.store.merchant.user)
    for flags in [("can_manage_traders",), ("can_manage_orders", "can_view_orders")]:
        with pytest.raises(PermissionDenied):
            transfers.approve_transfer(transfer=transfer, actor=staff(*flags))
    transfers.approve_transfer(transfer=transfer, actor=staff("can_manage_merchants"))
    with pytest.raises(ConflictError):
        transfers.decline_transfer(transfer=transfer, actor=staff("can_manage_merchants"), reason="late")


def test_staff_of_another_operator_do_not_decide_even_with_the_flag(world, other_tenant):
    transfer = transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("1"),
                                                  network="TRC20", address=TRON, actor=world.store.merchant.user)
    outsider = make_staff(other_tenant, {"can_manage_merchants"})
    for decide in (lambda: transfers.approve_transfer(transfer=transfer, actor=outsider),
                   lambda: transfers.decline_transfer(transfer=transfer, actor=outsider, reason="no")):
        with pytest.raises(PermissionDenied):
            decide()
    assert CryptoTransfer.objects.get(pk=transfer.pk).status == "pending"


def test_a_decision_reason_longer_than_is_kept_is_refused(world, staff):
    transfer = transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("1"),
                                                  network="TRC20", address=TRON, actor=world.store.merchant.user)
    with pytest.raises(PaymentsError) as refused:
        transfers.decline_transfer(transfer=transfer, actor=staff("can_manage_merchants"), reason="x" * 501)
    assert refused.value.code == "invalid_reason"
    assert CryptoTransfer.objects.get(pk=transfer.pk).status == "pending"


def test_the_ledger_check_sees_a_hold_no_withdrawal_backs(world, in_tenant):
    transfer = transfers.request_store_withdrawal(store_balance=store_balance(world), amount=Decimal("3"),
                                                  network="TRC20", address=TRON, actor=world.store.merchant.user)
    CryptoTransfer.objects.filter(pk=transfer.pk).update(amount=Decimal("2"))
    checks = [d.check for d in verify_tenant_ledger(in_tenant.pk).differences]
    assert checks == ["hold = holds of its open PayOuts and pending withdrawals"]
