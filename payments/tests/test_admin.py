"""The payments admin: flag guards, services behind saves, keys shown once, numbers masked, no N+1."""

import re
import string
import zoneinfo
from decimal import Decimal
from itertools import count

import pytest
from django import forms
from django.contrib import admin as django_admin
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from payments.models import (
    AvailableBankMethod,
    BalanceStore,
    Bank,
    Country,
    CryptoCurrency,
    CryptoTransfer,
    ExchangeRate,
    FiatCurrency,
    FullRequisitesSettings,
    IncomingOrder,
    Merchant,
    MerchantStore,
    OrderHistory,
    PaymentMethod,
    ReqTrader,
    TimeZone,
    Trader,
)
from payments.selectors.stores import find_store_by_private_key
from payments.services import merchants as merchant_services
from tenancy.models import Membership, RoleAssignment
from tenancy.scoping import tenant_context

from .cabinet_support import SCIENTIFIC, money
from .factories import (
    CryptoTransferFactory,
    MerchantFactory,
    TraderFactory,
    make_assigned_order,
    make_incoming_order,
    make_requisite,
    make_store,
)

pytestmark = pytest.mark.usefixtures("in_tenant")


def url(model, view="changelist", *args):
    return reverse(f"admin:payments_{model._meta.model_name}_{view}", args=args)


