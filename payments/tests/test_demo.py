"""The demo data: idempotent, complete enough to try the store API, and its printed key works."""

import re

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.demo import ensure_user
from accounts.models import OperatorApplication
from payments import demo
from payments.models import BalanceTrader, CryptoTransfer, ExchangeRate, MerchantStore, OrderHistory, ReqTrader, Trader
from payments.selectors.ledger import verify_tenant_ledger
from payments.selectors.rates import current_rate
from payments.selectors.stores import find_store_by_private_key
from payments.services import order_state, turnover
from tenancy.models import Tenant
from tenancy.scoping import tenant_context


def run_seed() -> list[str]:
    lines: list[str] = []
    demo.seed(lines.append)
    return lines


def printed_key(lines: list[str]) -> str:
    return next(re.search(r"Bearer (sk_\S+)", line).group(1) for line in lines if "Bearer" in line)


@pytest.mark.django_db
def test_seeding_twice_keeps_one_set_of_data_and_rotates_the_printed_key():
    ensure_user("superadmin@demo.local", "Sofia Super", is_staff=True, is_superuser=True)  # as accounts.demo does
    first = run_seed()
    second = run_seed()

    tenant = Tenant.objects.get(name=demo.DEMO_TENANT)
    with tenant_context(tenant):
        assert MerchantStore.objects.count() == 1
        assert Trader.objects.count() == 2
        assert ReqTrader.objects.filter(status="approve").count() == 4
        assert ExchangeRate.objects.filter(fiat_currency__code="THB", crypto_currency__code="USDT").exists()
        # 15 000 USDT deposited; each completed PayIn moved its amount to the store, less the commission
        completed = OrderHistory.objects.filter(status="completed").aggregate(
            sold=Sum("amount_currency"), earned=Sum("trader_commission"))
        assert BalanceTrader.objects.aggregate(total=Sum("crypto_balance"))["total"] == (
            15000 - completed["sold"] + completed["earned"])
        stages = dict(OrderHistory.objects.filter(incoming_order__client_id__in=[
            "demo-completed", "demo-paid", "demo-awaiting-payment"]).values_list("incoming_order__client_id", "status"))
        assert stages == {"demo-completed": "completed", "demo-paid": "processing", "demo-awaiting-payment": "pending"}
        # a week of history: every one of the last 7 days has completed orders, for the dashboards
        days = {order.completed_at.date() for order in OrderHistory.objects.filter(
            status="completed", incoming_order__client_id__startswith="demo-week-")}
        assert len(days) == demo.HISTORY_DAYS
        assert sorted(CryptoTransfer.objects.values_list("status", flat=True)) == ["pending", "pending", "settled"]
        for requisite in ReqTrader.objects.select_related("trader"):
            assert requisite.distribution_weight == requisite.trader.trafic_priority
        # the week was moved into the past after assignment counted it today: the kept turnover follows
        assert turnover.mismatches(today=turnover.utc_day(timezone.now())) == []
        assert order_state.mismatches() == []
    assert not verify_tenant_ledger(tenant.pk).differences
    assert OperatorApplication.objects.filter(tenant=tenant, status="pending").count() == 1
    old_key, new_key = printed_key(first), printed_key(second)
    with tenant_context(None):
        assert find_store_by_private_key(old_key) is None
        assert find_store_by_private_key(new_key).tenant_id == tenant.pk
    assert any("merchant@demo.local" in line for line in second)
    assert any("trader1@demo.local" in line for line in second)
    assert not any(number in "\n".join(first + second) for number in ("4000123456781111", "2202200000002222"))
    with tenant_context(tenant):
        assert current_rate(tenant, "THB", "USDT").rate > 0
