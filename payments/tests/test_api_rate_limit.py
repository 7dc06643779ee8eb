"""Store API: the per-store rate limit (STORE_API_RATE_LIMIT) answers 429 with Retry-After."""

from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.api.throttling import parse_rate

from .api_support import PAYIN, make_api_store

NOW = 1_800_000_010.0  # 10 s into a minute


@pytest.fixture
def frozen_clock():
    with mock.patch("payments.api.throttling.time") as clock:
        clock.time.return_value = NOW
        yield clock


def test_the_request_over_the_limit_is_429_with_retry_after(tenant, settings, frozen_clock):
    settings.STORE_API_RATE_LIMIT = "3/min"
    api = make_api_store(tenant)
    client = api.client()

    answers = [client.get("/api/v1/balance").status_code for _ in range(3)]
    refused = client.post("/api/v1/payins", PAYIN, format="json")

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused.headers["Retry-After"] == "50"


def test_the_limit_is_per_store_and_resets_with_the_window(tenant, settings, frozen_clock):
    settings.STORE_API_RATE_LIMIT = "2/min"
    first = make_api_store(tenant)
    second = make_api_store(tenant, refs=first.refs, with_rate=False)
    client = first.client()
    client.get("/api/v1/balance")
    client.get("/api/v1/balance")

    assert client.get("/api/v1/balance").status_code == 429
    assert second.client().get("/api/v1/balance").status_code == 200

    frozen_clock.time.return_value = NOW + 60
    assert client.get("/api/v1/balance").status_code == 200


def test_requests_without_a_valid_key_are_not_counted_against_a_store(tenant, settings, frozen_clock, client):
    settings.STORE_API_RATE_LIMIT = "1/min"
    api = make_api_store(tenant)
    for _ in range(3):
        assert client.get("/api/v1/balance", HTTP_AUTHORIZATION="Bearer sk_wrong").status_code == 401

    assert api.client().get("/api/v1/balance").status_code == 200


@pytest.mark.parametrize(("rate", "expected"), [("600/min", (600, 60)), ("10/s", (10, 1)), ("5/hour", (5, 3600)),
                                                ("1000/day", (1000, 86400))])
def test_rates_are_parsed(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "600", "x/min", "600/fortnight"])
def test_a_bad_rate_setting_fails_loudly(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


def test_a_redis_outage_lets_requests_through_instead_of_failing_them(tenant, settings, caplog, monkeypatch):
    """The counter is unavailable, the orders are not: the request is served and the outage logged; the
    next request does not wait on Redis again (the limit pauses after a failure)."""
    from payments.api import throttling

    from .broker_support import free_port

    monkeypatch.setattr(throttling, "_paused_until", 0.0)  # and back to unpaused after the test
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # a port nobody listens on
    settings.STORE_API_RATE_LIMIT = "1/min"
    api = make_api_store(tenant)

    answers = [api.client().post("/api/v1/payins", {**PAYIN, "client_id": f"order-{n}"}, format="json").status_code
               for n in range(2)]

    assert answers == [201, 201]
    assert "rate limit not checked" in caplog.text
    assert caplog.text.count("rate limit not checked") == 1  # the second request did not try Redis


def test_a_redis_counter_expires_with_its_window(tenant, settings, frozen_clock):
    import redis

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (CI sets it)")
    settings.STORE_API_RATE_LIMIT = "5/min"
    api = make_api_store(tenant)

    assert api.client().get("/api/v1/balance").status_code == 200

    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"store-api-rate:{tenant.pk}:{api.store.pk}:60:{int(NOW // 60)}"
    assert client.get(key) == b"1" and 0 < client.ttl(key) <= 61
    client.delete(key)