def form_data(response) -> dict:
    """The POST body the rendered admin change form would send as it is (readonly fields left out)."""
    data = {}

    def put(key, field, value):
        if isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
        elif value is None:
            data[key] = ""
        else:
            data[key] = str(value)

    form = response.context["adminform"].form
    for name, field in form.fields.items():
        put(form.add_prefix(name), field, form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for inline_form in formset.forms:
            for name, field in inline_form.fields.items():
                put(inline_form.add_prefix(name), field, inline_form[name].value())
    return data


@pytest.fixture
def superuser(tenant):
    user = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(tenant=tenant, user=user, is_default=True)
    return user


# --- who may see and do what ------------------------------------------------------------------------------

def test_staff_without_payments_flags_cannot_open_payments_admin(client, staff):
    client.force_login(staff())  # a support profile with every flag off

    assert client.get("/admin/payments/").status_code == 404
    assert client.get(url(ReqTrader)).status_code == 403
    assert client.get(url(IncomingOrder)).status_code == 403


def test_readonly_support_sees_orders_but_cannot_touch_requisites_or_cancel(client, staff, refs):
    store, _ = make_store(refs)
    order = make_incoming_order(store)
    client.force_login(staff("can_view_orders"))

    assert client.get(url(IncomingOrder)).status_code == 200
    assert client.get(url(IncomingOrder, "change", order.pk)).status_code == 200
    assert client.get(url(ReqTrader, "add")).status_code == 403
    assert client.get(url(MerchantStore)).status_code == 403
    response = client.post(url(IncomingOrder), {"action": "cancel_orders", "_selected_action": [order.pk]})
    assert response.status_code in (200, 302, 403)
    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.NEW


def test_the_incoming_orders_list_shows_the_lifecycle_status(client, staff, refs):
    store, _ = make_store(refs)
    completed = make_assigned_order(store, make_requisite(refs), status=OrderHistory.Status.COMPLETED)
    waiting = make_incoming_order(store, status=IncomingOrder.Status.RETRYING)
    client.force_login(staff("can_view_orders"))

    page = client.get(url(IncomingOrder))
    done_only = client.get(url(IncomingOrder), {"lifecycle": "completed"})

    assert page.status_code == 200
    rows = {row.hash_id: row for row in page.context["cl"].result_list}
    admin_view = page.context["cl"].model_admin
    assert admin_view.lifecycle_status(rows[completed.hash_id]) == "Completed"
    assert admin_view.intake_status(rows[completed.hash_id]) == "Assigned"
    assert admin_view.lifecycle_status(rows[waiting.hash_id]) == "New"
    assert b'<td class="field-lifecycle_status">Completed</td>' in page.content
    assert [row.hash_id for row in done_only.context["cl"].result_list] == [completed.hash_id]


def test_order_support_cancels_only_unassigned_orders(client, staff, refs):
    store, _ = make_store(refs)
    open_order = make_incoming_order(store)
    assigned = make_assigned_order(store, make_requisite(refs)).incoming_order
    client.force_login(staff("can_manage_orders", "can_view_orders"))

    selected = {"action": "cancel_orders", "_selected_action": [open_order.pk, assigned.pk]}
    confirm = client.post(url(IncomingOrder), {**selected, "index": "0"})
    response = client.post(url(IncomingOrder), {**selected, "confirm": "yes", "reason": "customer left"})

    assert confirm.status_code == 200 and "reason" in confirm.context["form"].fields  # asks first
    assert response.status_code == 302
    open_order.refresh_from_db()
    assigned.refresh_from_db()
    assert (open_order.status, assigned.status) == ("cancelled", "assigned")
    assert AuditLog.objects.filter(action="order.cancelled").count() == 1


def test_staff_of_one_tenant_never_open_another_tenants_rows(client, staff, other_tenant):
    with tenant_context(other_tenant):
        from .factories import make_reference_data

        foreign = make_requisite(make_reference_data(), number="4111111111111111")
    client.force_login(staff("can_edit_trader_settings", "can_view_sensitive_data"))

    listing = client.get(url(ReqTrader))
    change = client.get(url(ReqTrader, "change", foreign.pk))
    reveal = client.post(url(ReqTrader, "reveal_number", foreign.pk), {"reason": "curious"})

    assert listing.status_code == 200 and listing.context["cl"].result_count == 0
    assert change.status_code == 302  # "doesn't exist", back to the index
    assert reveal.status_code == 404
    assert not AuditLog.objects.filter(action="requisite.number_revealed").exists()


def test_staff_without_a_tenant_see_empty_lists_and_cannot_add(client, refs):
    make_requisite(refs)
    loner = UserFactory(is_staff=True, is_superuser=True)  # no membership anywhere
    client.force_login(loner)

    with tenant_context(None):
        listing = client.get(url(ReqTrader))
        add = client.get(url(ReqTrader, "add"))

    assert listing.status_code == 200 and listing.context["cl"].result_count == 0
    assert add.status_code == 403


# --- merchants and stores -------------------------------------------------------------------------------

def test_a_merchant_created_in_admin_gets_a_store_and_keys_shown_once(client, staff, refs, tenant):
    manager = staff("can_manage_merchants", "can_edit_limits")
    client.force_login(manager)
    user = UserFactory(email="shop-owner@example.com")

    response = client.post(url(Merchant, "add"), {"user": user.pk, "first_name": "Shop", "last_name": "Owner",
                                                  "avatar_url": "", "verification_level": "basic"})
    assert response.status_code == 302, response.content[:2000]
    merchant = Merchant.objects.get(user=user)
    assert RoleAssignment.objects.filter(tenant=tenant, user=user, role__key="merchant").exists()

    response = client.post(url(MerchantStore, "add"), {
        "merchant": merchant.pk, "store_name": "Shop", "fiat_currency": refs.thb.pk, "crypto_currency": refs.usdt.pk,
        "lower_limit": "100.00", "upper_limit": "20000.00", "pay_in_commission_percent": "2",
        "pay_out_commission_percent": "1.5", "pay_in_enabled": "on", "pay_out_enabled": "on", "access": "on",
        "trafic_access": "on", "callback_url": "https://shop.example/callback"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw_key = re.search(r'id="private-api-key">(sk_[^<]+)<', response.content.decode()).group(1)
    store = MerchantStore.objects.get(merchant=merchant)
    assert find_store_by_private_key(raw_key).pk == store.pk
    assert AuditLog.objects.filter(action="store.created", actor=manager).exists()
    change_page = client.get(url(MerchantStore, "change", store.pk)).content.decode()
    assert raw_key not in change_page and raw_key[10:] not in change_page
    assert store.private_api_key_prefix in change_page


def test_rotating_a_store_key_in_admin(client, staff, refs):
    store, old_key = make_store(refs)
    client.force_login(staff("can_edit_limits"))
    assert client.post(url(MerchantStore, "rotate_keys", store.pk)).status_code == 403

    client.force_login(staff("can_manage_merchants"))
    confirm = client.get(url(MerchantStore, "rotate_keys", store.pk))
    response = client.post(url(MerchantStore, "rotate_keys", store.pk))

    assert confirm.status_code == 200
    assert "sk_" not in confirm.content.decode().replace(store.private_api_key_prefix, "")
    new_key = re.search(r'id="private-api-key">(sk_[^<]+)<', response.content.decode()).group(1)
    assert find_store_by_private_key(old_key) is None
    assert find_store_by_private_key(new_key).pk == store.pk


def test_store_limits_are_read_only_without_can_edit_limits(client, staff, refs):
    store, _ = make_store(refs)
    client.force_login(staff("can_manage_merchants"))
    page = client.get(url(MerchantStore, "change", store.pk))
    data = form_data(page)
    assert "upper_limit" not in data
    assert money("50,000.00", "THB", "50000.00") in page.content.decode()  # read, not edited: shown as money

    response = client.post(url(MerchantStore, "change", store.pk), {**data, "upper_limit": "99999.00",
                                                                     "store_name": "Renamed"})

    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.store_name, store.upper_limit) == ("Renamed", Decimal("50000.00"))

    client.force_login(staff("can_edit_limits"))
    data = form_data(client.get(url(MerchantStore, "change", store.pk)))
    assert "store_name" not in data
    client.post(url(MerchantStore, "change", store.pk), {**data, "upper_limit": "99999.00"})
    store.refresh_from_db()
    assert store.upper_limit == Decimal("99999.00")
    assert AuditLog.objects.filter(action="store.changed").count() == 2


# --- traders and requisites -----------------------------------------------------------------------------

def test_a_requisite_added_in_admin_is_encrypted_masked_and_weighted(client, staff, refs):
    trader = TraderFactory(trafic_priority=4)
    client.force_login(staff("can_edit_trader_settings"))

    bad = client.post(url(ReqTrader, "add"), {"trader": trader.pk, "fiat": refs.thb.pk, "method": refs.card.pk,
                                              "bank": refs.bank.pk, "new_req_number": "12@@34567890",
                                              "status": "approve"})
    assert bad.status_code == 200 and not ReqTrader.objects.exists()
    assert "34567890" not in bad.content.decode()

    response = client.post(url(ReqTrader, "add"), {"trader": trader.pk, "fiat": refs.thb.pk,
                                                   "method": refs.card.pk, "bank": refs.bank.pk,
                                                   "new_req_number": "4111 2222 3333 4444", "status": "approve"})

    requisite = ReqTrader.objects.get()
    assert response.status_code == 302 and response["Location"] == url(ReqTrader, "change", requisite.pk)
    assert (requisite.req_number, requisite.distribution_weight) == ("4111222233334444", 4)
    page = client.get(response["Location"]).content.decode()
    assert "4111222233334444" not in page and "•••• 4444" in page


def test_a_duplicate_number_is_a_form_error(client, staff, refs):
    make_requisite(refs, number="4111222233334444")
    trader = TraderFactory()
    client.force_login(staff("can_edit_trader_settings"))

    response = client.post(url(ReqTrader, "add"), {"trader": trader.pk, "fiat": refs.thb.pk,
                                                   "method": refs.card.pk, "bank": refs.bank.pk,
                                                   "new_req_number": "4111222233334444", "status": "approve"})

    assert response.status_code == 200
    assert "already registered" in response.content.decode()
    assert ReqTrader.objects.count() == 1


def test_a_priority_change_in_trader_admin_resyncs_weights(client, staff, refs):
    trader = TraderFactory(trafic_priority=5)
    requisites = [make_requisite(refs, trader=trader) for _ in range(3)]
    client.force_login(staff("can_manage_traders"))
    data = form_data(client.get(url(Trader, "change", trader.pk)))

    response = client.post(url(Trader, "change", trader.pk), {**data, "trafic_priority": "2"})

    assert response.status_code == 302
    assert {r.distribution_weight for r in ReqTrader.objects.filter(pk__in=[r.pk for r in requisites])} == {2}
    entry = AuditLog.objects.get(action="trader.priority_changed")
    assert len(entry.details["requisites_synced"]) == 3


def test_trader_limits_are_read_only_without_a_limits_flag(client, staff, refs):
    trader = TraderFactory(base_pay_in_limit=Decimal("1000.00"), preferred_fiat_currency=refs.thb)
    client.force_login(staff("can_manage_traders"))
    page = client.get(url(Trader, "change", trader.pk))
    data = form_data(page)
    assert "base_pay_in_limit" not in data
    assert money("1,000.00", "THB", "1000.00") in page.content.decode()

    client.post(url(Trader, "change", trader.pk), {**data, "base_pay_in_limit": "5"})

    trader.refresh_from_db()
    assert trader.base_pay_in_limit == Decimal("1000.00")


def test_weight_override_exclusion_and_limits_in_requisite_admin_are_audited(client, staff, refs):
    requisite = make_requisite(refs)
    support = staff("can_edit_trader_settings")
    client.force_login(support)
    data = form_data(client.get(url(ReqTrader, "change", requisite.pk)))
    data.update({"distribution_weight": "9", "is_excluded_from_distribution": "on", "change_reason": "fraud check",
                 "settings-0-turnover_day_max": "25000.00"})

    response = client.post(url(ReqTrader, "change", requisite.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    requisite.refresh_from_db()
    assert (requisite.distribution_weight, requisite.is_excluded_from_distribution) == (9, True)
    assert FullRequisitesSettings.objects.get(requisite=requisite).turnover_day_max == Decimal("25000.00")
    actions = set(AuditLog.objects.filter(actor=support).values_list("action", flat=True))
    assert actions >= {"requisite.weight_overridden", "requisite.exclusion_changed", "requisite.settings_changed"}
    assert AuditLog.objects.get(action="requisite.exclusion_changed").details["reason"] == "fraud check"


def test_requisite_limits_are_read_only_for_trader_managers_without_limit_flags(client, staff, refs):
    requisite = make_requisite(refs)
    FullRequisitesSettings.objects.filter(requisite=requisite).update(total_limit=Decimal("250000"))
    client.force_login(staff("can_manage_traders"))
    page = client.get(url(ReqTrader, "change", requisite.pk))
    data = form_data(page)
    assert "settings-0-turnover_day_max" not in data and "settings-0-total_limit" not in data
    assert money("250,000.00", "THB", "250000.00") in page.content.decode()

    client.post(url(ReqTrader, "change", requisite.pk), {**data, "settings-0-turnover_day_max": "1"})

    assert FullRequisitesSettings.objects.get(requisite=requisite).turnover_day_max is None


def test_the_whole_number_is_revealed_only_to_sensitive_data_staff_and_audited(client, staff, refs):
    requisite = make_requisite(refs, number="5500000000000004")
    client.force_login(staff("can_edit_trader_settings"))
    assert client.get(url(ReqTrader, "reveal_number", requisite.pk)).status_code == 403
    assert "Show whole number" not in client.get(url(ReqTrader, "change", requisite.pk)).content.decode()

    viewer = staff("can_view_sensitive_data")
    client.force_login(viewer)
    assert "Show whole number" in client.get(url(ReqTrader, "change", requisite.pk)).content.decode()
    confirm = client.get(url(ReqTrader, "reveal_number", requisite.pk))
    assert "5500000000000004" not in confirm.content.decode()
    assert not AuditLog.objects.filter(action="requisite.number_revealed").exists()

    shown = client.post(url(ReqTrader, "reveal_number", requisite.pk), {"reason": "appeal 7"})

    assert "5500000000000004" in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    entry = AuditLog.objects.get(action="requisite.number_revealed")
    assert (entry.actor, entry.details["reason"]) == (viewer, "appeal 7")


# --- no whole number anywhere, and no N+1 -----------------------------------------------------------------

_rows = count(100)
NUMBERS = ("4000123412341234", "5500987698769876", "2200555566667777")


def populate(refs, rows: int) -> dict:
    """`rows` of every kind the payments admin lists, sharing a store, a merchant and traders."""
    from payments.models import MovementKind
    from payments.services import ledger
    from payments.services.exchange_rates import record_exchange_rate

    store, _ = make_store(refs)
    created = {"store": store, "requisites": []}
    zones = sorted(zoneinfo.available_timezones())
    for _ in range(rows):
        index = next(_rows)
        code = string.ascii_uppercase[index // 26 % 19] + string.ascii_uppercase[index % 26]  # never "TH"
        country = Country.objects.create(code=code, name=f"Country {index}")
        TimeZone.objects.create(name=zones[index % len(zones)])
        FiatCurrency.objects.create(code=f"Q{code}", name=f"Fiat {index}", country=country)
        CryptoCurrency.objects.create(code=f"C{code}", name=f"Coin {index}")
        bank = Bank.objects.create(name=f"Bank {index}", country=country)
        method = PaymentMethod.objects.create(code=f"m{index}", name=f"Method {index}")
        AvailableBankMethod.objects.create(bank=bank, method=method)
        trader = TraderFactory()
        requisite = make_requisite(refs, trader=trader)
        created["requisites"].append(requisite)
        order = make_assigned_order(store, requisite)
        from payments.models import Appeal

        Appeal.objects.create(order=order, opened_by_role=Appeal.OpenedBy.CUSTOMER, reason="Paid, not confirmed")
        make_incoming_order(store, client_id=f"c{index}")
        make_store(refs)
        MerchantFactory()
        ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("1"),
                                   kind=MovementKind.DEPOSIT)
        ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                           amount=Decimal("2"), kind=MovementKind.DEPOSIT)
        ledger.post_trader_fiat_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                         amount=Decimal("3"), kind=MovementKind.DEPOSIT)
        record_exchange_rate(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=Decimal("36") + index)
        from payments.models import OwnerOfRequisites

        OwnerOfRequisites.objects.create(trader=trader, full_name=f"Owner {index}")
        from payments.callbacks.events import enqueue_order_event
        from payments.models import CallbackAttempt

        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
        CallbackAttempt.objects.create(event=event, status_code=500, latency_ms=5, error="HTTP 500")
        from payments.models import BalanceStore, BalanceTrader
        from payments.services import transfers

        address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
        transfers.request_trader_transfer(trader_balance=BalanceTrader.objects.get(trader=trader),
                                          direction="top_up", amount=Decimal("1"), network="TRC20",
                                          address=address, actor=trader.user)
        transfers.request_store_withdrawal(store_balance=BalanceStore.objects.get(store=store),
                                           amount=Decimal("0.5"), network="TRC20", address=address,
                                           actor=store.merchant.user)
    return created


def payments_admins():
    return [(model, model_admin) for model, model_admin in django_admin.site._registry.items()
            if model._meta.app_label == "payments"]


def test_no_page_log_or_query_of_the_payments_admin_carries_a_whole_number(client, superuser, refs, caplog):
    import logging

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    caplog.set_level(logging.DEBUG)
    with CaptureQueriesContext(connection) as setup_queries:
        created = populate(refs, 1)
        trader = created["requisites"][0].trader
        owner = trader.requisite_owners.first()
        requisites = [make_requisite(refs, trader=trader, number=n, owner_of_requisites=owner) for n in NUMBERS]
        for requisite in requisites:
            make_assigned_order(created["store"], requisite)
    client.force_login(superuser)

    pages = {}
    with CaptureQueriesContext(connection) as page_queries:
        for model, _ in payments_admins():
            pages[f"{model.__name__} list"] = client.get(url(model))
            pages[f"{model.__name__} search"] = client.get(url(model), {"q": NUMBERS[0][-4:]})
            pages[f"{model.__name__} add"] = client.get(url(model, "add"))
            obj = model.objects.order_by("-pk").first()
            for view in ("change", "history", "delete"):
                pages[f"{model.__name__} {view}"] = client.get(url(model, view, obj.pk))
        for requisite in requisites:
            pages[f"requisite {requisite.pk}"] = client.get(url(ReqTrader, "change", requisite.pk))
            pages[f"reveal form {requisite.pk}"] = client.get(url(ReqTrader, "reveal_number", requisite.pk))
        pages["trader"] = client.get(url(Trader, "change", trader.pk))
        pages["index"] = client.get("/admin/payments/")

    assert all(page.status_code in (200, 302, 403) for page in pages.values()), {
        name: page.status_code for name, page in pages.items() if page.status_code not in (200, 302, 403)}
    assert pages["ReqTrader list"].status_code == 200
    texts = {name: page.content.decode() for name, page in pages.items()}
    sql = " ".join(f"{q['sql']}" for q in setup_queries.captured_queries + page_queries.captured_queries)
    audit = str(list(AuditLog.objects.values_list("description", "details")))
    for number in NUMBERS:
        leaks = [name for name, text in texts.items() if number in text]
        assert not leaks, f"{number} shown on {leaks}"
        assert number not in caplog.text
        assert number not in sql
        assert number not in audit
    assert "•••• 1234" in texts["ReqTrader list"]


@pytest.mark.parametrize("model", [model for model, _ in payments_admins()], ids=lambda m: m.__name__)
def test_changelists_run_the_same_few_queries_for_3_rows_or_30(client, superuser, refs, model, monkeypatch,
                                                               django_assert_max_num_queries):
    from django.contrib import admin
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Both lists span pages, so both take the paged path (ids first, then the rows: core.pagination).
    monkeypatch.setattr(admin.site._registry[model], "list_per_page", 2)
    client.force_login(superuser)
    populate(refs, 3)
    client.get(url(model))  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(model)).status_code == 200
    populate(refs, 27)

    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = client.get(url(model))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 3
    assert len(many.captured_queries) <= 20


def test_order_history_admin_is_read_only(client, superuser, refs):
    store, _ = make_store(refs)
    order = make_assigned_order(store, make_requisite(refs))
    client.force_login(superuser)

    page = client.get(url(OrderHistory, "change", order.pk))

    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    assert client.get(url(OrderHistory, "add")).status_code == 403


def test_amounts_in_the_payments_admin_read_for_people(client, superuser, refs):
    """Lists and read-only pages show money with separators, display precision and the currency's code, the
    stored value on hover; a rate keeps its places; never a raw `0E-8`."""
    from payments.models import MovementKind
    from payments.services import ledger
    from payments.services.exchange_rates import record_exchange_rate

    store, _ = make_store(refs)
    requisite = make_requisite(refs, trader=TraderFactory(preferred_fiat_currency=refs.thb,
                                                          base_pay_in_limit=Decimal("15000")))
    FullRequisitesSettings.objects.filter(requisite=requisite).update(turnover_day_max=Decimal("250000"))
    order = make_assigned_order(store, requisite, trader_commission=Decimal("0"))
    ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("1234.5"),
                               kind=MovementKind.DEPOSIT)
    exchange_rate = record_exchange_rate(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=Decimal("36.45"))
    transfer = CryptoTransferFactory()
    coin = transfer.balance.crypto_currency.code
    client.force_login(superuser)

    pages = {name: client.get(address).content.decode() for name, address in {
        "orders": url(OrderHistory),
        "order": url(OrderHistory, "change", order.pk),
        "intake": url(IncomingOrder, "change", order.incoming_order_id),
        "stores": url(MerchantStore),
        "traders": url(Trader),
        "settings": url(FullRequisitesSettings),
        "rates": url(ExchangeRate),
        "rate": url(ExchangeRate, "change", exchange_rate.pk),
        "balance": url(BalanceStore, "change", BalanceStore.objects.get(store=store).pk),
        "transfer": url(CryptoTransfer, "change", transfer.pk),
        "approve": url(CryptoTransfer, "approve", transfer.pk),
    }.items()}

    fiat, crypto = money("1,000.00", "THB", "1000.00"), money("27.4348", "USDT", "27.43484225")
    rate = '<span class="money" title="36.45000000 THB per USDT">36.45\u00a0THB per USDT</span>'
    assert fiat in pages["orders"] and crypto in pages["orders"]
    assert fiat in pages["order"] and crypto in pages["order"] and rate in pages["order"]
    assert money("0.00", "USDT", "0.00000000") in pages["order"]        # the trader's commission
    assert money("0.5487", "USDT", "0.54869684") in pages["order"]      # the store's
    assert 'class="form-row field-total_fiat"' in pages["order"]         # a row of the field, as before
    assert fiat in pages["intake"] and rate in pages["intake"]
    assert money("50,000.00", "THB", "50000.00") in pages["stores"]
    assert money("15,000.00", "THB", "15000.00") in pages["traders"]
    assert money("250,000.00", "THB", "250000.00") in pages["settings"]
    assert rate in pages["rates"] and rate in pages["rate"] and "36.45000000</div>" not in pages["rate"]
    assert money("1,234.50", "USDT", "1234.50000000") in pages["balance"]
    assert money("12.50", coin, "12.50000000") in pages["transfer"]
    assert money("12.50", coin, "12.50000000") in pages["approve"]
    for name, page in pages.items():
        assert not SCIENTIFIC.search(page), name


