"""Store API: POST /api/v1/payins and /payouts — authentication, every validation rule, what is written."""

from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from payments.models import ExchangeRate, IncomingOrder, MerchantStore, MovementKind, OrderType
from payments.services import ledger
from payments.tasks import assign_incoming_order_task
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .api_support import PAYIN, PAYOUT, RATE, fresh_rate, make_api_store
from .factories import make_requisite

PAYINS = "/api/v1/payins"
PAYOUTS = "/api/v1/payouts"


@pytest.fixture
def api(tenant):
    return make_api_store(tenant)


def _orders(api) -> list[IncomingOrder]:
    with tenant_context(api.tenant):
        return list(IncomingOrder.objects.select_related("target_method", "target_bank"))


def _set(api, **fields) -> None:
    with tenant_context(api.tenant):
        MerchantStore.objects.filter(pk=api.store.pk).update(**fields)


def _error(response) -> dict:
    return response.json()["error"]


# --- happy paths -----------------------------------------------------------------------------------


def test_payin_is_written_new_with_rate_and_commission_fixed(api, settings):
    settings.SITE_URL = "https://pay.example"
    _set(api, pay_in_commission_percent=Decimal("2.5"))

    response = api.client().post(PAYINS, {**PAYIN, "method": "card", "bank": "Kasikornbank",
                                          "return_url": "https://shop.example/back", "customer_ip": "203.0.113.9"},
                                 format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    [order] = _orders(api)
    assert body["id"] == order.hash_id
    assert body["type"] == "pay_in" and body["status"] == "new" and body["intake_status"] == "new"
    assert body["amount_fiat"] == "1000.00"
    assert body["amount_crypto"] == "27.39726027"  # 1000 / 36.5, 8 places half up
    assert body["exchange_rate"] == "36.50000000"
    assert body["store_commission"] == "0.68493151"  # 2.5 % of 27.39726027
    assert body["fiat_currency"] == "THB" and body["crypto_currency"] == "USDT"
    assert body["method"] == "card" and body["bank"] == "Kasikornbank"
    assert body["client_id"] == "order-1" and body["customer_id"] == "cust-1"
    assert body["payment_url"] == f"https://pay.example/pay/{order.hash_id}"
    assert order.status == IncomingOrder.Status.NEW and order.order_type == OrderType.PAY_IN
    assert order.amount_fiat == Decimal("1000.00") and order.amount_crypto is None
    assert order.total_fiat == Decimal("1000.00") and order.amount_currency == Decimal("27.39726027")
    assert order.store_commission == Decimal("0.68493151") and order.exchange_rate == RATE
    assert order.target_method.code == "card" and order.payment_method_id == order.target_method_id
    assert order.target_bank.name == "Kasikornbank" and order.bank_id == order.target_bank_id
    assert order.customer_ip == "203.0.113.9" and order.return_url == "https://shop.example/back"
    assert order.merchant_id == api.store.merchant_id and order.tenant_id == api.tenant.pk
    assert order.dispatched_at is not None


def test_payout_keeps_the_customer_requisite_encrypted_and_answers_it_masked(api):
    _set(api, pay_out_commission_percent=Decimal("1"))

    response = api.client().post(PAYOUTS, PAYOUT, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "pay_out" and body["payment_url"] is None
    assert body["amount_crypto"] == "10.00000000" and body["amount_fiat"] == "365.00"
    assert body["store_commission"] == "0.10000000"
    assert body["customer_requisite"] == "•••• 1234"
    assert "4111111111111234" not in response.content.decode()
    [order] = _orders(api)
    assert order.customer_requisite == "4111111111111234" and order.customer_requisite_last4 == "1234"
    assert order.amount_crypto == Decimal("10") and order.amount_fiat is None
    with tenant_context(api.tenant), connection.cursor() as cursor:
        cursor.execute("SELECT customer_requisite FROM incoming_orders WHERE id = %s", [order.pk])
        assert "4111" not in cursor.fetchone()[0]


def test_a_payin_may_be_asked_in_crypto_and_a_payout_in_fiat(api):
    client = api.client()

    payin = client.post(PAYINS, {"amount_crypto": "3"}, format="json")
    payout = client.post(PAYOUTS, {"amount_fiat": "730.00", "customer_requisite": "0812345678"}, format="json")

    assert payin.status_code == 201 and payin.json()["amount_fiat"] == "109.50"
    assert payout.status_code == 201 and payout.json()["amount_crypto"] == "20.00000000"


def test_the_assignment_is_enqueued_once_the_order_is_committed(api, django_capture_on_commit_callbacks):
    with (mock.patch.object(assign_incoming_order_task, "apply_async") as send,
          django_capture_on_commit_callbacks(execute=True) as callbacks):
        response = api.client().post(PAYINS, PAYIN, format="json")

    assert response.status_code == 201
    [order] = _orders(api)
    assert len(callbacks) == 1
    send.assert_called_once_with(args=[order.pk], kwargs={"tenant_id": str(api.tenant.pk)})


def test_a_broker_outage_does_not_turn_an_accepted_order_into_an_error(api, django_capture_on_commit_callbacks):
    outage = ConnectionError("no broker")
    with (mock.patch.object(assign_incoming_order_task, "apply_async", side_effect=outage),
          django_capture_on_commit_callbacks(execute=True)):
        response = api.client().post(PAYINS, PAYIN, format="json")

    assert response.status_code == 201
    assert [order.status for order in _orders(api)] == ["new"]


def test_on_commit_the_order_goes_to_assignment(api, django_capture_on_commit_callbacks):
    """Tasks run in-process in tests: with a funded trader requisite the order comes back assigned."""
    with tenant_context(api.tenant):
        requisite = make_requisite(api.refs)
        ledger.post_trader_crypto_movement(trader=requisite.trader, fiat_currency=api.refs.thb,
                                           crypto_currency=api.refs.usdt, amount=Decimal("1000"),
                                           kind=MovementKind.DEPOSIT)
    client = api.client()

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(PAYINS, {**PAYIN, "method": "card"}, format="json").json()

    assert created["status"] == "new"  # the answer is given before assignment
    order = client.get(f"/api/v1/orders/{created['id']}").json()
    assert order["status"] == "assigned" and order["intake_status"] == "assigned"


def test_intake_costs_one_statement_once_store_rate_and_method_are_cached(api, django_assert_num_queries):
    """Cold: store, what the currency is served with, rate, insert. Warm (core.local_cache): the INSERT alone.

    Inside the test's transaction the INSERT is wrapped in a savepoint (SAVEPOINT, RELEASE: a refused
    client_id must leave the transaction usable), hence two more here; in production (autocommit) there
    is none (test_in_autocommit_intake_is_one_statement).
    """
    client = api.client()
    body = {**PAYIN, "method": "card", "bank": "Kasikornbank"}
    with django_assert_num_queries(6):
        assert client.post(PAYINS, body, format="json").status_code == 201

    with django_assert_num_queries(3):
        assert client.post(PAYINS, {**body, "client_id": "order-2"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_intake_is_one_statement(tenant):
    """As in production (no transaction around the request): a warm intake is its INSERT alone, the
    client_id's uniqueness included (the constraint, not a look-up). Tasks run in-process in tests, so
    the assignment's statements follow it in the same request; the intake's part is what comes first."""
    api = make_api_store(tenant)
    client = api.client()
    body = {**PAYIN, "method": "card", "bank": "Kasikornbank"}
    assert client.post(PAYINS, body, format="json").status_code == 201

    with CaptureQueriesContext(connection) as captured:
        assert client.post(PAYINS, {**body, "client_id": "order-2"}, format="json").status_code == 201

    statements = [query["sql"] for query in captured.captured_queries]
    assert statements[0].startswith('INSERT INTO "incoming_orders"')
    assert not any("SAVEPOINT" in sql or '"client_id" =' in sql for sql in statements)


def test_with_an_idempotency_key_and_no_redis_it_is_the_claim_and_one_statement(api, django_assert_num_queries,
                                                                                is_postgres, settings):
    """The claim, then the order and the stored answer together (one statement on PostgreSQL).

    In production (autocommit) that is two statements; inside the test's transaction the claim's
    INSERT is wrapped in a savepoint (SAVEPOINT, RELEASE), hence two more here. With Redis the claim
    is its marker, and the statement alone remains (test_api_idempotency).
    """
    settings.REDIS_URL = ""
    client = api.client()
    client.post(PAYINS, {**PAYIN, "client_id": "warm-up"}, format="json")  # warm the caches

    # + SAVEPOINT and RELEASE around the order's statement (a refused client_id must leave the test's
    # transaction usable), which autocommit does not need
    with django_assert_num_queries(6 if is_postgres else 9):
        response = client.post(PAYINS, PAYIN, format="json", HTTP_IDEMPOTENCY_KEY="one-statement")

    assert response.status_code == 201
    replay = client.post(PAYINS, PAYIN, format="json", HTTP_IDEMPOTENCY_KEY="one-statement")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()
    assert len(_orders(api)) == 2


def test_a_disabled_store_is_refused_at_once_in_the_process_that_disabled_it(api):
    client = api.client()
    assert client.post(PAYINS, PAYIN, format="json").status_code == 201  # the store is now cached
    with tenant_context(api.tenant):
        api.store.access = False
        api.store.save()  # post_save empties this process's caches

    response = client.post(PAYINS, PAYIN, format="json")

    assert response.status_code == 403
    assert _error(response)["code"] == "store_disabled"


def test_another_process_change_is_seen_within_the_cache_time(api, settings):
    """A change that sends no signal here (another process, or a bulk UPDATE) waits out the cache time."""
    client = api.client()
    assert client.post(PAYINS, PAYIN, format="json").status_code == 201
    with tenant_context(api.tenant):
        MerchantStore.objects.filter(pk=api.store.pk).update(access=False)  # no signal
    assert client.post(PAYINS, {**PAYIN, "client_id": "order-2"}, format="json").status_code == 201  # still cached

    settings.STORE_API_CACHE_SECONDS = 0
    assert client.post(PAYINS, PAYIN, format="json").status_code == 403


# --- authentication and access ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer sk_not-a-key", "Bearer a b",
                                    "Bearer " + "x" * 300])
def test_a_missing_or_wrong_key_is_401(api, client, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.post(PAYINS, PAYIN, content_type="application/json", **kwargs)

    assert response.status_code == 401
    assert _error(response)["code"] in {"not_authenticated", "invalid_api_key"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _orders(api) == []


def test_a_rotated_key_stops_working_at_once(api):
    from payments.services.merchants import rotate_store_keys

    old_client = api.client()
    with tenant_context(api.tenant):
        new_key = rotate_store_keys(store=api.store)
    api.key = new_key

    assert old_client.post(PAYINS, PAYIN, format="json").status_code == 401
    assert api.client().post(PAYINS, PAYIN, format="json").status_code == 201


def test_a_disabled_store_is_403(api):
    _set(api, access=False)

    response = api.client().post(PAYINS, PAYIN, format="json")

    assert response.status_code == 403 and _error(response)["code"] == "store_disabled"
    assert api.client().get("/api/v1/orders").status_code == 403
    assert _orders(api) == []


def test_a_blocked_merchant_is_403(api):
    User.objects.filter(pk=api.store.merchant.user_id).update(status=User.Status.BLOCKED)

    response = api.client().post(PAYINS, PAYIN, format="json")

    assert response.status_code == 403 and _error(response)["code"] == "merchant_blocked"
    assert _orders(api) == []


def test_a_suspended_tenant_is_403(api):
    Tenant.objects.filter(pk=api.tenant.pk).update(status=Tenant.Status.SUSPENDED)

    response = api.client().get("/api/v1/balance")

    assert response.status_code == 403 and _error(response)["code"] == "tenant_suspended"


@pytest.mark.parametrize(("flag", "path", "body", "code"), [
    ("trafic_access", PAYINS, PAYIN, "store_traffic_disabled"),
    ("pay_in_enabled", PAYINS, PAYIN, "pay_in_disabled"),
    ("pay_out_enabled", PAYOUTS, PAYOUT, "pay_out_disabled"),
])
def test_store_flags_refuse_new_orders_with_403(api, flag, path, body, code):
    _set(api, **{flag: False})

    response = api.client().post(path, body, format="json")

    assert response.status_code == 403 and _error(response)["code"] == code
    assert _orders(api) == []


def test_payouts_still_work_when_only_payins_are_off(api):
    _set(api, pay_in_enabled=False)

    assert api.client().post(PAYOUTS, PAYOUT, format="json").status_code == 201


# --- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({}, "amount_fiat"),
    ({"amount_fiat": "100.00", "amount_crypto": "1"}, "amount_fiat"),
    ({"amount_fiat": "0"}, "amount_fiat"),
    ({"amount_fiat": "-5.00"}, "amount_fiat"),
    ({"amount_fiat": "10.001"}, "amount_fiat"),
    ({"amount_fiat": "abc"}, "amount_fiat"),
    ({"amount_fiat": "1e30"}, "amount_fiat"),
    ({"amount_fiat": 1e30}, "amount_fiat"),
    ({"amount_fiat": "123456789012345678901234567890"}, "amount_fiat"),
    ({"amount_fiat": "NaN"}, "amount_fiat"),
    ({"amount_fiat": True}, "amount_fiat"),
    ({"amount_crypto": "0.000000001"}, "amount_crypto"),
    ({"amount_fiat": "500", "fiat_currency": "thb"}, "fiat_currency"),
    ({"amount_fiat": "500", "crypto_currency": "usdt!"}, "crypto_currency"),
    ({"amount_fiat": "500", "method": "Card Transfer"}, "method"),
    ({"amount_fiat": "500", "client_id": "x" * 129}, "client_id"),
    ({"amount_fiat": "500", "customer_ip": "999.1.1.1"}, "customer_ip"),
    ({"amount_fiat": "500", "return_url": "not a url"}, "return_url"),
    ({"amount_fiat": "500", "client_id": "bad\x00byte"}, "client_id"),
    ({"amount_fiat": "500", "customer_requisite": "4111111111111111"}, "customer_requisite"),  # payins: unknown
    ({"amount_fiat": "500", "amout": "1"}, "amout"),
])
def test_a_malformed_payin_is_400_with_the_field_named(api, body, field):
    response = api.client().post(PAYINS, body, format="json")

    assert response.status_code == 400, response.content
    error = _error(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert _orders(api) == []


def test_an_unknown_field_is_refused_rather_than_ignored(api):
    response = api.client().post(PAYINS, {**PAYIN, "callback": "https://x"}, format="json")

    assert response.status_code == 400
    assert _error(response)["fields"] == {"callback": ["Unknown field."]}


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"amount_fiat": "99.99"}, "amount_out_of_limits", "amount_fiat"),
    ({"amount_fiat": "50000.01"}, "amount_out_of_limits", "amount_fiat"),
    ({"amount_crypto": "2000"}, "amount_out_of_limits", "amount_crypto"),  # 73000 THB
    ({"amount_fiat": "500", "fiat_currency": "RUB"}, "unsupported_currency", "fiat_currency"),
    ({"amount_fiat": "500", "fiat_currency": "XXX"}, "unsupported_currency", "fiat_currency"),
    ({"amount_fiat": "500", "crypto_currency": "BTC"}, "unsupported_currency", "crypto_currency"),
    ({"amount_fiat": "500", "method": "sbp"}, "unknown_payment_method", "method"),
    ({"amount_fiat": "500", "bank": "Nowhere Bank"}, "unknown_bank", "bank"),
])
def test_a_payin_outside_the_stores_settings_is_422(api, body, code, field):
    response = api.client().post(PAYINS, body, format="json")

    assert response.status_code == 422, response.content
    error = _error(response)
    assert error["code"] == code
    assert field in error["fields"]
    assert _orders(api) == []


