"""Store API: only what a store can be served with — GET /api/v1/methods, and intake's 422 for the rest.

A method or bank no requisite of the store's currency could ever take (no active bank of the
currency's country offers it) is not listed and is refused at intake; an order that merely finds
every requisite busy is accepted and retried as before.
"""

import pytest

from payments.models import AvailableBankMethod, Bank, Country, PaymentMethod
from tenancy.scoping import tenant_context

from .api_support import PAYIN, make_api_store

PAYINS = "/api/v1/payins"
METHODS = "/api/v1/methods"


@pytest.fixture
def api(tenant):
    """A THB store; besides the Thai banks (card, promptpay) a Russian bank offers card and sbp."""
    api = make_api_store(tenant)
    with tenant_context(tenant):
        russia = Country.objects.create(code="RU", name="Russia")
        api.refs.rub.country = russia
        api.refs.rub.save()
        sberbank = Bank.objects.create(name="Sberbank", country=russia)
        sbp = PaymentMethod.objects.create(code="sbp", name="SBP fast payments")
        for method in (api.refs.card, sbp):
            AvailableBankMethod.objects.create(bank=sberbank, method=method)
    return api


@pytest.fixture
def rub_api(api, tenant):
    """A RUB store in the same tenant, sharing the reference data."""
    return make_api_store(tenant, api.refs, fiat_currency=api.refs.rub, with_rate=False)


def _error(response) -> dict:
    return response.json()["error"]


def test_methods_lists_what_the_stores_currency_is_served_with(api, rub_api):
    thb = api.client().get(METHODS)
    rub = rub_api.client().get(METHODS)

    assert thb.status_code == 200
    assert thb.json() == [
        {"code": "card", "name": "Card transfer", "banks": ["Kasikornbank", "Siam Commercial Bank"]},
        {"code": "promptpay", "name": "PromptPay", "banks": ["Kasikornbank", "Siam Commercial Bank"]},
    ]  # no sbp, no Sberbank: no Thai bank offers them
    assert rub.json() == [{"code": "card", "name": "Card transfer", "banks": ["Sberbank"]},
                          {"code": "sbp", "name": "SBP fast payments", "banks": ["Sberbank"]}]


def test_an_offer_added_is_listed_and_accepted_at_once(api):
    assert "sbp" not in {row["code"] for row in api.client().get(METHODS).json()}
    with tenant_context(api.tenant):
        AvailableBankMethod.objects.create(bank=api.refs.bank, method=PaymentMethod.objects.get(code="sbp"))

    listed = api.client().get(METHODS).json()
    response = api.client().post(PAYINS, {**PAYIN, "method": "sbp"}, format="json")

    assert {"code": "sbp", "name": "SBP fast payments", "banks": ["Kasikornbank"]} in listed
    assert response.status_code == 201 and response.json()["method"] == "sbp"


def test_an_offer_turned_off_elsewhere_is_refused_once_the_cache_time_is_past(api, settings):
    """A change another process made (no signal here) is seen within STORE_API_CACHE_SECONDS (core.local_cache)."""
    client = api.client()
    assert client.post(PAYINS, {**PAYIN, "method": "promptpay"}, format="json").status_code == 201  # cached now
    with tenant_context(api.tenant):
        AvailableBankMethod.objects.filter(method=api.refs.promptpay).update(is_active=False)  # no signal
    still = client.post(PAYINS, {**PAYIN, "client_id": "order-2", "method": "promptpay"}, format="json")

    settings.STORE_API_CACHE_SECONDS = 0
    response = client.post(PAYINS, {**PAYIN, "client_id": "order-3", "method": "promptpay"}, format="json")

    assert still.status_code == 201
    assert response.status_code == 422 and _error(response)["code"] == "method_not_served"


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"method": "sbp"}, "method_not_served", "method"),
    ({"bank": "Sberbank"}, "bank_not_served", "bank"),
    ({"method": "card", "bank": "Sberbank"}, "bank_not_served", "bank"),
    ({"method": "sbp", "bank": "Kasikornbank"}, "method_not_served", "method"),
    ({"method": "wire"}, "unknown_payment_method", "method"),
    ({"bank": "Nowhere Bank"}, "unknown_bank", "bank"),
])
def test_intake_refuses_what_no_requisite_of_the_currency_could_take(api, fields, code, field):
    response = api.client().post(PAYINS, {**PAYIN, **fields}, format="json")

    assert response.status_code == 422, response.content
    error = _error(response)
    assert error["code"] == code and field in error["fields"]
    with tenant_context(api.tenant):
        from payments.models import IncomingOrder

        assert not IncomingOrder.objects.exists()


def test_the_same_method_is_served_for_a_store_whose_currency_has_it(rub_api):
    response = rub_api.client().post(PAYINS, {**PAYIN, "amount_fiat": "1000.00", "method": "sbp",
                                              "bank": "Sberbank"}, format="json")

    # no RUB rate in this test: the method passed, the price is what is missing
    assert response.status_code == 422 and _error(response)["code"] == "no_exchange_rate"


def test_an_order_whose_requisites_are_all_busy_is_accepted_and_retried(api, django_capture_on_commit_callbacks):
    """Served in THB (card), but no requisite is free (there is none at all): accepted, then retried."""
    client = api.client()
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(PAYINS, {**PAYIN, "method": "card", "bank": "Kasikornbank"}, format="json")

    assert created.status_code == 201
    order = client.get(f"/api/v1/orders/{created.json()['id']}").json()
    assert (order["status"], order["intake_status"]) == ("new", "retrying")


def test_another_tenants_offers_are_not_listed(api, other_tenant):
    other = make_api_store(other_tenant)
    with tenant_context(other_tenant):
        qr = PaymentMethod.objects.create(code="thai_qr", name="Thai QR")
        AvailableBankMethod.objects.create(bank=other.refs.bank, method=qr)

    assert "thai_qr" in {row["code"] for row in other.client().get(METHODS).json()}
    assert "thai_qr" not in {row["code"] for row in api.client().get(METHODS).json()}
    response = api.client().post(PAYINS, {**PAYIN, "method": "thai_qr"}, format="json")
    assert response.status_code == 422 and _error(response)["code"] == "unknown_payment_method"


def test_methods_needs_the_store_key(api):
    from rest_framework.test import APIClient

    assert APIClient().get(METHODS).status_code == 401
