"""Per-store rate limit of the store API (setting STORE_API_RATE_LIMIT, e.g. "600/min").

A fixed-window counter: one atomic increment per request. With REDIS_URL set, all web processes share
the count in Redis, through one client per process and one round trip (INCR and EXPIRE in one pipeline,
so no counter outlives its window); Django's cache API would build a new Redis client and make two round
trips (EXISTS, INCR) per request.
Without Redis the counter lives in Django's cache (per-process memory).

A request with an Idempotency-Key also sets its Redis marker in that round trip (the view's
`key_marker`, see payments.api.idempotency); the view frees it when the request is refused.

If Redis does not answer, the request is let through (and logged): a rate limit must not turn a broker
outage into refused orders — the orders themselves live in PostgreSQL. After a failure the limit is not
checked for PAUSE_SECONDS, so a Redis that hangs costs one timeout per pause, not one per request.
"""

import logging
import time
from time import monotonic
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
           "d": 86400, "day": 86400}
REDIS_TIMEOUT_SECONDS = 0.5
PAUSE_SECONDS = 1.0

_redis_clients: dict[str, redis.Redis] = {}


class PipelineMarker(Protocol):
    """Something that rides on the counter's round trip (payments.api.idempotency.KeyMarker)."""

    def add_to(self, pipeline: Any) -> None: ...

    def took(self, reply: Any) -> None: ...


def parse_rate(rate: str) -> tuple[int, int]:
    """"600/min" → (600, 60)."""
    try:
        count, period = rate.strip().split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f'STORE_API_RATE_LIMIT must look like "600/min", not {rate!r}.')


def redis_client(url: str) -> redis.Redis:
    """One client (and connection pool, which redis-py renews after a fork) per process and URL."""
    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        _redis_clients[url] = client
    return client


def count_request(key: str, period: int, marker: PipelineMarker | None = None) -> int:
    """Add one to the window counter `key` (kept a little longer than `period`) and return the count;
    with Redis, `marker` (payments.api.idempotency.KeyMarker) is set in the same round trip."""
    if settings.REDIS_URL:
        pipeline = redis_client(settings.REDIS_URL).pipeline(transaction=False).incr(key).expire(key, period + 1)
        if marker is not None:
            marker.add_to(pipeline)
        count, _, *marked = pipeline.execute()
        if marker is not None:
            marker.took(marked[0])
        return count
    try:
        return cache.incr(key)
    except ValueError:  # only the first request of a window creates the counter (with its timeout)
        return 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)


_paused_until = 0.0  # per process: until then Redis is not asked (it failed a moment ago)


class StoreRateThrottle(BaseThrottle):
    def __init__(self):
        self.limit, self.period = parse_rate(settings.STORE_API_RATE_LIMIT)
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        store = request.auth
        if store is None:
            return True
        now = time.time()
        window = int(now // self.period)
        key = f"store-api-rate:{store.tenant_id}:{store.pk}:{self.period}:{window}"
        global _paused_until
        if monotonic() < _paused_until:
            return True
        marker = view.key_marker(request) if settings.REDIS_URL else None
        try:
            count = count_request(key, self.period, marker)
        except redis.RedisError as error:
            _paused_until = monotonic() + PAUSE_SECONDS
            logger.warning("Store API rate limit not checked (Redis: %s); requests let through for %s s",
                           error, PAUSE_SECONDS)
            return True
        if count <= self.limit:
            return True
        self._wait = (window + 1) * self.period - now
        return False

    def wait(self) -> float:
        return max(self._wait, 1.0)