def test_the_limit_bounds_themselves_are_accepted(api):
    client = api.client()

    assert client.post(PAYINS, {"amount_fiat": "100.00"}, format="json").status_code == 201
    assert client.post(PAYINS, {"amount_fiat": "50000.00"}, format="json").status_code == 201


def test_a_bank_that_does_not_offer_the_method_is_422(api):
    from payments.models import AvailableBankMethod

    with tenant_context(api.tenant):
        AvailableBankMethod.objects.filter(bank=api.refs.bank, method=api.refs.promptpay).update(is_active=False)

    response = api.client().post(PAYINS, {**PAYIN, "method": "promptpay", "bank": "Kasikornbank"}, format="json")

    assert response.status_code == 422 and _error(response)["code"] == "method_not_available"


def test_an_inactive_method_or_bank_is_unknown(api):
    with tenant_context(api.tenant):
        api.refs.card.is_active = False
        api.refs.card.save()
        api.refs.bank2.is_active = False
        api.refs.bank2.save()
    client = api.client()

    assert _error(client.post(PAYINS, {**PAYIN, "method": "card"}, format="json"))["code"] == \
        "unknown_payment_method"
    assert _error(client.post(PAYINS, {**PAYIN, "bank": "Siam Commercial Bank"}, format="json"))["code"] == \
        "unknown_bank"


