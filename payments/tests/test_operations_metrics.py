"""Payments in /metrics (core.metrics): intake → assigned latency, assignment failures by reason, callback
deliveries and failures, the ledger verifier's result."""

import io
import shutil
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from core.tests.metrics_support import counted
from payments.services.assignment import Outcome, assign_dispatched_orders

from .assignment_support import make_funded_requisite, make_open_order
from .broker_support import RedisServer
from .execution_support import make_world
from .factories import make_store


@pytest.mark.django_db
def test_an_assigned_order_adds_its_intake_to_assignment_latency(in_tenant, refs, local_metrics):
    make_funded_requisite(refs)
    store = make_store(refs)[0]
    order = make_open_order(store)

    results = assign_dispatched_orders(order_ids=[order.pk], tenant_id=in_tenant.pk)

    assert [result.outcome for result in results] == [Outcome.ASSIGNED]
    assert counted("p2p_order_assignment_latency_seconds_count") == {(): 1}
    assert sum(counted("p2p_order_assignment_latency_seconds_bucket").values()) == 1
    assert counted("p2p_order_assignment_failures_total") == {}


@pytest.mark.django_db
def test_failed_attempts_are_counted_by_reason_and_the_last_one_as_final(in_tenant, refs, settings, local_metrics):
    from payments.models import IncomingOrder

    settings.ASSIGNMENT_MAX_ATTEMPTS = 2
    store = make_store(refs)[0]
    order = make_open_order(store)  # no requisite at all

    assign_dispatched_orders(order_ids=[order.pk], tenant_id=in_tenant.pk)
    IncomingOrder.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assign_dispatched_orders(order_ids=[order.pk], tenant_id=in_tenant.pk)

    assert IncomingOrder.objects.get(pk=order.pk).status == IncomingOrder.Status.FAILED
    assert counted("p2p_order_assignment_failures_total") == {
        (("final", "false"), ("reason", "no_candidate")): 1,
        (("final", "true"), ("reason", "no_candidate")): 1,
    }


@pytest.mark.django_db
def test_callback_deliveries_and_failures_are_counted(in_tenant, refs, receiver, settings, local_metrics,
                                                       django_capture_on_commit_callbacks):
    from payments.callbacks.delivery import deliver_callback
    from payments.models import CallbackEvent
    from payments.services.assignment import assign_incoming_order

    server = receiver(script=["500"])
    store = make_store(refs, callback_url=server.url)[0]
    server.secret = store.secret_key
    make_funded_requisite(refs)
    order = make_open_order(store)
    with django_capture_on_commit_callbacks(execute=False):
        assign_incoming_order(order_id=order.pk, tenant_id=in_tenant.pk)  # order.created + order.assigned
    events = list(CallbackEvent.objects.order_by("id"))
    assert len(events) == 2

    with django_capture_on_commit_callbacks(execute=True):
        for event in events:
            deliver_callback(event_id=event.pk)  # the first answered 500, the second 200

    assert counted("p2p_callback_deliveries_total") == {(("result", "failed"),): 1, (("result", "delivered"),): 1}


@pytest.fixture
def own_redis(settings):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    try:
        yield server
    finally:
        server.stop()


def ledger_gauges(client) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {sample.name: sample.value for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples if sample.name.startswith("p2p_ledger_verify")}


@pytest.mark.django_db
def test_the_ledger_verifiers_result_is_in_the_metrics(client, in_tenant, refs, own_redis):
    from payments.models import BalanceStore

    world = make_world(refs, trader_crypto="200", store_crypto="50")
    assert ledger_gauges(client) == {}  # never verified yet

    call_command("verify_ledger", stdout=io.StringIO())
    exact = ledger_gauges(client)
    assert exact["p2p_ledger_verify_ok"] == 1 and exact["p2p_ledger_verify_differences"] == 0
    assert exact["p2p_ledger_verify_timestamp_seconds"] > 1.7e9

    BalanceStore.objects.filter(store=world.store).update(balance=Decimal("999"))
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=io.StringIO())
    wrong = ledger_gauges(client)
    assert wrong["p2p_ledger_verify_ok"] == 0 and wrong["p2p_ledger_verify_differences"] >= 1


@pytest.mark.django_db
def test_the_periodic_task_verifies_every_tenant(in_tenant, refs, own_redis, settings):
    from core.health import last_ledger_verification
    from payments.tasks import verify_ledger_task

    make_world(refs, trader_crypto="200")

    assert verify_ledger_task() == 0
    assert last_ledger_verification()["tenants"] == 1
    assert settings.CELERY_BEAT_SCHEDULE["payments.verify_ledger"]["schedule"] == settings.LEDGER_VERIFY_SECONDS
