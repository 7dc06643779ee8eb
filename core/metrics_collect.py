"""/metrics' exposition: the recorded events (core.metrics) and the states read at scrape time (core.health),
as prometheus-client metric families in Prometheus' text format."""

import logging
import time
from collections import defaultdict

from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from core import health, heartbeat, metrics

logger = logging.getLogger(__name__)


class PlatformCollector:
    def collect(self):
        yield from self._events()
        yield from self._states()

    # -- events ----------------------------------------------------------------------------------------
    def _events(self):
        try:
            counters, gauges = metrics.totals()
        except Exception as exc:  # noqa: BLE001 - the states are still worth serving
            logger.warning("metrics: recorded events not readable: %s", exc)
            counters, gauges = {}, {}
        parsed = defaultdict(list)
        for field, value in counters.items():
            name, labels = metrics.parse_field(field)
            parsed[name].append((labels, value))
        for field, value in gauges.items():
            name, labels = metrics.parse_field(field)
            parsed[name].append((labels, value))
        for metric in metrics.METRICS.values():
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name.removesuffix("_total"), metric.help, labels=metric.labels)
                for labels, value in parsed.get(metric.name, []):
                    family.add_metric([labels.get(label, "") for label in metric.labels], value)
                yield family
            elif metric.kind == "histogram":
                yield self._histogram(metric, parsed)
            elif metric.name in parsed or metric.name == "p2p_copytrade_connections":
                family = GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, value in parsed.get(metric.name, []):
                    family.add_metric([labels.get(label, "") for label in metric.labels], value)
                yield family

    @staticmethod
    def _histogram(metric, parsed):
        family = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
        series: dict[tuple, dict] = defaultdict(lambda: {"buckets": defaultdict(float), "sum": 0.0})
        for labels, value in parsed.get(metric.name + "_bucket", []):
            key = tuple(labels.get(label, "") for label in metric.labels)
            series[key]["buckets"][labels.get("le", "+Inf")] += value
        for labels, value in parsed.get(metric.name + "_sum", []):
            series[tuple(labels.get(label, "") for label in metric.labels)]["sum"] += value
        for key, data in sorted(series.items()):
            cumulative, buckets = 0.0, []
            for edge in [*(str(edge) for edge in metric.buckets), "+Inf"]:
                cumulative += data["buckets"].get(edge, 0.0)
                buckets.append((edge, cumulative))
            family.add_metric(list(key), buckets, data["sum"])
        return family

    # -- states ----------------------------------------------------------------------------------------
    def _states(self):
        yield from _safely("orders", self._orders)
        if settings.CELERY_BROKER_URL:
            yield from _safely("queues", self._queues)
        if settings.REDIS_URL:
            yield from _safely("heartbeats", self._heartbeats)
            yield from _safely("ledger", self._ledger)
        yield from _safely("exchange rates", self._rates)

    def _orders(self):
        family = GaugeMetricFamily("p2p_orders", metrics.METRICS["p2p_orders"].help, labels=("kind", "status"))
        for (kind, status), count in sorted(health.orders_by_status().items()):
            family.add_metric([kind, status], count)
        yield family

    def _queues(self):
        family = GaugeMetricFamily("p2p_celery_queue_length", metrics.METRICS["p2p_celery_queue_length"].help,
                                   labels=("queue",))
        for queue, length in health.queue_lengths().items():
            family.add_metric([queue], length)
        yield family

    def _heartbeats(self):
        family = GaugeMetricFamily("p2p_heartbeat_age_seconds", metrics.METRICS["p2p_heartbeat_age_seconds"].help,
                                   labels=("process",))
        for process, age in heartbeat.ages(heartbeat.expected(), client=health._redis()).items():
            family.add_metric([process], heartbeat.TTL_SECONDS if age is None else age)
        yield family

    def _ledger(self):
        last = health.last_ledger_verification()
        if last is None:
            return
        yield GaugeMetricFamily("p2p_ledger_verify_ok", metrics.METRICS["p2p_ledger_verify_ok"].help,
                                value=1 if last["differences"] == 0 else 0)
        yield GaugeMetricFamily("p2p_ledger_verify_differences",
                                metrics.METRICS["p2p_ledger_verify_differences"].help, value=last["differences"])
        yield GaugeMetricFamily("p2p_ledger_verify_timestamp_seconds",
                                metrics.METRICS["p2p_ledger_verify_timestamp_seconds"].help, value=last["at"])

    def _rates(self):
        age = health.exchange_rate_age()
        if age is not None:
            yield GaugeMetricFamily("p2p_exchange_rate_age_seconds",
                                    metrics.METRICS["p2p_exchange_rate_age_seconds"].help, value=age)


def _safely(what: str, produce):
    try:
        return list(produce())
    except Exception as exc:  # noqa: BLE001 - one unreadable state does not hide the others
        logger.warning("metrics: %s not readable: %s", what, exc)
        return []


def exposition() -> bytes:
    started = time.monotonic()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    body = generate_latest(registry)
    logger.debug("metrics exposition in %.1f ms", (time.monotonic() - started) * 1000)
    return body