def test_a_required_customer_id_must_be_sent(api):
    _set(api, gateway_require_customer_id_param=True)
    client = api.client()

    refused = client.post(PAYINS, {"amount_fiat": "500"}, format="json")
    accepted = client.post(PAYINS, {"amount_fiat": "500", "customer_id": "c-9"}, format="json")

    assert refused.status_code == 422 and _error(refused)["code"] == "invalid_order"
    assert "customer_id" in _error(refused)["fields"]
    assert accepted.status_code == 201


def test_a_required_amount_param_must_be_the_order_types_own(api):
    _set(api, gateway_require_amount_param=True)
    client = api.client()

    payin_in_crypto = client.post(PAYINS, {"amount_crypto": "5"}, format="json")
    payout_in_fiat = client.post(PAYOUTS, {"amount_fiat": "500", "customer_requisite": "0812345678"}, format="json")

    assert payin_in_crypto.status_code == 422 and "amount_fiat" in _error(payin_in_crypto)["fields"]
    assert payout_in_fiat.status_code == 422 and "amount_crypto" in _error(payout_in_fiat)["fields"]
    assert client.post(PAYINS, {"amount_fiat": "500"}, format="json").status_code == 201
    assert client.post(PAYOUTS, PAYOUT, format="json").status_code == 201


