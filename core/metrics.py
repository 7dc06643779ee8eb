"""The platform's metrics, served in Prometheus' text format at /metrics (core.views.metrics).

Two kinds (docs/operations.md lists every one with what an alert on it should say):

- Events, counted where they happen — a web request, an assignment in a Celery worker, a fan-out in the
  copy-trade server. Those processes have no HTTP endpoint of their own and run on several machines, so
  each process adds its events up in memory (a dict under a lock: no I/O on the caller's path) and a
  daemon thread adds them to one Redis hash every METRICS_FLUSH_SECONDS (HINCRBYFLOAT, one pipeline).
  /metrics on any web machine then shows the whole platform's counts. Without REDIS_URL (the zero-setup
  mode, most tests) the totals stay in the process.
- States, read when /metrics is scraped: orders by status, queue lengths, heartbeat ages, the ledger
  verifier's last result, exchange-rate age (core.metrics_collect).

Histograms are kept per bucket (not cumulative) and summed up at exposition, so processes can add to
them independently. Label values must come from small fixed sets (a reason class, a queue name, a view
name): never an id.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

logger = logging.getLogger(__name__)

HASH_KEY = "p2p:metrics"
GAUGE_PREFIX = "p2p:metrics:g:"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ASSIGNMENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | histogram | gauge
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


# Every metric the platform exposes. docs/operations.md has a row for each (core/tests/test_metrics.py checks).
METRICS = {metric.name: metric for metric in (
    # events (recorded with count/observe/gauge below)
    Metric("p2p_http_request_duration_seconds", "histogram", "Web request latency by view.",
           ("view", "method", "status"), LATENCY_BUCKETS),
    Metric("p2p_order_assignment_latency_seconds", "histogram",
           "From an incoming order's intake to its assignment to a requisite.", (), ASSIGNMENT_BUCKETS),
    Metric("p2p_order_assignment_failures_total", "counter",
           "Failed assignment attempts by reason; final=true when the order became failed.", ("reason", "final")),
    Metric("p2p_callback_deliveries_total", "counter",
           "Store callback delivery attempts by result (delivered, failed, given_up).", ("result",)),
    Metric("p2p_trading_signals_total", "counter",
           "Signal webhook calls: accepted, duplicate, or rejected with the error code as reason.",
           ("result", "reason")),
    Metric("p2p_trading_exchange_errors_total", "counter",
           "Exchange calls that failed: network (each try) or refused by the exchange.", ("exchange", "kind")),
    Metric("p2p_copytrade_connection_events_total", "counter", "EA connections opened / closed.", ("event",)),
    Metric("p2p_copytrade_fanout_seconds", "histogram",
           "A master's event from its line received to every follower line sent or published.",
           (), LATENCY_BUCKETS),
    Metric("p2p_copytrade_connections", "gauge", "EA connections open now, per copy-trade server.", ("server",)),
    # states (core.metrics_collect)
    Metric("p2p_orders", "gauge", "Orders by status: incoming orders (kind=incoming) and assigned orders "
           "(kind=execution).", ("kind", "status")),
    Metric("p2p_celery_queue_length", "gauge", "Messages waiting in each Celery queue.", ("queue",)),
    Metric("p2p_heartbeat_age_seconds", "gauge",
           "Seconds since each worker queue and beat last showed a heartbeat.", ("process",)),
    Metric("p2p_ledger_verify_ok", "gauge", "1 when the last ledger verification found no difference, else 0."),
    Metric("p2p_ledger_verify_differences", "gauge", "Differences the last ledger verification found."),
    Metric("p2p_ledger_verify_timestamp_seconds", "gauge", "When the ledger was last verified (Unix time)."),
    Metric("p2p_exchange_rate_age_seconds", "gauge",
           "Age of the oldest tenant's newest exchange rate (intake refuses past EXCHANGE_RATE_MAX_AGE)."),
)}


def _field(name: str, labels: dict) -> str:
    return name + "|" + json.dumps(sorted((k, str(v)) for k, v in labels.items()), separators=(",", ":"))


def parse_field(field: str) -> tuple[str, dict]:
    name, _, labels = field.partition("|")
    return name, dict(json.loads(labels)) if labels else {}


class _Store:
    """This process's unflushed deltas, and its totals when there is no Redis."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.pending: dict[str, float] = defaultdict(float)
        self.gauges: dict[str, tuple[float, float]] = {}  # field -> (value, ttl)
        self.local: dict[str, float] = defaultdict(float)
        self.local_gauges: dict[str, tuple[float, float]] = {}  # field -> (value, expires at)
        self.thread: threading.Thread | None = None
        self.client = None

    def _forked(self) -> None:
        if self.pid != os.getpid():  # a forked child (Celery's pool, gunicorn's workers): its own deltas
            self.lock = threading.Lock()
            self._reset()

    def add(self, field: str, amount: float) -> None:
        self._forked()
        with self.lock:
            self.pending[field] += amount
        self._ensure_flusher()

    def set_gauge(self, field: str, value: float, ttl: float) -> None:
        self._forked()
        with self.lock:
            self.gauges[field] = (value, ttl)
        self._ensure_flusher()

    def _ensure_flusher(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._loop, name="metrics-flush", daemon=True)
                    self.thread.start()

    def _loop(self) -> None:
        from django.conf import settings

        while True:
            time.sleep(max(0.1, float(settings.METRICS_FLUSH_SECONDS)))
            self.flush()

    def redis(self):
        from django.conf import settings

        url = settings.REDIS_URL
        if not url:
            return None
        if self.client is None or self.client[0] != url:
            import redis

            self.client = (url, redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0))
        return self.client[1]

    def flush(self) -> bool:
        """Add this process's deltas to the shared totals; kept for the next try if Redis does not answer."""
        self._forked()
        with self.lock:
            pending, self.pending = self.pending, defaultdict(float)
            gauges, self.gauges = self.gauges, {}
        if not pending and not gauges:
            return True
        client = self.redis()
        if client is None:
            now = time.time()
            with self.lock:
                for field, amount in pending.items():
                    self.local[field] += amount
                for field, (value, ttl) in gauges.items():
                    self.local_gauges[field] = (value, now + ttl)
            return True
        try:
            pipe = client.pipeline(transaction=False)
            for field, amount in pending.items():
                pipe.hincrbyfloat(HASH_KEY, field, amount)
            for field, (value, ttl) in gauges.items():
                pipe.set(GAUGE_PREFIX + field, repr(value), ex=max(1, int(ttl)))
            pipe.execute()
            return True
        except Exception as exc:  # noqa: BLE001 - metrics never break the work they count
            logger.debug("metrics not flushed (%s); kept for the next try", exc)
            with self.lock:
                for field, amount in pending.items():
                    self.pending[field] += amount
                for field, value in gauges.items():
                    self.gauges.setdefault(field, value)
            return False

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """Counters and live gauges, of the whole platform (Redis) or of this process (no Redis)."""
        self.flush()
        client = self.redis()
        if client is None:
            now = time.time()
            with self.lock:
                return dict(self.local), {f: v for f, (v, until) in self.local_gauges.items() if until > now}
        raw = client.hgetall(HASH_KEY)
        counters = {key.decode(): float(value) for key, value in raw.items()}
        gauges = {}
        keys = list(client.scan_iter(match=GAUGE_PREFIX + "*", count=500))
        if keys:
            for key, value in zip(keys, client.mget(keys), strict=True):
                if value is not None:
                    gauges[key.decode()[len(GAUGE_PREFIX):]] = float(value)
        return counters, gauges


