"""The worker's consumer hands kombu a short reconnect back-off instead of Celery's 2-4-6-8 s."""

from config.celery import app
from core.worker_consumer import Consumer, reconnect_intervals


class RecordingConnection:
    def __init__(self):
        self.calls = []

    def ensure_connection(self, errback=None, max_retries=None, **options):
        self.calls.append(options)
        return self


def test_the_worker_uses_this_consumer():
    assert app.conf.worker_consumer == "core.worker_consumer:Consumer"


def test_reconnects_are_tried_at_once_then_at_most_every_setting_seconds(settings):
    settings.CELERY_BROKER_RECONNECT_MAX_SECONDS = 0.5
    consumer = Consumer.__new__(Consumer)  # only ensure_connected is exercised
    consumer.app, consumer.first_connection_attempt, consumer.broker_connection_retry_attempt = app, False, 0
    connection = RecordingConnection()

    consumer.ensure_connected(connection)

    assert connection.calls[0]["interval_start"] == 0.0
    assert connection.calls[0]["interval_max"] == 0.5 == reconnect_intervals()["interval_max"]