@pytest.mark.parametrize("requisite", [None, "", "12345", "4111-1111-1111-111@", "x" * 65])
def test_a_payout_needs_a_valid_customer_requisite(api, requisite):
    body = {"amount_crypto": "10"} if requisite is None else {"amount_crypto": "10", "customer_requisite": requisite}

    response = api.client().post(PAYOUTS, body, format="json")

    assert response.status_code in (400, 422)
    assert "customer_requisite" in _error(response)["fields"]
    if requisite:
        assert requisite not in response.content.decode()
    assert _orders(api) == []


def test_no_fresh_exchange_rate_is_422(api, settings):
    with tenant_context(api.tenant):
        ExchangeRate.objects.all().delete()
        fresh_rate(api.refs, age_seconds=7200)
    settings.EXCHANGE_RATE_MAX_AGE = __import__("datetime").timedelta(hours=1)

    response = api.client().post(PAYINS, PAYIN, format="json")

    assert response.status_code == 422 and _error(response)["code"] == "no_exchange_rate"
    assert _orders(api) == []


def test_the_newest_rate_is_the_one_fixed(api):
    with tenant_context(api.tenant):
        fresh_rate(api.refs, Decimal("40"))

    response = api.client().post(PAYINS, {"amount_fiat": "400"}, format="json")

    assert response.json()["exchange_rate"] == "40.00000000" and response.json()["amount_crypto"] == "10.00000000"


