"""Store API: a store's `client_id` is its own order number — one order per number and store.

The database's unique (store, client_id) constraint decides (no look-up before the INSERT); a
second create with the number answers 409 `duplicate_client_id` naming the order that has it, on
both ways of writing an order with an Idempotency-Key (the Redis marker's one statement, the
database claim) and without one. Idempotent replays are unchanged.
"""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from payments.models import IdempotencyKey, IncomingOrder
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .api_support import PAYIN, PAYOUT, make_api_store
from .concurrency_support import run_together
from .factories import make_store

# Every test once with the Redis key marker and once with keys claimed in the database only.
pytestmark = pytest.mark.usefixtures("marker_mode")

PAYINS = "/api/v1/payins"
PAYOUTS = "/api/v1/payouts"


def _post(client, body, key=None, path=PAYINS):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body, format="json", **extra)


def _orders(api) -> list[IncomingOrder]:
    with tenant_context(api.tenant):
        return list(IncomingOrder.objects.order_by("created_at", "id"))


def _keys(api) -> list[str]:
    with tenant_context(api.tenant):
        return sorted(IdempotencyKey.objects.values_list("key", flat=True))


def _assert_duplicate_of(response, order_id: str) -> None:
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "duplicate_client_id" and error["order_id"] == order_id
    assert error["fields"] == {"client_id": [f"Already used by order {order_id}."]}


@pytest.mark.parametrize("keys", [("key-1", "key-2"), (None, None)], ids=["with-keys", "without-keys"])
def test_a_used_client_id_is_409_with_the_order_that_has_it(api, keys):
    client = api.client()
    first = _post(client, PAYIN, keys[0])

    second = _post(client, {**PAYIN, "amount_fiat": "2000.00"}, keys[1])

    assert first.status_code == 201
    _assert_duplicate_of(second, first.json()["id"])
    assert [order.hash_id for order in _orders(api)] == [first.json()["id"]]
    assert _keys(api) == (["key-1"] if keys[0] else [])  # the refused request kept no answer


def test_the_refused_key_is_free_again(api):
    client = api.client()
    _post(client, PAYIN, "key-1")
    _post(client, PAYIN, "key-2")  # 409: the client_id is taken

    retried = _post(client, {**PAYIN, "client_id": "order-2"}, "key-2")

    assert retried.status_code == 201 and retried.json()["client_id"] == "order-2"
    assert len(_orders(api)) == 2


def test_a_replay_of_the_first_request_is_unchanged(api):
    client = api.client()
    first = _post(client, PAYIN, "key-1")

    replay = _post(client, PAYIN, "key-1")

    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert len(_orders(api)) == 1


def test_payouts_share_the_stores_numbers(api):
    client = api.client()
    payin = _post(client, {**PAYIN, "client_id": "shared-1"}, "key-1")

    payout = _post(client, {**PAYOUT, "client_id": "shared-1"}, "key-2", path=PAYOUTS)

    _assert_duplicate_of(payout, payin.json()["id"])


def test_another_store_may_use_the_same_client_id(api, other_tenant):
    with tenant_context(api.tenant):
        _, second_key = make_store(api.refs)
    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {second_key}")
    elsewhere = make_api_store(other_tenant)

    responses = [_post(api.client(), PAYIN, "key-1"), _post(second, PAYIN, "key-1"),
                 _post(elsewhere.client(), PAYIN, "key-1")]

    assert [response.status_code for response in responses] == [201, 201, 201]
    assert len({response.json()["id"] for response in responses}) == 3


def test_orders_without_a_client_id_are_not_numbered(api):
    client = api.client()
    body = {"amount_fiat": "1000.00"}

    answers = [_post(client, body, f"key-{n}") for n in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert [answer.json()["client_id"] for answer in answers] == [None, None, None]


@pytest.fixture
def committed_api(transactional_db):
    return make_api_store(Tenant.objects.create(name="Client Id Race"))


@pytest.mark.postgres
def test_concurrent_creates_with_one_client_id_make_one_order(committed_api):
    """Eight requests, each with its own key, one client_id, started together: one order, seven 409s
    naming it — none a 500."""

    def send(n: int):
        response = _post(committed_api.client(), {**PAYIN, "amount_fiat": f"{1000 + n}.00"}, f"race-{n}")
        return response.status_code, response.json()

    answers = run_together(committed_api.tenant, [lambda n=n: send(n) for n in range(8)])

    [order] = _orders(committed_api)
    assert sorted(status for status, _ in answers) == [201] + [409] * 7
    for status, body in answers:
        if status == 409:
            assert body["error"]["code"] == "duplicate_client_id" and body["error"]["order_id"] == order.hash_id
        else:
            assert body["id"] == order.hash_id
    with tenant_context(committed_api.tenant):
        assert IdempotencyKey.objects.count() == 1  # only the accepted request's answer is kept


@pytest.mark.parametrize("marker_mode", ["database-only"], indirect=True)  # the services alone: once is enough
def test_the_plain_way_refuses_a_used_client_id_and_lets_a_used_key_decide_first(api):
    """SQLite's way (no INSERT inside WITH), run here on any database: the order, then the key's row. A used
    client_id under a new key is an IntegrityError (intake turns it into the 409); under a key that has a
    row already the key decides, as in PostgreSQL's one statement (KeyTaken: the replay follows)."""
    from django.db import IntegrityError

    from payments.services import idempotency, intake

    def write(key: str) -> None:
        with tenant_context(api.tenant):
            order = intake.prepare_incoming_order(store=api.store, order_type="pay_in",
                                                  amount_fiat=Decimal("1000.00"), client_id="order-1")
            fresh = idempotency.FreshKey(api.store, key, "f" * 64)
            idempotency._insert_completing_in_transaction(fresh, order, 201, lambda: order.hash_id.encode())

    write("key-1")
    with pytest.raises(IntegrityError):
        write("key-2")
    with pytest.raises(idempotency.KeyTaken):
        write("key-1")

    assert len(_orders(api)) == 1 and _keys(api) == ["key-1"]
