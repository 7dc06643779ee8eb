"""Withdrawals and top-ups in the cabinets (ask, see the state) and in the admin (approve, decline)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import BalanceStore, BalanceTrader, CryptoTransfer

from .cabinet_support import fund_store, fund_trader, login, make_merchant, make_trader, text
from .factories import make_store

pytestmark = pytest.mark.usefixtures("in_tenant")

TRON = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


@pytest.fixture
def shop(tenant, refs):
    merchant = make_merchant(tenant)
    store, _ = make_store(refs, merchant, store_name="Corner Shop")
    fund_store(store, "1234.5")
    return store


def test_a_merchant_asks_to_withdraw_and_sees_the_request_held(client, shop):
    login(client, shop.merchant.user)
    balance = BalanceStore.objects.get(store=shop)
    page = client.get(reverse("cabinet:merchant_withdrawals"))
    assert page.status_code == 200
    assert "Corner Shop: 1,234.50 USDT available" in text(page)

    bad = client.post(reverse("cabinet:merchant_withdrawals"), {
        "balance": balance.pk, "amount": "5000", "network": "TRC20", "address": "nope"})
    assert bad.status_code == 400
    body = text(bad)
    assert "not a valid TRC20 address" in body and 'value="5000"' in body
    assert not CryptoTransfer.objects.exists()

    done = client.post(reverse("cabinet:merchant_withdrawals"), {
        "balance": balance.pk, "amount": "100", "network": "TRC20", "address": TRON}, follow=True)
    assert done.status_code == 200
    assert "Waiting for approval" in text(done) and TRON in text(done)
    balance.refresh_from_db()
    assert balance.hold == Decimal("100")


def test_a_trader_tops_up_and_staff_approve_it_in_the_admin(client, tenant, refs, staff):
    trader = make_trader(tenant)
    fund_trader(trader, refs, "10")
    balance = BalanceTrader.objects.get(trader=trader)
    login(client, trader.user)
    client.post(reverse("cabinet:trader_transfers"), {
        "balance": balance.pk, "direction": "top_up", "amount": "250", "network": "TRC20", "address": TRON})
    transfer = CryptoTransfer.objects.get()
    assert (transfer.direction, transfer.status) == ("top_up", "pending")

    client.force_login(staff("can_manage_merchants"))  # not the trader's flag: the row is not even listed
    assert client.get(reverse("admin:payments_cryptotransfer_approve", args=[transfer.pk])).status_code == 404

    client.force_login(staff("can_manage_traders"))
    listing = client.get(reverse("admin:payments_cryptotransfer_changelist"))
    assert listing.status_code == 200 and "Approve" in text(listing)
    approve = reverse("admin:payments_cryptotransfer_approve", args=[transfer.pk])
    unconfirmed = client.post(approve, {"reason": "", "tx_reference": "abc"})
    assert unconfirmed.status_code == 400
    transfer.refresh_from_db()
    assert transfer.status == "pending"

    assert client.post(approve, {"tx_reference": "abc", "confirm": "on"}).status_code == 302
    balance.refresh_from_db()
    assert balance.crypto_balance == Decimal("260")

    login(client, trader.user)
    assert "Approved and settled" in text(client.get(reverse("cabinet:trader_transfers")))


def test_declining_in_the_admin_needs_a_reason_and_the_merchant_sees_it(client, shop, staff):
    balance = BalanceStore.objects.get(store=shop)
    login(client, shop.merchant.user)
    client.post(reverse("cabinet:merchant_withdrawals"), {
        "balance": balance.pk, "amount": "34.5", "network": "TRC20", "address": TRON})
    transfer = CryptoTransfer.objects.get()

    client.force_login(staff("can_manage_merchants"))
    decline = reverse("admin:payments_cryptotransfer_decline", args=[transfer.pk])
    assert "Decline" in text(client.get(decline))
    assert client.post(decline, {"confirm": "on", "reason": ""}).status_code == 400
    assert client.post(decline, {"confirm": "on", "reason": "Wallet is sanctioned"}).status_code == 302
    balance.refresh_from_db()
    assert (balance.balance, balance.hold) == (Decimal("1234.5"), Decimal("0"))

    login(client, shop.merchant.user)
    page = text(client.get(reverse("cabinet:merchant_withdrawals")))
    assert "Declined" in page and "Wallet is sanctioned" in page


def test_a_role_that_only_shows_balances_sees_the_requests_but_cannot_ask(client, shop):
    """Asking to move money off the platform is its own permission (balances.withdraw), not seeing a store."""
    from tenancy.models import RolePermission

    RolePermission.objects.filter(role__key="merchant", permission__key="balances.withdraw").delete()
    login(client, shop.merchant.user)
    balance = BalanceStore.objects.get(store=shop)

    page = client.get(reverse("cabinet:merchant_withdrawals"))
    refused = client.post(reverse("cabinet:merchant_withdrawals"), {
        "balance": balance.pk, "amount": "100", "network": "TRC20", "address": TRON})

    assert page.status_code == 200 and "Ask to withdraw" not in text(page)
    assert refused.status_code == 403 and not CryptoTransfer.objects.exists()
    balance.refresh_from_db()
    assert balance.hold == 0
