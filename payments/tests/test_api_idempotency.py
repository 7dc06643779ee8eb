"""Store API: the Idempotency-Key header of POST /payins and /payouts.

Every test runs twice: with the Redis marker (REDIS_URL set; CI sets it) and with the database alone.
"""

import threading
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from payments.models import IdempotencyKey, IncomingOrder
from payments.services import idempotency as idempotency_services
from payments.services import intake
from payments.tasks import purge_idempotency_keys_task
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .api_support import PAYIN, PAYOUT, make_api_store
from .concurrency_support import run_together

# Every test once with the Redis key marker and once with keys claimed in the database only.
pytestmark = pytest.mark.usefixtures("marker_mode")

PAYINS = "/api/v1/payins"


def _marker(api, key: str) -> str:
    return f"store-api-idem:{api.tenant.pk}:{api.store.pk}:{key}"


def _fingerprint(body=PAYIN, path=PAYINS) -> str:
    return idempotency_services.request_fingerprint(method="POST", path=path, body=body)


def _post(client, body, key, path=PAYINS):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _count(api) -> int:
    with tenant_context(api.tenant):
        return IncomingOrder.objects.count()


def _keys(api) -> list[IdempotencyKey]:
    with tenant_context(api.tenant):
        return list(IdempotencyKey.objects.all())


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(api):
    client = api.client()
    first = _post(client, PAYIN, "key-1")

    again = _post(client, PAYIN, "key-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(api) == 1
    [record] = _keys(api)
    assert record.status == "done" and record.response_status == 201
    assert record.expires_at >= timezone.now() + timedelta(hours=23)


def test_a_replay_is_the_first_answer_byte_for_byte(api):
    """Not merely JSON-equal: the same bytes, key order and spacing included, whatever the retry asks for."""
    client = api.client()
    first = _post(client, PAYIN, "key-1")

    again = _post(client, PAYIN, "key-1")
    pretty = client.post(PAYINS, PAYIN, format="json", HTTP_IDEMPOTENCY_KEY="key-1",
                         HTTP_ACCEPT="application/json; indent=4")

    assert first.status_code == again.status_code == pretty.status_code == 201
    assert again.content == first.content and pretty.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert first.content.startswith(b'{"id":"') and b'"status":"new","intake_status":"new"' in first.content
    [record] = _keys(api)
    assert bytes(record.response_content) == first.content


def test_the_replay_is_the_first_answer_even_after_the_order_changed(api):
    client = api.client()
    first = _post(client, PAYIN, "key-1").json()
    client.post(f"/api/v1/orders/{first['id']}/cancel")

    again = _post(client, PAYIN, "key-1")

    assert again.json()["status"] == "new"
    assert again.json() == first


def test_the_same_key_with_another_body_is_422(api):
    client = api.client()
    _post(client, PAYIN, "key-1")

    response = _post(client, {**PAYIN, "amount_fiat": "2000.00"}, "key-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert _count(api) == 1


def test_the_same_key_on_the_other_endpoint_is_422(api):
    client = api.client()
    _post(client, PAYIN, "key-1")

    response = _post(client, PAYOUT, "key-1", path="/api/v1/payouts")

    assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_are_per_store(api, tenant):
    other = make_api_store(tenant, refs=api.refs, with_rate=False)

    assert _post(api.client(), PAYIN, "shared").status_code == 201
    second = _post(other.client(), PAYIN, "shared")

    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert _count(api) == 2


def test_a_request_still_in_flight_makes_the_second_one_409(api):
    now = timezone.now()
    with tenant_context(api.tenant):
        IdempotencyKey.objects.create(
            store=api.store, key="busy", lock_token="first-request",
            request_fingerprint=_fingerprint(), locked_at=now, created_at=now, expires_at=now + timedelta(hours=24))

    response = _post(api.client(), PAYIN, "busy")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert _count(api) == 0


def test_a_claim_left_by_a_dead_request_is_taken_over_after_the_lock_timeout(api, settings):
    settings.STORE_API_IDEMPOTENCY_LOCK_SECONDS = 60
    old = timezone.now() - timedelta(seconds=61)
    with tenant_context(api.tenant):
        IdempotencyKey.objects.create(
            store=api.store, key="stale", lock_token="dead-request",
            request_fingerprint=_fingerprint(), locked_at=old, created_at=old, expires_at=old + timedelta(hours=24))

    response = _post(api.client(), PAYIN, "stale")

    assert response.status_code == 201
    [record] = _keys(api)
    assert record.status == "done" and record.lock_token != "dead-request"


def test_an_error_answer_frees_the_key(api):
    client = api.client()
    refused = _post(client, {"amount_fiat": "5.00"}, "key-1")  # below the lower limit

    accepted = _post(client, PAYIN, "key-1")

    assert refused.status_code == 422
    assert accepted.status_code == 201 and "Idempotent-Replayed" not in accepted.headers
    assert _count(api) == 1


def test_a_validation_error_stores_nothing(api):
    response = _post(api.client(), {"amount_fiat": "abc"}, "key-1")

    assert response.status_code == 400
    assert _keys(api) == []


def test_an_expired_answer_is_forgotten(api):
    client = api.client()
    _post(client, PAYIN, "key-1")
    with tenant_context(api.tenant):
        IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _post(client, {**PAYIN, "amount_fiat": "2000.00", "client_id": "order-2"}, "key-1")

    assert response.status_code == 201 and response.json()["amount_fiat"] == "2000.00"
    assert _count(api) == 2


def test_the_periodic_purge_drops_expired_answers_only(api):
    client = api.client()
    _post(client, PAYIN, "old")
    _post(client, {**PAYIN, "client_id": "order-2"}, "fresh")
    with tenant_context(api.tenant):
        IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))

    removed = purge_idempotency_keys_task.apply().get()

    assert removed == 1
    assert [record.key for record in _keys(api)] == ["fresh"]


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve"])
def test_a_malformed_key_is_400(api, key):
    response = api.client().post(PAYINS, PAYIN, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert _count(api) == 0


def test_the_canonical_body_ignores_key_order_and_spacing(api):
    client = api.client()
    first = client.post(PAYINS, '{"amount_fiat": "1000.00", "client_id": "order-1"}',
                        content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    again = client.post(PAYINS, '{"client_id":"order-1","amount_fiat":"1000.00"}',
                        content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"


# --- the Redis marker -------------------------------------------------------------------------------------


@pytest.fixture
def redis(marker_mode, settings):
    import redis

    assert marker_mode == "redis-marker", "mark the test with @REDIS_MARKER_ONLY"
    return redis.Redis.from_url(settings.REDIS_URL)


REDIS_MARKER_ONLY = pytest.mark.parametrize("marker_mode", ["redis-marker"], indirect=True)


@REDIS_MARKER_ONLY
def test_a_key_whose_first_request_is_still_working_is_409_before_it_has_a_row(api, redis):
    redis.set(_marker(api, "working"), _fingerprint(), px=60_000)  # the first request's marker, no row yet

    response = _post(api.client(), PAYIN, "working")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert _count(api) == 0 and _keys(api) == []
    assert redis.get(_marker(api, "working")) == _fingerprint().encode()  # the holder's marker is left alone


@REDIS_MARKER_ONLY
def test_another_body_under_a_key_still_working_is_422(api, redis):
    redis.set(_marker(api, "working"), _fingerprint(), px=60_000)

    response = _post(api.client(), {**PAYIN, "amount_fiat": "2000.00"}, "working")

    assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_key_reused"
    assert _count(api) == 0


@REDIS_MARKER_ONLY
def test_the_first_request_writes_its_answer_in_one_statement_and_keeps_the_marker(api, redis,
                                                                                 django_assert_num_queries):
    client = api.client()
    client.post(PAYINS, {**PAYIN, "client_id": "warm-up"}, format="json")  # warm the caches

    with django_assert_num_queries(3):  # the statement, in a savepoint inside the test's transaction
        response = _post(client, PAYIN, "one-statement")

    assert response.status_code == 201
    assert redis.get(_marker(api, "one-statement")) == _fingerprint().encode()
    assert 0 < redis.pttl(_marker(api, "one-statement")) <= 60_000
    [record] = _keys(api)
    assert record.status == "done" and bytes(record.response_content) == response.content


@REDIS_MARKER_ONLY
def test_a_done_answer_whose_marker_expired_is_still_replayed(api, redis):
    client = api.client()
    first = _post(client, PAYIN, "key-1")
    redis.delete(_marker(api, "key-1"))

    again = _post(client, PAYIN, "key-1")
    reused = _post(client, {**PAYIN, "amount_fiat": "2000.00"}, "key-1")

    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert reused.status_code == 422
    assert _count(api) == 1
    assert redis.get(_marker(api, "key-1")) is None  # freed again after each conflict


@REDIS_MARKER_ONLY
@pytest.mark.parametrize("body, refused", [({"amount_fiat": "5.00"}, 422), ({"amount_fiat": "abc"}, 400)])
def test_an_error_answer_deletes_the_marker(api, redis, body, refused):
    response = _post(api.client(), body, "key-1")

    assert response.status_code == refused
    assert redis.get(_marker(api, "key-1")) is None


@REDIS_MARKER_ONLY
def test_a_rate_limited_request_deletes_its_marker(api, redis, settings):
    settings.STORE_API_RATE_LIMIT = "1/min"
    client = api.client()
    assert client.get("/api/v1/balance").status_code == 200

    response = _post(client, PAYIN, "key-1")

    assert response.status_code == 429
    assert redis.get(_marker(api, "key-1")) is None


@pytest.mark.parametrize("marker_mode", ["database-only"], indirect=True)  # Redis is away in this test
def test_with_redis_away_keys_are_claimed_in_the_database(api, settings, monkeypatch):
    from payments.api import throttling

    from .broker_support import free_port

    monkeypatch.setattr(throttling, "_paused_until", 0.0)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # a port nobody listens on
    client = api.client()

    first = _post(client, PAYIN, "key-1")
    monkeypatch.setattr(throttling, "_paused_until", 0.0)  # ask (the dead) Redis again
    again = _post(client, PAYIN, "key-1")
    reused = _post(client, {**PAYIN, "amount_fiat": "2000.00"}, "key-1")

    assert first.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert reused.status_code == 422
    assert _count(api) == 1


# --- real concurrency (PostgreSQL) ----------------------------------------------------------------------


def _race(api, threads: int, key: str) -> list:
    """`threads` clients send one payin with one key at the same moment, each on its own connection."""

    def send() -> tuple[int, dict]:
        response = _post(api.client(), PAYIN, key)
        return response.status_code, response.json()

    return run_together(api.tenant, [send] * threads)


@pytest.fixture
def committed_api(transactional_db):
    tenant = Tenant.objects.create(name="Race Operator")
    return make_api_store(tenant)


@pytest.mark.postgres
def test_concurrent_requests_with_one_key_create_one_order(committed_api):
    answers = _race(committed_api, threads=8, key="race-1")

    assert len(answers) == 8
    assert {status for status, _ in answers} <= {201, 409}
    created = {body["id"] for status, body in answers if status == 201}
    assert len(created) == 1
    assert _count(committed_api) == 1


@pytest.mark.postgres
def test_while_the_first_request_works_the_others_get_409(committed_api):
    """The request holding the key works until every other one has its answer: each of those is a 409
    `idempotency_key_in_flight`, and only the holder's 201 made an order."""
    threads = 4
    real = intake.create_incoming_order_with_key
    others_answered = threading.Event()
    answered = []

    def slow(**kwargs):
        # hold the claim until the others have their answers (a generous bound, not a timing)
        assert others_answered.wait(timeout=60), "the other requests did not answer while the key was held"
        return real(**kwargs)

    def send() -> tuple[int, dict]:
        response = _post(committed_api.client(), PAYIN, "race-2")
        answered.append(response.status_code)
        if len(answered) == threads - 1:
            others_answered.set()
        return response.status_code, response.json()

    with mock.patch.object(intake, "create_incoming_order_with_key", side_effect=slow):
        answers = run_together(committed_api.tenant, [send] * threads)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (threads - 1)
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"idempotency_key_in_flight"}
    assert _count(committed_api) == 1
    [record] = _keys(committed_api)
    assert record.status == "done"


@pytest.mark.parametrize("marker_mode", ["database-only"], indirect=True)  # the services alone: once is enough
def test_without_a_statement_of_its_own_a_fresh_key_still_writes_once(api):
    """The way of databases that allow no INSERT inside WITH (SQLite): the order, then the key's row in a
    savepoint; a key that has a row already rolls the order back."""
    fresh = idempotency_services.FreshKey(api.store, "plain-way", _fingerprint())

    def write(amount: str):
        with tenant_context(api.tenant):
            order = intake.prepare_incoming_order(store=api.store, order_type="pay_in", amount_fiat=Decimal(amount))
            idempotency_services._insert_completing_in_transaction(fresh, order, 201, lambda: order.hash_id.encode())
            return order

    first = write("1000.00")
    with pytest.raises(idempotency_services.KeyTaken):
        write("2000.00")

    assert _count(api) == 1
    [record] = _keys(api)
    assert record.status == "done" and bytes(record.response_content) == first.hash_id.encode()


@pytest.mark.postgres
@pytest.mark.parametrize("marker_mode", ["database-only"], indirect=True)  # the services alone: once is enough
def test_two_requests_past_the_marker_make_one_order_and_one_answer(committed_api):
    """A marker that expired while its request still worked lets a second request take the fast way too:
    the unique (store, key) index lets one statement write, the other writes nothing (KeyTaken)."""
    store = committed_api.store

    def write() -> str:
        try:
            intake.create_incoming_order_with_key(
                store=store, order_type="pay_in", amount_fiat=Decimal("1000.00"),
                claim=idempotency_services.FreshKey(store, "both-fast", _fingerprint()),
                answer=lambda order: order.hash_id.encode())
            return "written"
        except idempotency_services.KeyTaken:
            return "taken"

    outcomes = run_together(committed_api.tenant, [write, write])

    assert sorted(outcomes) == ["taken", "written"]
    assert _count(committed_api) == 1
    [record] = _keys(committed_api)
    with tenant_context(committed_api.tenant):
        written = IncomingOrder.objects.get()
    assert record.status == "done" and bytes(record.response_content) == written.hash_id.encode()
