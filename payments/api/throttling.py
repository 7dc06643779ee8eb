"""Per-store rate limit of the store API (setting STORE_API_RATE_LIMIT, e.g. "600/min").

A fixed-window counter in the cache: one atomic increment per request (Redis
when REDIS_URL is set, so all web processes share the count). DRF's stock
throttle keeps every request time in one cached list, which grows with the
limit and is rewritten on each request; a counter costs the same at any rate.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
           "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """"600/min" → (600, 60)."""
    try:
        count, period = rate.strip().split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f'STORE_API_RATE_LIMIT must look like "600/min", not {rate!r}.')


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
        # incr() is atomic; only the first request of a window creates the counter (with its timeout).
        try:
            count = cache.incr(key)
        except ValueError:
            count = 1 if cache.add(key, 1, timeout=self.period + 1) else cache.incr(key)
        if count <= self.limit:
            return True
        self._wait = (window + 1) * self.period - now
        return False

    def wait(self) -> float:
        return max(self._wait, 1.0)
