"""/metrics: who may read it, the Prometheus text it serves, the events summed across processes through
Redis, and docs/operations.md listing every metric."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from payments.tests.broker_support import RedisServer

ROOT = Path(django_settings.BASE_DIR)




def scrape(client, **headers) -> dict:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def samples(family, name: str | None = None) -> dict:
    return {tuple(sorted(sample.labels.items())): sample.value for sample in family.samples
            if name is None or sample.name == name}


# --- who may read it --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_without_a_token_only_this_machine_through_no_proxy_may_read(client, settings, local_metrics):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    # a proxy on this machine passing an outside request on
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404


@pytest.mark.django_db
def test_with_a_token_only_the_token_opens_it(client, settings, local_metrics):
    settings.METRICS_TOKEN = "s3cr3t-metrics-token"

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope").status_code == 404
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cr3t-metrics-token")
    assert response.status_code == 200 and b"p2p_orders" in response.content


# --- what it serves ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_request_latency_per_view_is_a_histogram(client, local_metrics):
    for _ in range(3):
        assert client.get("/health/live").status_code == 200
    client.get("/no-such-page")

    families = scrape(client)

    latency = families["p2p_http_request_duration_seconds"]
    counts = samples(latency, "p2p_http_request_duration_seconds_count")
    assert counts[(("method", "GET"), ("status", "2xx"), ("view", "health-live"))] == 3
    assert counts[(("method", "GET"), ("status", "4xx"), ("view", "unmatched"))] == 1
    buckets = [s for s in latency.samples if s.name.endswith("_bucket") and s.labels["view"] == "health-live"]
    assert [s.labels["le"] for s in buckets][-1] == "+Inf" and buckets[-1].value == 3
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative


@pytest.mark.django_db
def test_every_event_metric_is_exposed_with_its_type_even_before_its_first_event(client, local_metrics):
    families = scrape(client)

    for name, metric in metrics.METRICS.items():
        if metric.kind == "gauge" and name not in ("p2p_orders", "p2p_copytrade_connections"):
            continue  # states shown once there is something to show (a verification run, a rate)
        family = families.get(name.removesuffix("_total"))
        assert family is not None, name
        assert family.type == metric.kind


@pytest.mark.django_db
def test_orders_by_status_count_every_tenant(client, local_metrics):
    from payments.tests.assignment_support import make_open_order
    from payments.tests.factories import make_reference_data, make_store
    from tenancy.models import Tenant
    from tenancy.scoping import tenant_context

    for name, orders in (("Operator A", 2), ("Operator B", 1)):
        with tenant_context(Tenant.objects.create(name=name)):
            store = make_store(make_reference_data())[0]
            for _ in range(orders):
                make_open_order(store)

    orders = samples(scrape(client)["p2p_orders"])

    assert orders[(("kind", "incoming"), ("status", "new"))] == 3
    assert orders[(("kind", "incoming"), ("status", "assigned"))] == 0
    assert orders[(("kind", "execution"), ("status", "completed"))] == 0


def test_histogram_observations_land_in_their_bucket_and_add_up(local_metrics):
    for value in (0.004, 0.3, 0.3, 42.0):
        metrics.observe("p2p_copytrade_fanout_seconds", value)

    counters, _ = metrics.totals()

    by_bucket = {metrics.parse_field(field)[1]["le"]: value for field, value in counters.items()
                 if field.startswith("p2p_copytrade_fanout_seconds_bucket|")}
    assert by_bucket == {"0.005": 1, "0.5": 2, "+Inf": 1}
    assert counters['p2p_copytrade_fanout_seconds_sum|[]'] == pytest.approx(42.604)


def test_assignment_failure_reasons_fall_in_a_few_classes():
    from payments.services.assignment import NO_CANDIDATE

    assert metrics.assignment_failure_reason(NO_CANDIDATE) == "no_candidate"
    assert metrics.assignment_failure_reason("Not assigned after 10 attempts. " + NO_CANDIDATE) == "no_candidate"
    assert metrics.assignment_failure_reason("Requisites [3, 4] were taken meanwhile.") == "taken_meanwhile"
    assert metrics.assignment_failure_reason("The hold could not be placed: x") == "hold_failed"
    assert metrics.assignment_failure_reason("Internal error while assigning (KeyError).") == "internal_error"
    assert metrics.assignment_failure_reason("Daily limit of the requisite reached") == "limits"
    assert metrics.assignment_failure_reason("something new") == "other"


# --- many processes, one total ----------------------------------------------------------------------------

COUNT_IN_A_PROCESS = """
import django, sys
django.setup()
from core import metrics
for _ in range(int(sys.argv[1])):
    metrics.count("p2p_callback_deliveries_total", result="delivered")
metrics.observe("p2p_order_assignment_latency_seconds", 0.2)
"""


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
@pytest.mark.django_db
def test_counts_of_several_processes_add_up_in_redis(client, settings):
    """Two other processes (workers, say) count; their counts reach /metrics of this one on their exit."""
    server = RedisServer()
    server.start()
    try:
        settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
        metrics.reset_for_tests()
        env = {"DATABASE_URL": "sqlite:///:memory:", "REDIS_URL": server.url, "PATH": "/usr/bin:/bin",
               "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
        for times in (3, 4):
            subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(times)], cwd=ROOT, env=env, check=True,
                           timeout=120)
        metrics.count("p2p_callback_deliveries_total", result="failed")  # and this process, not yet flushed

        families = scrape(client)

        deliveries = samples(families["p2p_callback_deliveries"], "p2p_callback_deliveries_total")
        assert deliveries[(("result", "delivered"),)] == 7
        assert deliveries[(("result", "failed"),)] == 1
        latency = samples(families["p2p_order_assignment_latency_seconds"],
                          "p2p_order_assignment_latency_seconds_count")
        assert latency[()] == 2
    finally:
        metrics.reset_for_tests()
        server.stop()


def test_a_flush_to_an_unreachable_redis_keeps_the_counts_for_the_next_try(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    metrics.reset_for_tests()
    metrics.count("p2p_trading_exchange_errors_total", exchange="binance", kind="network")

    assert metrics.flush() is False
    assert sum(metrics._store.pending.values()) == 1
    metrics.reset_for_tests()


# --- the operator's page ----------------------------------------------------------------------------------

def test_docs_operations_lists_every_metric_with_an_alert():
    text = (ROOT / "docs" / "operations.md").read_text()
    rows = {match.group(1): line for line in text.splitlines()
            for match in [re.match(r"\| `([a-z0-9_]+)`", line)] if match}

    assert sorted(set(metrics.METRICS) - set(rows)) == []
    for name in metrics.METRICS:
        assert rows[name].count("|") >= 4, f"{name}: a row with its meaning and its alert"