_store = _Store()
atexit.register(lambda: _store.flush())


def flush() -> bool:
    return _store.flush()


def totals() -> tuple[dict[str, float], dict[str, float]]:
    return _store.totals()


def count(name: str, amount: float = 1, **labels) -> None:
    """Add to counter `name` (one of METRICS)."""
    _store.add(_field(name, labels), amount)


def observe(name: str, value: float, **labels) -> None:
    """One observation of histogram `name`: its bucket, sum and count."""
    metric = METRICS[name]
    bucket = next((str(edge) for edge in metric.buckets if value <= edge), "+Inf")
    _store.add(_field(name + "_bucket", {**labels, "le": bucket}), 1)
    _store.add(_field(name + "_sum", labels), value)
    _store.add(_field(name + "_count", labels), 1)


def gauge(name: str, value: float, *, ttl: float = 60, **labels) -> None:
    """Gauge `name` of this process, shown until `ttl` seconds pass without a new value (a dead process's goes)."""
    _store.set_gauge(_field(name, labels), value, ttl)


def reset_for_tests() -> None:
    """Forget this process's deltas and local totals (Redis totals are the test's own Redis's)."""
    with _store.lock:
        _store.pending.clear()
        _store.gauges.clear()
        _store.local.clear()
        _store.local_gauges.clear()
    _store.client = None


# --- what is counted, by domain: one place names the label values --------------------------------------

def assignment_failure_reason(reason: str) -> str:
    """A failed attempt's free-text reason (payments.services.assignment) as one of a few classes."""
    text = reason.lower()
    for needle, label in (("no free requisite", "no_candidate"), ("taken meanwhile", "taken_meanwhile"),
                          ("hold could not", "hold_failed"), ("internal error", "internal_error"),
                          ("limit", "limits")):
        if needle in text:
            return label
    return "other"
