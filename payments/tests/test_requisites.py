"""Traders, requisites, distribution weights and the protected requisite number."""

import logging
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from payments.errors import PaymentsError
from payments.models import FullRequisitesSettings, OrderHistory, OrderType, ReqTrader, Trader
from payments.selectors.customer import payment_details_for_customer
from payments.services import requisites as requisite_services
from payments.services import traders as trader_services
from tenancy.models import RoleAssignment
from tenancy.scoping import tenant_context

from .factories import TraderFactory, make_assigned_order, make_requisite, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


def test_creating_a_trader_assigns_the_trader_role(tenant):
    user = UserFactory()

    trader = trader_services.create_trader(tenant=tenant, user=user, trafic_priority=3)

    assert user.trader_profile == trader
    assert RoleAssignment.objects.filter(tenant=tenant, user=user, role__key="trader").exists()
    assert AuditLog.objects.filter(action="trader.created", target_id=str(trader.pk)).exists()


def test_the_number_is_encrypted_with_last4_and_digest(refs, caplog):
    caplog.set_level(logging.DEBUG)
    requisite = make_requisite(refs, number="4000 1234 5678 9010")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM req_traders WHERE id = %s", [requisite.pk])
        row = cursor.fetchone()
    assert not any("4000123456789010" in str(value) for value in row)
    fresh = ReqTrader.objects.get(pk=requisite.pk)
    assert fresh.req_number == "4000123456789010"
    assert fresh.req_number_last4 == "9010"
    assert str(fresh).startswith("•••• 9010")
    assert "4000123456789010" not in caplog.text
    assert "4000123456789010" not in str(list(AuditLog.objects.values_list("description", "details")))


def test_a_number_is_registered_once_per_method(refs):
    make_requisite(refs, number="4000123456789010")

    with pytest.raises(PaymentsError) as refused:
        make_requisite(refs, number="4000-1234-5678-9010")

    assert refused.value.code == "duplicate_requisite"
    assert "4000" not in refused.value.message and "9010" not in refused.value.message
    make_requisite(refs, number="4000123456789010", method=refs.promptpay)  # another method: allowed


def test_a_bad_number_is_refused_without_repeating_it(refs):
    with pytest.raises(PaymentsError) as refused:
        make_requisite(refs, number="12ab!@#$%^7890")

    assert refused.value.code == "invalid_requisite_number"
    assert "7890" not in str(refused.value.message) + str(refused.value.fields)


def test_the_bank_must_offer_the_method(refs):
    from payments.models import AvailableBankMethod

    AvailableBankMethod.objects.filter(bank=refs.bank, method=refs.promptpay).update(is_active=False)

    with pytest.raises(PaymentsError) as refused:
        make_requisite(refs, method=refs.promptpay)

    assert refused.value.code == "method_not_available"


def test_the_bank_must_be_of_the_requisites_currency(refs):
    """As the store API decides what a currency can be served with (payments.selectors.offers.served_offers)."""
    from payments.models import AvailableBankMethod, Bank, Country

    russia = Country.objects.create(code="RU", name="Russia")
    refs.rub.country = russia
    refs.rub.save()
    sberbank = Bank.objects.create(name="Sberbank", country=russia)
    AvailableBankMethod.objects.create(bank=sberbank, method=refs.card)

    with pytest.raises(PaymentsError) as refused:
        make_requisite(refs, fiat=refs.thb, bank=sberbank)

    assert refused.value.code == "bank_not_in_currency" and "bank" in refused.value.fields
    assert make_requisite(refs, fiat=refs.rub, bank=sberbank).bank == sberbank
    assert not ReqTrader.objects.filter(fiat=refs.thb, bank=sberbank).exists()


def test_a_new_requisite_takes_its_weight_from_the_traders_priority(refs):
    trader = TraderFactory(trafic_priority=7)

    requisite = make_requisite(refs, trader=trader)

    assert requisite.distribution_weight == 7
    assert FullRequisitesSettings.objects.get(requisite=requisite).pay_in is True


def test_a_priority_change_resyncs_every_requisite_and_is_audited(refs, staff):
    support = staff("can_edit_trader_settings")
    trader = TraderFactory(trafic_priority=5)
    first, second = make_requisite(refs, trader=trader), make_requisite(refs, trader=trader)
    requisite_services.set_distribution_weight(requisite=first, distribution_weight=9, actor=support)
    untouched = make_requisite(refs)

    synced = trader_services.set_trafic_priority(trader=trader, trafic_priority=2, actor=support)

    assert synced == 2
    assert set(ReqTrader.objects.filter(trader=trader).values_list("distribution_weight", flat=True)) == {2}
    assert ReqTrader.objects.get(pk=untouched.pk).distribution_weight == 5
    entry = AuditLog.objects.get(action="trader.priority_changed")
    assert entry.actor == support
    assert entry.details["changes"]["trafic_priority"] == {"old": 5, "new": 2}
    assert sorted(entry.details["requisites_synced"]) == sorted([first.pk, second.pk])


