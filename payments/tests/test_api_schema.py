"""Store API: the OpenAPI schema and docs, and schemathesis against the schema finding no server error."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from payments.models import IncomingOrder
from tenancy.scoping import tenant_context

from .api_support import make_api_store
from .factories import make_incoming_order

STORE_PATHS = r"^/api/v1/(payins|payouts|orders|balance|methods)"


def test_the_schema_documents_every_operation_with_bearer_auth_and_the_error_body(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operations = {(path, method) for path, item in schema["paths"].items() if path.startswith("/api/v1/")
                  and not path.startswith(("/api/v1/auth/", "/api/v1/trading/")) for method in item}
    assert operations == {("/api/v1/payins", "post"), ("/api/v1/payouts", "post"), ("/api/v1/orders", "get"),
                          ("/api/v1/orders/{order_id}", "get"), ("/api/v1/orders/{order_id}/cancel", "post"),
                          ("/api/v1/balance", "get"), ("/api/v1/methods", "get")}
    assert schema["components"]["securitySchemes"]["StoreApiKey"] == {
        "type": "http", "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["StoreApiKey"]["description"]}
    payins = schema["paths"]["/api/v1/payins"]["post"]
    assert payins["security"] == [{"StoreApiKey": []}]
    assert [p["name"] for p in payins["parameters"]] == ["Idempotency-Key"]
    assert set(payins["responses"]) == {"201", "400", "401", "403", "409", "422", "429"}
    assert payins["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert "customer_requisite" in schema["components"]["schemas"]["PayoutRequest"]["properties"]
    store_tag = next(tag for tag in schema["tags"] if tag["name"] == "Store API")
    assert "Idempotency-Key" in store_tag["description"] and "Bearer" in store_tag["description"]


def test_the_trading_signals_endpoint_is_documented_for_api_clients(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/trading/accounts/{account_id}/signals"]["post"]
    assert operation["tags"] == ["Trading"]
    assert "202" in operation["responses"]


def test_the_docs_page_needs_nothing_from_the_internet(client):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, minus the per-request connection cleanup (as Django's test client does):
    requests run inside the test's transaction, whose connection must stay open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def store_api(tenant, settings):
    settings.STORE_API_RATE_LIMIT = "1000000/min"
    api = make_api_store(tenant)
    with tenant_context(tenant):
        for status in ("new", "failed", "cancelled"):
            make_incoming_order(api.store, status=status)
    return api


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(store_api, wsgi_app, mode):
    """Generated requests (valid ones, and ones that break the schema) against every store operation,
    authenticated with a real store key, through the WSGI app: every answer is below 500."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    schema = schema.include(path_regex=STORE_PATHS)
    auth = {"Authorization": f"Bearer {store_api.key}"}
    seen: set[str] = set()

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(generation_mode=mode))
    def exercise(case):
        response = case.call(headers=auth)
        seen.add(f"{case.operation.method.upper()} {case.operation.path}")
        assert response.status_code < 500, (case.operation.path, case.body, case.query, response.text[:500])

    exercise()

    assert len(seen) >= 5  # the strategy spread over the operations
    with tenant_context(store_api.tenant):
        assert IncomingOrder.objects.filter(store=store_api.store).count() >= 3
