"""Short-lived per-process caches for rows every store API request reads (the store of a key, a rate).

Why per process and not Redis: the point is to skip a round trip, and a Redis GET costs about what the
PostgreSQL SELECT it would save does. The price is staleness, bounded two ways:
- every entry lives at most `settings.<ttl_setting>` seconds (0 turns the cache off), so a change made
  in another process (a disabled store, a rotated key, a new rate) is seen within that time;
- a `save()` or `delete()` of such a row in this process clears every local cache at once (see
  `payments.signals`), so a page or test that changes a row and then calls the API sees the change
  immediately; `bulk_create` and `.update()` send no signal, so their changes are seen within the TTL.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

V = TypeVar("V")

_registry: list["LocalTTLCache"] = []
_registry_lock = threading.Lock()


class LocalTTLCache(Generic[V]):
    """A bounded dict of `key -> (value, expires_at)`; values must be treated as read-only by callers."""

    def __init__(self, name: str, *, ttl_setting: str, max_entries: int = 10_000) -> None:
        self.name = name
        self.ttl_setting = ttl_setting
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[V, float]] = {}
        with _registry_lock:
            _registry.append(self)

    def get_or_load(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The cached value of `key`, else `load()` — cached unless it is None (misses are never cached)."""
        ttl = float(getattr(settings, self.ttl_setting))
        if ttl <= 0:
            return load()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[1] > now:
            return entry[0]
        value = load()
        if value is not None:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # crude but bounded; a full cache means unusual load, not the steady state
            self._entries[key] = (value, now + ttl)
        return value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def clear_local_caches() -> None:
    """Empty every LocalTTLCache of this process (a row they may hold has changed)."""
    for cache in list(_registry):
        cache.clear()