def test_update_trader_with_a_new_priority_resyncs_too(refs, staff):
    trader = TraderFactory(trafic_priority=5)
    requisite = make_requisite(refs, trader=trader)

    trader_services.update_trader(trader=trader, changes={"trafic_priority": 1, "in_work": False},
                                  actor=staff("can_manage_traders", kind="admin"))

    assert Trader.objects.get(pk=trader.pk).trafic_priority == 1
    assert ReqTrader.objects.get(pk=requisite.pk).distribution_weight == 1


def test_priority_and_weight_changes_need_the_trader_settings_flag(refs, staff):
    readonly = staff("can_view_orders")
    requisite = make_requisite(refs)

    with pytest.raises(PermissionDenied):
        trader_services.set_trafic_priority(trader=requisite.trader, trafic_priority=1, actor=readonly)
    with pytest.raises(PermissionDenied):
        requisite_services.set_distribution_weight(requisite=requisite, distribution_weight=1, actor=readonly)
    with pytest.raises(PermissionDenied):
        requisite_services.set_requisite_exclusion(requisite=requisite, excluded=True, actor=readonly)

    assert ReqTrader.objects.get(pk=requisite.pk).distribution_weight == 5
    assert not AuditLog.objects.filter(action__startswith="requisite.w").exists()


def test_weight_override_and_exclusion_are_audited(refs, staff):
    support = staff("can_edit_trader_settings")
    requisite = make_requisite(refs)

    requisite_services.set_distribution_weight(requisite=requisite, distribution_weight=8, actor=support,
                                               reason="new card")
    requisite_services.set_requisite_exclusion(requisite=requisite, excluded=True, actor=support,
                                               reason="bank maintenance")

    requisite.refresh_from_db()
    assert (requisite.distribution_weight, requisite.is_excluded_from_distribution) == (8, True)
    weight = AuditLog.objects.get(action="requisite.weight_overridden")
    assert weight.details["changes"]["distribution_weight"] == {"old": 5, "new": 8}
    exclusion = AuditLog.objects.get(action="requisite.exclusion_changed")
    assert exclusion.details["changes"]["is_excluded_from_distribution"] == {"old": False, "new": True}
    assert exclusion.details["reason"] == "bank maintenance"


def test_requisite_limits_need_a_limits_flag(refs, staff):
    requisite = make_requisite(refs)

    with pytest.raises(PermissionDenied):
        requisite_services.update_requisite_settings(requisite=requisite, changes={"turnover_day_max": Decimal("10")},
                                                     actor=staff("can_manage_traders", kind="admin"))
    requisite_services.update_requisite_settings(requisite=requisite, changes={"turnover_day_max": Decimal("10")},
                                                 actor=staff("can_edit_limits"))

    assert FullRequisitesSettings.objects.get(requisite=requisite).turnover_day_max == Decimal("10")
    assert AuditLog.objects.filter(action="requisite.settings_changed").count() == 1


def test_requisite_limits_must_be_ordered(refs):
    requisite = make_requisite(refs)

    with pytest.raises(PaymentsError):
        requisite_services.update_requisite_settings(
            requisite=requisite, changes={"lower_limit": Decimal("500"), "upper_limit": Decimal("100")})


def test_only_sensitive_data_staff_see_the_whole_number_and_it_is_audited(refs, staff):
    requisite = make_requisite(refs, number="5500000000000004")

    with pytest.raises(PermissionDenied):
        requisite_services.reveal_requisite_number(requisite=requisite, viewer=staff("can_edit_trader_settings"))
    assert not AuditLog.objects.filter(action="requisite.number_revealed").exists()

    viewer = staff("can_view_sensitive_data")
    number = requisite_services.reveal_requisite_number(requisite=requisite, viewer=viewer, reason="appeal 12")

    assert number == "5500000000000004"
    entry = AuditLog.objects.get(action="requisite.number_revealed")
    assert (entry.actor, entry.target_id, entry.details["reason"]) == (viewer, str(requisite.pk), "appeal 12")
    assert "5500000000000004" not in entry.description + str(entry.details)


def test_the_paying_customer_sees_the_number_only_while_an_assigned_payin_awaits_payment(refs):
    store, _ = make_store(refs)
    requisite = make_requisite(refs, number="5500000000000004")
    payin = make_assigned_order(store, requisite)
    payout = make_assigned_order(store, requisite, order_type=OrderType.PAY_OUT)

    with tenant_context(None):
        details = payment_details_for_customer(payin.hash_id)
        assert payment_details_for_customer(payout.hash_id) is None
        assert payment_details_for_customer("not-a-hash") is None

    assert details.req_number == "5500000000000004"
    assert (details.amount, details.fiat_code, details.bank_name) == (Decimal("1000.00"), "THB", refs.bank.name)

    OrderHistory.objects.filter(pk=payin.pk).update(status=OrderHistory.Status.COMPLETED)
    with tenant_context(None):
        assert payment_details_for_customer(payin.hash_id) is None
