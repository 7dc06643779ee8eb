"""Heartbeats of the processes that have no HTTP endpoint: a worker per Celery queue, and beat.

- Beat sends `core.heartbeat` to every queue every HEALTH_HEARTBEAT_SECONDS (CELERY_BEAT_SCHEDULE, one
  entry per queue); the worker that takes it writes `p2p:heartbeat:worker:<queue>` = now. So a worker's
  heartbeat says that the queue is being consumed, not only that a process is alive.
- Beat itself writes `p2p:heartbeat:beat` from its scheduler's tick (BeatScheduler below, at most once per
  HEALTH_HEARTBEAT_SECONDS), whether or not any worker runs.

Both are Redis keys (the broker's Redis is what the processes already share) with a TTL of an hour, read
by /health/ready and /metrics (p2p_heartbeat_age_seconds).
"""

import logging
import time

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "p2p:heartbeat:"
TTL_SECONDS = 3600


def _client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)


def write(process: str, *, client=None) -> None:
    """Note that `process` ("worker:<queue>", "beat") is alive now."""
    if not settings.REDIS_URL:
        return
    (client or _client()).set(PREFIX + process, repr(time.time()), ex=TTL_SECONDS)


def ages(processes: list[str], *, client=None) -> dict[str, float | None]:
    """Seconds since each process's last heartbeat (None: none seen within the TTL)."""
    client = client or _client()
    values = client.mget([PREFIX + name for name in processes]) if processes else []
    now = time.time()
    return {name: (None if value is None else max(0.0, now - float(value)))
            for name, value in zip(processes, values, strict=True)}


def expected() -> list[str]:
    """The heartbeats /health/ready wants: beat, and a worker on every queue."""
    return ["beat", *(f"worker:{queue}" for queue in queue_names())]


def queue_names() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


class BeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler, writing beat's own heartbeat as it ticks (CELERY_BEAT_SCHEDULER)."""

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= min(5.0, settings.HEALTH_HEARTBEAT_SECONDS):
            try:
                write("beat")
                self._last_beat = now
            except Exception as exc:  # noqa: BLE001 - beat goes on; /health/ready will show the stale beat
                logger.warning("beat heartbeat not written: %s", exc)
        interval = super().tick(*args, **kwargs)
        return min(interval, settings.HEALTH_HEARTBEAT_SECONDS)
