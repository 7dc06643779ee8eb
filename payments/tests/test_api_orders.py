"""Store API: reading, listing and cancelling orders; balance; methods. Other stores' rows stay out of reach."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLog
from payments.models import BalanceTrader, IncomingOrder, MovementKind, OrderHistory, OrderType
from payments.services import ledger
from payments.services.execution import place_order_hold
from tenancy.scoping import tenant_context

from .api_support import PAYIN, make_api_store
from .factories import make_assigned_order, make_incoming_order, make_requisite, make_store


@pytest.fixture
def api(tenant):
    return make_api_store(tenant)


def _order(api, **overrides) -> IncomingOrder:
    with tenant_context(api.tenant):
        return make_incoming_order(api.store, **overrides)


def _error(response) -> dict:
    return response.json()["error"]


# --- GET /orders/<id> ----------------------------------------------------------------------------


def test_an_order_is_read_by_its_public_id(api):
    created = api.client().post("/api/v1/payins", {**PAYIN, "method": "card"}, format="json").json()

    response = api.client().get(f"/api/v1/orders/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_an_assigned_order_shows_its_execution_status(api):
    with tenant_context(api.tenant):
        assigned = make_assigned_order(api.store, make_requisite(api.refs), status=OrderHistory.Status.PROCESSING)

    body = api.client().get(f"/api/v1/orders/{assigned.hash_id}").json()

    assert body["status"] == "paid" and body["intake_status"] == "assigned"


@pytest.mark.parametrize(("execution", "lifecycle"), [
    ("pending", "assigned"), ("processing", "paid"), ("completed", "completed"), ("cancelled", "cancelled"),
    ("expired", "expired"), ("failed", "failed"), ("disputed", "disputed"),
])
def test_an_assigned_order_has_one_lifecycle_status(api, execution, lifecycle):
    with tenant_context(api.tenant):
        assigned = make_assigned_order(api.store, make_requisite(api.refs), status=execution)

    body = api.client().get(f"/api/v1/orders/{assigned.hash_id}").json()

    assert (body["status"], body["intake_status"]) == (lifecycle, "assigned")
    assert "order_status" not in body


@pytest.mark.parametrize(("intake", "lifecycle"), [
    ("new", "new"), ("processing", "new"), ("retrying", "new"), ("failed", "failed"), ("cancelled", "cancelled"),
])
def test_an_order_not_assigned_has_its_lifecycle_status_and_its_queue_detail(api, intake, lifecycle):
    order = _order(api, status=intake)

    body = api.client().get(f"/api/v1/orders/{order.hash_id}").json()

    assert (body["status"], body["intake_status"]) == (lifecycle, intake)


def test_the_list_filters_by_lifecycle_status_and_by_intake_status(api):
    with tenant_context(api.tenant):
        requisite = make_requisite(api.refs)
        completed = make_assigned_order(api.store, requisite, status="completed").incoming_order
        pending = make_assigned_order(api.store, requisite, status="pending").incoming_order
        cancelled_late = make_assigned_order(api.store, requisite, status="cancelled").incoming_order
    retrying = _order(api, status="retrying")
    cancelled_early = _order(api, status="cancelled")
    client = api.client()

    def ids(**params):
        response = client.get("/api/v1/orders", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="completed") == {completed.hash_id}
    assert ids(status="assigned") == {pending.hash_id}
    assert ids(status="new") == {retrying.hash_id}
    assert ids(status="cancelled") == {cancelled_late.hash_id, cancelled_early.hash_id}
    assert ids(status="paid") == set()
    assert ids(intake_status="assigned") == {completed.hash_id, pending.hash_id, cancelled_late.hash_id}
    assert ids(intake_status="retrying") == {retrying.hash_id}
    response = client.get("/api/v1/orders", {"status": "pending"})  # an execution status is not a lifecycle one
    assert response.status_code == 400 and _error(response)["code"] == "validation_error"


def test_another_stores_order_is_404(api):
    with tenant_context(api.tenant):
        other_store, _ = make_store(api.refs)
        foreign = make_incoming_order(other_store)

    response = api.client().get(f"/api/v1/orders/{foreign.hash_id}")

    assert response.status_code == 404 and _error(response)["code"] == "not_found"


def test_another_tenants_order_is_404(api, other_tenant):
    other = make_api_store(other_tenant)
    foreign = _order(other)

    assert api.client().get(f"/api/v1/orders/{foreign.hash_id}").status_code == 404
    assert api.client().post(f"/api/v1/orders/{foreign.hash_id}/cancel").status_code == 404
    with tenant_context(other_tenant):
        foreign.refresh_from_db()
    assert foreign.status == "new"


@pytest.mark.parametrize("order_id", ["nope", "x" * 33, "a%00b", "%F0%9F%92%A5", "..", "1"])
def test_an_unknown_or_odd_id_is_404(api, order_id):
    response = api.client().get(f"/api/v1/orders/{order_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_reading_without_a_key_is_401(api, client):
    order = _order(api)

    assert client.get(f"/api/v1/orders/{order.hash_id}").status_code == 401
    assert client.get("/api/v1/orders").status_code == 401
    assert client.get("/api/v1/balance").status_code == 401
    assert client.post(f"/api/v1/orders/{order.hash_id}/cancel").status_code == 401


# --- GET /orders ----------------------------------------------------------------------------------


def test_the_list_has_only_this_stores_orders_newest_first(api, other_tenant):
    now = timezone.now()
    older = _order(api, created_at=now - timedelta(hours=2))
    newer = _order(api, created_at=now - timedelta(hours=1))
    with tenant_context(api.tenant):
        make_incoming_order(make_store(api.refs)[0])
    _order(make_api_store(other_tenant))

    response = api.client().get("/api/v1/orders")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [newer.hash_id, older.hash_id]


def test_the_list_filters_by_client_id_status_type_and_created_range(api):
    now = timezone.now()
    a = _order(api, client_id="A", created_at=now - timedelta(days=3))
    b = _order(api, client_id="B", status="failed", created_at=now - timedelta(days=2))
    c = _order(api, client_id="C", order_type=OrderType.PAY_OUT, created_at=now - timedelta(days=1))
    client = api.client()

    def ids(**params):
        response = client.get("/api/v1/orders", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(client_id="A") == {a.hash_id}
    assert ids(status="failed") == {b.hash_id}
    assert ids(type="pay_out") == {c.hash_id}
    assert ids(created_after=(now - timedelta(days=2, hours=1)).isoformat()) == {b.hash_id, c.hash_id}
    assert ids(created_before=(now - timedelta(days=2, hours=1)).isoformat()) == {a.hash_id}
    assert ids(client_id="C", type="pay_out") == {c.hash_id} and ids(client_id="C", type="pay_in") == set()


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"type": "x"}, {"created_after": "yesterday"},
                                    {"created_before": "2026-13-45T99:00:00Z"}, {"client_id": "x" * 129},
                                    {"client_id": "a\x00b"}])
def test_bad_filters_are_400(api, params):
    response = api.client().get("/api/v1/orders", params)

    assert response.status_code == 400
    assert _error(response)["code"] == "validation_error"


def test_the_list_is_cursor_paginated(api):
    now = timezone.now()
    made = [_order(api, created_at=now - timedelta(minutes=n)) for n in range(5)]
    client = api.client()

    first = client.get("/api/v1/orders", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    seen = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert seen == [order.hash_id for order in made]
    assert third["next"] is None
    assert client.get("/api/v1/orders", {"cursor": "garbage"}).status_code == 404


def test_the_list_costs_the_same_queries_for_many_orders(api, django_assert_max_num_queries, is_postgres):
    with tenant_context(api.tenant):
        requisite = make_requisite(api.refs)
        for _ in range(3):
            make_assigned_order(api.store, requisite)
            make_incoming_order(api.store)
    client = api.client()

    with django_assert_max_num_queries(6 if is_postgres else 2):
        response = client.get("/api/v1/orders")

    assert len(response.json()["results"]) == 6


# --- POST /orders/<id>/cancel ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["new", "retrying", "failed"])
def test_an_order_not_yet_assigned_is_cancelled(api, status):
    order = _order(api, status=status)

    response = api.client().post(f"/api/v1/orders/{order.hash_id}/cancel")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    with tenant_context(api.tenant):
        order.refresh_from_db()
        entry = AuditLog.objects.get(action="order.cancelled", target_id=str(order.pk))
    assert order.status == "cancelled"
    assert entry.details["changes"]["status"] == {"old": status, "new": "cancelled"}
    assert entry.actor_id == api.store.merchant.user_id


def test_cancelling_twice_answers_the_cancelled_order(api):
    order = _order(api)
    client = api.client()
    client.post(f"/api/v1/orders/{order.hash_id}/cancel")

    again = client.post(f"/api/v1/orders/{order.hash_id}/cancel")

    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    with tenant_context(api.tenant):
        assert AuditLog.objects.filter(action="order.cancelled").count() == 1


def test_an_order_being_assigned_is_409_busy(api):
    order = _order(api, status="processing")

    response = api.client().post(f"/api/v1/orders/{order.hash_id}/cancel")

    assert response.status_code == 409 and _error(response)["code"] == "order_busy"


def test_a_completed_order_cannot_be_cancelled(api):
    with tenant_context(api.tenant):
        done = make_assigned_order(api.store, make_requisite(api.refs), status=OrderHistory.Status.COMPLETED,
                                   completed_at=timezone.now())

    response = api.client().post(f"/api/v1/orders/{done.hash_id}/cancel")

    assert response.status_code == 409 and _error(response)["code"] == "order_completed"
    with tenant_context(api.tenant):
        done.refresh_from_db()
    assert done.status == "completed"


def test_an_assigned_order_nobody_paid_yet_is_cancelled_and_its_hold_released(api):
    with tenant_context(api.tenant):
        requisite = make_requisite(api.refs)
        ledger.post_trader_crypto_movement(trader=requisite.trader, fiat_currency=api.refs.thb,
                                           crypto_currency=api.refs.usdt, amount=Decimal("100"),
                                           kind=MovementKind.DEPOSIT)
        assigned = make_assigned_order(api.store, requisite)
        place_order_hold(order=assigned)
        balance = BalanceTrader.objects.get(trader=requisite.trader)
        assert balance.crypto_hold == assigned.amount_currency

    response = api.client().post(f"/api/v1/orders/{assigned.hash_id}/cancel")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["intake_status"] == "assigned"
    with tenant_context(api.tenant):
        assigned.refresh_from_db()
        balance.refresh_from_db()
    assert assigned.status == "cancelled" and assigned.hold_amount == 0
    assert balance.crypto_hold == 0


@pytest.mark.parametrize("status", ["processing", "disputed", "expired", "failed"])
def test_an_assigned_order_past_pending_is_409_not_cancellable(api, status):
    with tenant_context(api.tenant):
        assigned = make_assigned_order(api.store, make_requisite(api.refs), status=status)

    response = api.client().post(f"/api/v1/orders/{assigned.hash_id}/cancel")

    assert response.status_code == 409 and _error(response)["code"] == "order_not_cancellable"
    with tenant_context(api.tenant):
        assigned.refresh_from_db()
    assert assigned.status == status


def test_another_stores_order_cannot_be_cancelled(api):
    with tenant_context(api.tenant):
        foreign = make_incoming_order(make_store(api.refs)[0])

    response = api.client().post(f"/api/v1/orders/{foreign.hash_id}/cancel")

    assert response.status_code == 404
    with tenant_context(api.tenant):
        foreign.refresh_from_db()
    assert foreign.status == "new"


# --- GET /balance, GET /methods ------------------------------------------------------------------------


def test_the_balance_is_the_stores_crypto_balance_and_hold(api):
    with tenant_context(api.tenant):
        ledger.post_store_movement(store=api.store, crypto_currency=api.refs.usdt, amount=Decimal("125.5"),
                                   kind=MovementKind.DEPOSIT)
        other_store, _ = make_store(api.refs)
        ledger.post_store_movement(store=other_store, crypto_currency=api.refs.usdt, amount=Decimal("7"),
                                   kind=MovementKind.DEPOSIT)

    response = api.client().get("/api/v1/balance")

    assert response.status_code == 200
    assert response.json() == {"crypto_currency": "USDT", "balance": "125.50000000", "hold": "0.00000000",
                               "available": "125.50000000"}


def test_methods_list_active_methods_with_the_banks_offering_them(api):
    with tenant_context(api.tenant):
        api.refs.bank2.is_active = False
        api.refs.bank2.save()

    response = api.client().get("/api/v1/methods")

    assert response.status_code == 200
    assert response.json() == [{"code": "card", "name": "Card transfer", "banks": ["Kasikornbank"]},
                               {"code": "promptpay", "name": "PromptPay", "banks": ["Kasikornbank"]}]
