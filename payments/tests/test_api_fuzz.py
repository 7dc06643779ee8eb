"""Store API: hostile input to every endpoint gets a 4xx JSON error — never a 500 — and writes nothing."""

import json

import pytest

from payments.models import IdempotencyKey, IncomingOrder
from payments.models.traders import normalise_requisite_number
from payments.services.requisites import REQUISITE_NUMBER
from tenancy.scoping import tenant_context

from .api_support import make_api_store

CREATE_ENDPOINTS = ["/api/v1/payins", "/api/v1/payouts"]
ORDER_FIELDS = ["amount_fiat", "amount_crypto", "fiat_currency", "crypto_currency", "method", "bank", "client_id",
                "customer_id", "customer_ip", "return_url", "gateway_id", "customer_requisite"]
HOSTILE_VALUES = [
    None, True, False, 0, -1, -0.01, 1e30, 1e308, 10**40, "1e30", "9" * 30, "-1", "0", "0.00", "NaN", "Infinity",
    "-Infinity", "", " ", "x" * 5000, "\x00", "\ud800", "💥" * 100, [], [1, 2], {}, {"a": 1}, "ZZZ", "1,000.00",
    "0x10", "1_000", "12.3.4", "<script>", "' OR 1=1 --",
]
MALFORMED_BODIES = [
    b"{", b"[]", b"null", b"1", b'"text"', b"\xff\xfe\x00", b'{"amount_fiat": }', b'{"amount_fiat": NaN}',
    b'{"amount_fiat": Infinity}', b"[" * 100_000, b'{"a":' * 50_000, b"\x00", b'{"amount_fiat": "1"}' * 3,
    json.dumps({"amount_fiat": "500", "nested": [[[[[[{"deep": True}]]]]]]}).encode(),
    b'{"amount_fiat": "500", "client_id": "' + b"a" * 70_000 + b'"}',
]


@pytest.fixture
def api(tenant, settings):
    settings.STORE_API_RATE_LIMIT = "100000/min"
    return make_api_store(tenant)


def _nothing_written(api) -> None:
    with tenant_context(api.tenant):
        assert IncomingOrder.objects.count() == 0
        assert IdempotencyKey.objects.count() == 0


def _assert_client_error(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("path", CREATE_ENDPOINTS)
def test_every_field_with_every_hostile_value_is_refused(api, path):
    client = api.client()
    base = {"amount_fiat": "500.00"} if path.endswith("payins") else {"amount_crypto": "10",
                                                                      "customer_requisite": "4111111111111111"}
    accepted = []
    for field in ORDER_FIELDS:
        for value in HOSTILE_VALUES:
            body = {**base, field: value}
            response = client.post(path, json.dumps(body), content_type="application/json",
                                   HTTP_IDEMPOTENCY_KEY=f"fuzz-{field}-{len(accepted)}-{value!r:.40}".encode(
                                       "ascii", "replace").decode().replace(" ", "_"))
            if response.status_code == 201:
                accepted.append((field, value))
                continue
            _assert_client_error(response)
    # Only values that are fine may pass: null for an optional field, a plausible text in a free-text field,
    # a number-shaped customer requisite.
    for field, value in accepted:
        if value is None:
            continue
        assert isinstance(value, str), (field, value)
        assert field in {"client_id", "customer_id", "gateway_id"} or (
            field == "customer_requisite" and REQUISITE_NUMBER.match(normalise_requisite_number(value))), \
            (field, value)


@pytest.mark.parametrize("path", CREATE_ENDPOINTS)
@pytest.mark.parametrize("body", MALFORMED_BODIES, ids=range(len(MALFORMED_BODIES)))
def test_malformed_bodies_are_400(api, path, body):
    response = api.client().post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    _assert_client_error(response)
    _nothing_written(api)


@pytest.mark.parametrize("path", CREATE_ENDPOINTS)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_other_content_types_are_415(api, path, content_type):
    response = api.client().post(path, "amount_fiat=500", content_type=content_type)

    assert response.status_code == 415
    _nothing_written(api)


@pytest.mark.parametrize("path", CREATE_ENDPOINTS)
def test_extra_fields_are_refused(api, path):
    response = api.client().post(path, {"amount_fiat": "500", "status": "assigned", "store": 1, "tenant": "x"},
                                 format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "store", "tenant"}
    _nothing_written(api)


@pytest.mark.parametrize("params", [
    {"page_size": "-1"}, {"page_size": "abc"}, {"page_size": "9" * 40}, {"cursor": "!!!"}, {"cursor": "cD0x"},
    {"cursor": "cD0yMDI2LTAxLTAxVDAwOjAwOjAwWg=="}, {"created_after": "9999999-01-01T00:00:00Z"},
    {"created_after": "\x00"}, {"status": "x" * 5000}, {"type": ["pay_in", "pay_out"]}, {"unknown": "1"},
    "client_id=%ED%A0%80", "cursor=%ED%A0%80", "cursor=%FF%FE", "page_size=%00", "client_id=%00",
])
def test_hostile_list_parameters_never_break_the_list(api, params):
    client = api.client()
    response = client.get(f"/api/v1/orders?{params}") if isinstance(params, str) else client.get("/api/v1/orders",
                                                                                                 params)

    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        _assert_client_error(response)


@pytest.mark.parametrize("order_id", ["\x00", "%00", "%ff", "x" * 5000, "' OR 1=1 --", "%F0%9F%92%A5", "..%2f.."])
@pytest.mark.parametrize("suffix", ["", "/cancel"])
def test_hostile_order_ids_are_404(api, order_id, suffix):
    client = api.client()
    path = f"/api/v1/orders/{order_id}{suffix}"

    response = client.post(path) if suffix else client.get(path)

    assert response.status_code == 404
    _assert_client_error(response)


@pytest.mark.parametrize(("method", "path"), [("get", "/api/v1/balance"), ("get", "/api/v1/methods"),
                                              ("post", "/api/v1/orders/abc/cancel")])
def test_bodies_sent_where_none_is_expected_are_ignored_or_refused(api, method, path):
    response = api.client().generic(method.upper(), path, b"{" * 10, content_type="application/json")

    assert response.status_code < 500


@pytest.mark.parametrize("header", ["Bearer \x00", "Bearer " + "é" * 10, "Bearer\tsk_x", "bearer", "Bearer " * 50])
def test_hostile_authorization_headers_are_401(api, client, header):
    response = client.post("/api/v1/payins", {"amount_fiat": "500"}, content_type="application/json",
                           HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    _nothing_written(api)


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/orders/a/b/c", "/api/v1/payins/", "/api/v1/%00"])
def test_unknown_paths_under_the_api_are_json_404(api, path):
    response = api.client().get(path)

    assert response.status_code == 404
    _assert_client_error(response)


def test_other_methods_are_405(api):
    client = api.client()

    assert client.delete("/api/v1/payins").status_code == 405
    assert client.get("/api/v1/payins").status_code == 405
    assert client.put("/api/v1/balance", {}, format="json").status_code == 405
