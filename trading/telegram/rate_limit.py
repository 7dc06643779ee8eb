"""Telegram's rate limits for our sends: one message per chat per TELEGRAM_CHAT_INTERVAL_SECONDS and at most
TELEGRAM_GLOBAL_PER_SECOND messages a second in all (Telegram answers 429 beyond about 1/s per chat and
30/s per bot).

With REDIS_URL the slots are shared by every worker and web process (a per-chat key set with NX and a
time-to-live, a per-second counter); without it they are kept in this process. `wait_for_slot` blocks
until the message may go; a Redis that does not answer lets the message through (Telegram's 429 with
retry_after is the backstop, and the deliverer honours it).
"""

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_chat_next: dict[str, float] = {}
_second: list = [0, 0]  # [epoch second, count]


def _redis():
    if not settings.REDIS_URL:
        return None
    from payments.api.throttling import redis_client

    return redis_client(settings.REDIS_URL)


def _try_local(chat_id: str) -> float:
    """0 when the message may go now (the slot is taken), else seconds to wait."""
    now = time.time()
    with _lock:
        wait = _chat_next.get(chat_id, 0) - now
        if wait > 0:
            return wait
        second = int(now)
        if _second[0] != second:
            _second[:] = [second, 0]
        if _second[1] >= settings.TELEGRAM_GLOBAL_PER_SECOND:
            return second + 1 - now
        _second[1] += 1
        _chat_next[chat_id] = now + settings.TELEGRAM_CHAT_INTERVAL_SECONDS
        return 0.0


def _try_redis(client, chat_id: str) -> float:
    now = time.time()
    second = int(now)
    interval_ms = max(1, int(settings.TELEGRAM_CHAT_INTERVAL_SECONDS * 1000))
    key = f"tg:chat:{chat_id}"
    if not client.set(key, "1", px=interval_ms, nx=True):
        ttl = client.pttl(key)
        return max(ttl, 1) / 1000
    pipe = client.pipeline()
    pipe.incr(f"tg:sec:{second}")
    pipe.expire(f"tg:sec:{second}", 2)
    count, _ = pipe.execute()
    if count > settings.TELEGRAM_GLOBAL_PER_SECOND:
        client.delete(key)  # give the chat's slot back: nothing was sent
        return second + 1 - now
    return 0.0


def wait_for_slot(chat_id: str | int, *, max_wait: float = 30.0) -> None:
    chat_id = str(chat_id)
    deadline = time.monotonic() + max_wait
    while True:
        client = _redis()
        try:
            wait = _try_redis(client, chat_id) if client is not None else _try_local(chat_id)
        except Exception:  # noqa: BLE001 - Redis away: send anyway, Telegram's 429 is the backstop
            logger.warning("telegram rate limit: Redis did not answer; sending without the shared limit")
            return
        if wait <= 0 or time.monotonic() + wait > deadline:
            return
        time.sleep(wait)


def reset_local() -> None:
    """Tests: forget this process's slots."""
    with _lock:
        _chat_next.clear()
        _second[:] = [0, 0]