def test_an_amount_that_rounds_to_nothing_is_422(api):
    _set(api, lower_limit=Decimal("0"))
    with tenant_context(api.tenant):
        fresh_rate(api.refs, Decimal("0.001"))

    response = api.client().post(PAYINS, {"amount_crypto": "0.00000001"}, format="json")

    assert response.status_code == 422 and _error(response)["code"] == "amount_too_small"


def test_an_amount_too_large_at_the_rate_is_422_not_a_database_error(api):
    _set(api, upper_limit=Decimal("1000000000000.00"))
    with tenant_context(api.tenant):
        fresh_rate(api.refs, Decimal("0.00000001"))

    response = api.client().post(PAYINS, {"amount_fiat": "1000000000000.00"}, format="json")

    assert response.status_code == 422 and _error(response)["code"] == "amount_out_of_range"
    assert _orders(api) == []


def test_another_tenants_reference_data_is_invisible(api, other_tenant):
    """A method that exists only in another tenant is unknown here (RLS and scoping)."""
    other = make_api_store(other_tenant)
    with tenant_context(other_tenant):
        from payments.models import AvailableBankMethod, PaymentMethod

        sbp = PaymentMethod.objects.create(code="sbp", name="SBP")
        AvailableBankMethod.objects.create(bank=other.refs.bank, method=sbp)

    response = api.client().post(PAYINS, {**PAYIN, "method": "sbp"}, format="json")

    assert response.status_code == 422 and _error(response)["code"] == "unknown_payment_method"
    assert other.client().post(PAYINS, {**PAYIN, "method": "sbp"}, format="json").status_code == 201
