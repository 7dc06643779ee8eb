"""The Celery worker's consumer, reconnecting to a returned broker within a second.

Celery's consumer reconnects with kombu's default back-off — 2 s, then 4, 6, 8 … up to 30 s between tries —
so a worker found its Redis back up to 8 s late after a 15 s outage, and every order accepted meanwhile
waited that long (bench/recovery.py). A worker's reconnect attempt costs one TCP connect, so it tries every
`CELERY_BROKER_RECONNECT_MAX_SECONDS` at most (default 1 s; the first retry at once).

Settings: `CELERY_WORKER_CONSUMER = "core.worker_consumer:Consumer"` (Celery's own is
`celery.worker.consumer:Consumer`, the way back).
"""

from functools import partial

from celery.worker.consumer import Consumer as CeleryConsumer
from django.conf import settings


def reconnect_intervals() -> dict[str, float]:
    most = float(settings.CELERY_BROKER_RECONNECT_MAX_SECONDS)
    return {"interval_start": 0.0, "interval_step": most / 2, "interval_max": most}


class Consumer(CeleryConsumer):
    def ensure_connected(self, conn):
        conn.ensure_connection = partial(conn.ensure_connection, **reconnect_intervals())
        return super().ensure_connected(conn)