def test_a_service_refusal_in_admin_is_a_message_not_an_error(client, staff, refs, tenant):
    user = UserFactory()
    merchant_services.create_merchant(tenant=tenant, user=user)
    client.force_login(staff("can_manage_merchants"))

    response = client.post(url(Merchant, "add"), {"user": user.pk, "first_name": "Again", "last_name": "",
                                                  "avatar_url": "", "verification_level": "unverified"},
                           follow=True)

    assert response.status_code == 200
    assert Merchant.objects.filter(user=user).count() == 1


def test_direct_posts_without_the_flag_are_refused_and_change_nothing(client, staff, refs):
    trader = TraderFactory()
    requisite = make_requisite(refs, trader=trader)
    client.force_login(staff("can_view_orders"))

    add = client.post(url(ReqTrader, "add"), {"trader": trader.pk, "fiat": refs.thb.pk, "method": refs.card.pk,
                                              "bank": refs.bank.pk, "new_req_number": "4111222233334444",
                                              "status": "approve"})
    change = client.post(url(ReqTrader, "change", requisite.pk), {"distribution_weight": "0", "status": "paused"})
    reveal = client.post(url(ReqTrader, "reveal_number", requisite.pk), {"reason": "x"})
    trader_change = client.post(url(Trader, "change", trader.pk), {"trafic_priority": "0"})

    assert (add.status_code, change.status_code, reveal.status_code, trader_change.status_code) == (403,) * 4
    requisite.refresh_from_db()
    assert (ReqTrader.objects.count(), requisite.distribution_weight, requisite.status) == (1, 5, "approve")
    assert not AuditLog.objects.filter(action__startswith="requisite.", actor__isnull=False).exists()
