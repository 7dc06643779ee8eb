"""Publishing a Celery message never holds up a request (core.messaging.hints), against a real redis-server.

Each test starts a redis-server of its own on a free port and makes this process publish as a web
process does: not eager, to that server, through a fresh publisher. "Down" is tested both ways a broker
goes away: stopped (connections refused) and hung (SIGSTOP: connections accepted, nothing answered —
the case where kombu would wait forever, here for BROKER_TIMEOUT). A request that waited on the broker
would run into the client's timeout; the sweepers then do what the lost message would have done.
"""

import base64
import json
import logging
import os
import shutil
import signal
import threading
import time
from datetime import timedelta

import httpx
import pytest
import redis as redis_client
from django.utils import timezone

from config.celery import app
from core.messaging import hints
from payments.callbacks.events import enqueue_order_event
from payments.callbacks.sweeper import sweep_due_callbacks
from payments.models import CallbackEvent, IncomingOrder
from payments.services.assignment import dispatch_lease, sweep_due_orders
from payments.tasks import assign_incoming_order_task
from tenancy.scoping import tenant_context

from .api_support import PAYIN, make_api_store
from .assignment_support import make_funded_requisite
from .broker_support import RedisServer, wait_for
from .factories import make_incoming_order, make_reference_data, make_store

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")

PAYINS = "/api/v1/payins"
CLIENT_TIMEOUT = 10  # seconds: a request that waited on the broker fails the test instead of passing late
BROKER_TIMEOUT = 30  # seconds: how long a hung broker is waited on; longer than the client waits for an answer


@pytest.fixture
def publisher(broker, monkeypatch):
    """This process publishes like a web process: not eager, to `broker`, through a publisher of the test's own."""
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)  # Celery reads the environment before its settings
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    # whoever waits on a hung broker waits longer than the client waits for its answer
    monkeypatch.setitem(app.conf, "broker_transport_options",
                        {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT})
    fresh = hints.Publisher()
    monkeypatch.setattr(hints, "_publisher", fresh)
    yield fresh
    broker.stop()  # a thread waiting on a hung broker gives up at once
    fresh.flush(timeout=5)


QUEUES = ["assignment", "callbacks", "sweeps", "celery"]  # CELERY_TASK_QUEUES


def take_message(broker: RedisServer, *, timeout: int = 10) -> dict:
    """The next task message in any of the broker's queues: its task name, args and kwargs."""
    client = redis_client.Redis.from_url(broker.url)
    try:
        popped = client.brpop(QUEUES, timeout=timeout)
    finally:
        client.close()
    assert popped is not None, "no message arrived"
    message = json.loads(popped[1])
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    return {"task": message["headers"]["task"], "args": args, "kwargs": kwargs}


def queued_messages(broker: RedisServer) -> int:
    client = redis_client.Redis.from_url(broker.url)
    try:
        return sum(client.llen(name) for name in QUEUES)
    finally:
        client.close()


def go_down(broker: RedisServer, how: str) -> None:
    if how == "stopped":
        broker.stop()
    else:
        broker.pause()


def dropped(caplog, task_name: str) -> bool:
    return any(record.name == "core.messaging.hints" and record.levelno == logging.WARNING
               and task_name in record.getMessage() for record in caplog.records)


def post_payin(live_server, api) -> httpx.Response:
    return httpx.post(f"{live_server.url}{PAYINS}", json=PAYIN, timeout=CLIENT_TIMEOUT,
                      headers={"Authorization": f"Bearer {api.key}"})


# --- through the store API --------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_up_the_assignment_message_of_an_accepted_order_arrives(tenant, live_server, broker,
                                                                                publisher):
    api = make_api_store(tenant)

    response = post_payin(live_server, api)

    assert response.status_code == 201, response.text
    with tenant_context(tenant):
        order = IncomingOrder.objects.get(hash_id=response.json()["id"])
    assert take_message(broker) == {"task": "payments.assign_incoming_order", "args": [order.pk],
                                    "kwargs": {"tenant_id": str(tenant.pk)}}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_with_the_broker_down_intake_answers_at_once_and_the_sweeper_assigns_the_order(
        tenant, live_server, broker, publisher, caplog, how, monkeypatch):
    api = make_api_store(tenant)
    with tenant_context(tenant):
        make_funded_requisite(api.refs)
    go_down(broker, how)

    response = post_payin(live_server, api)  # raises ReadTimeout if the request waited on the broker

    assert response.status_code == 201, response.text
    with tenant_context(tenant):
        order = IncomingOrder.objects.get(hash_id=response.json()["id"])
    assert order.status == IncomingOrder.Status.NEW
    broker.stop()  # a hung broker dies too: the publisher thread waiting on it gives up at once
    wait_for(lambda: dropped(caplog, "payments.assign_incoming_order"), what="the message to be dropped",
             timeout=20)

    def given_back() -> bool:  # the drop is logged first, then the row is handed back
        with tenant_context(tenant):
            return IncomingOrder.objects.filter(pk=order.pk, dispatched_at__isnull=True).exists()

    wait_for(given_back, what="the dropped message's order to be given back", timeout=20)

    # the broker is back; the sweeper (run here, in-process) sends the order once its lease is over
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    assert sweep_due_orders(now=timezone.now() + dispatch_lease() + timedelta(seconds=1)) == 1
    with tenant_context(tenant):
        order.refresh_from_db()
    assert order.status == IncomingOrder.Status.ASSIGNED


# --- callback events ---------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dropped_callback_message_gives_the_event_back_to_the_sweeper_at_once(tenant, broker, publisher, server,
                                                                               monkeypatch):
    with tenant_context(tenant):
        store, _ = make_store(make_reference_data(), callback_url=server.url)
        server.secret = store.secret_key
    broker.stop()

    with tenant_context(tenant):
        event = enqueue_order_event(incoming_order=make_incoming_order(store), event_type="order.created")
        # autocommit: the message went to the publisher on "commit", marked as sent
        assert CallbackEvent.objects.get(pk=event.pk).dispatched_at is not None

    def given_back() -> bool:
        with tenant_context(tenant):
            return CallbackEvent.objects.get(pk=event.pk).dispatched_at is None

    wait_for(given_back, what="the event to be given back to the sweeper", timeout=20)
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    assert sweep_due_callbacks() == 1  # at once, not after the dispatch lease
    with tenant_context(tenant):
        assert CallbackEvent.objects.get(pk=event.pk).status == CallbackEvent.Status.DELIVERED
    assert len(server.requests) == 1 and server.requests[0].verified


# --- the publisher itself --------------------------------------------------------------------------------

def order_message(order_id: int, on_drop=None) -> hints.Message:
    return hints.Message(assign_incoming_order_task, [order_id], {"tenant_id": "t"}, on_drop)


def test_a_full_queue_drops_the_message_and_runs_its_on_drop_in_the_caller(broker, publisher, caplog):
    small = hints.Publisher(maxsize=1)
    broker.pause()  # the thread is stuck on its first message until the socket timeout
    caller = threading.current_thread()
    given_back = []

    def on_drop(n: int):
        return lambda: given_back.append((n, threading.current_thread() is caller))

    accepted = [small.submit(order_message(n, on_drop=on_drop(n))) for n in range(1, 4)]

    assert False in accepted  # one waits in the queue, one (at most) is in the thread's hands
    refused = [n for n, ok in zip(range(1, 4), accepted, strict=True) if not ok]
    assert [n for n, inline in given_back if inline] == refused
    assert dropped(caplog, "payments.assign_incoming_order")
    broker.stop()  # the thread gives its message up
    assert small.flush(timeout=5)


def test_messages_go_out_again_once_the_broker_is_back(broker, publisher):
    broker.stop()
    publisher.submit(order_message(1))
    wait_for(lambda: publisher.flush(timeout=2), what="the first message to be dropped")
    broker.start()

    publisher.submit(order_message(2))

    assert take_message(broker)["args"] == [2]
    assert queued_messages(broker) == 0  # the first one was dropped, not kept


def test_a_forked_child_publishes_through_a_thread_of_its_own(broker, publisher):
    """gunicorn and Celery's prefork pool fork after import: the parent's queue and thread are not the child's."""
    publisher.submit(order_message(1))
    assert take_message(broker)["args"] == [1]  # the parent's thread is running

    pid = os.fork()
    if pid == 0:  # the child: publish, flush, and leave without running the parent's cleanup
        code = 1
        try:
            code = 0 if publisher.submit(order_message(2)) and publisher.flush(timeout=5) else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if waited == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child did not finish")

    assert os.waitstatus_to_exitcode(waited[1]) == 0
    assert take_message(broker)["args"] == [2]
    publisher.submit(order_message(3))  # and the parent's thread still works
    assert take_message(broker)["args"] == [3]


def test_a_failure_is_logged_without_the_broker_password(broker, publisher, caplog, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://:s3cret-pw@127.0.0.1:{broker.port}/0")
    broker.stop()

    publisher.submit(order_message(1))

    wait_for(lambda: dropped(caplog, "payments.assign_incoming_order"), what="the drop to be logged")
    assert "s3cret-pw" not in caplog.text
    assert hints.describe(ValueError("redis://user:s3cret-pw@host:6379/0 refused")) == (
        "ValueError: redis://***@host:6379/0 refused")


# --- inside a worker's task ----------------------------------------------------------------------------------

@pytest.fixture
def in_worker_task(publisher, monkeypatch):
    """publish() as called from a task a worker runs (the assignment worker's callback events, the sweepers)."""
    monkeypatch.setattr(hints, "_in_worker_task", lambda app: True)
    monkeypatch.setattr(hints, "_inline", threading.local())  # this test's sender, not an earlier test's


def test_in_a_worker_the_message_goes_out_at_once_through_the_wire(broker, in_worker_task):
    hints.publish(assign_incoming_order_task, args=[5], kwargs={"tenant_id": "t"})

    assert queued_messages(broker) == 1  # sent before publish() returned: no thread in between
    assert take_message(broker) == {"task": "payments.assign_incoming_order", "args": [5],
                                    "kwargs": {"tenant_id": "t"}}
    assert hints._inline.sender.wire is not None


def test_in_a_worker_a_dead_broker_drops_the_message_runs_on_drop_and_pauses(broker, in_worker_task, caplog):
    broker.stop()
    given_back = []

    for n in range(3):
        hints.publish(assign_incoming_order_task, args=[n], kwargs={"tenant_id": "t"},
                      on_drop=lambda n=n: given_back.append(n))

    assert given_back == [0, 1, 2]  # nothing raised into the task
    messages = [record.getMessage() for record in caplog.records if record.name == "core.messaging.hints"]
    assert sum("Could not send" in message for message in messages) == 1  # one try on the dead broker
    assert sum("did not answer a moment ago" in message for message in messages) == 2  # the pause: no more
    broker.start()
    hints._inline.sender.paused_until = 0.0
    hints.publish(assign_incoming_order_task, args=[9], kwargs={"tenant_id": "t"})
    assert take_message(broker)["args"] == [9]  # and it sends again once the broker is back


# --- coalescing ---------------------------------------------------------------------------------------------

def test_messages_waiting_together_go_out_as_one_batch_message_per_key(broker, publisher):
    """What queued up while the thread was busy goes out as batches of BATCH_MAX at most, per tenant."""
    from payments.tasks import assign_incoming_orders_task

    def message(order_id: int, tenant: str) -> hints.Message:
        kwargs = {"tenant_id": tenant}
        return hints.Message(assign_incoming_order_task, [order_id], kwargs,
                             batch=hints.Batch(task=assign_incoming_orders_task, item=order_id, kwargs=kwargs))

    waiting = [message(n, "t1") for n in range(hints.BATCH_MAX + 3)] + [message(100, "t2")]
    for queued in waiting:  # queued before the thread runs: it finds them all waiting at once
        publisher._queue.put_nowait(queued)
    publisher._ensure_thread()

    sent = [take_message(broker) for _ in range(3)]
    assert sent == [
        {"task": "payments.assign_incoming_orders", "args": [list(range(hints.BATCH_MAX))],
         "kwargs": {"tenant_id": "t1"}},
        {"task": "payments.assign_incoming_orders", "args": [list(range(hints.BATCH_MAX, hints.BATCH_MAX + 3))],
         "kwargs": {"tenant_id": "t1"}},
        {"task": "payments.assign_incoming_order", "args": [100], "kwargs": {"tenant_id": "t2"}},
    ]
    assert queued_messages(broker) == 0


# --- the sweeper and the queue ------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_resends_a_stale_new_order_only_when_no_backlog_can_hold_its_message(tenant, broker, publisher,
                                                                                          settings):
    """Behind a backlog the order's message is most likely still queued: re-sending it only adds duplicates."""
    settings.ASSIGNMENT_SWEEP_QUEUE_SLACK = 2
    with tenant_context(tenant):  # its message was handed to the broker (and lost there, or still queued)
        order = make_incoming_order(make_store(make_reference_data())[0], dispatched_at=timezone.now())
    assert hints.waiting_messages(assign_incoming_order_task) == 0  # no queue yet counts as empty
    queue = redis_client.Redis.from_url(broker.url)
    queue.lpush("assignment", "other-1", "other-2", "other-3")  # a backlog of other orders' messages
    later = timezone.now() + dispatch_lease() + timedelta(seconds=1)  # the order's lease is over

    assert hints.waiting_messages(assign_incoming_order_task) == 3
    assert sweep_due_orders(now=later) == 0

    queue.lpop("assignment")  # the workers are catching up: a short queue
    assert hints.waiting_messages(assign_incoming_order_task) == 2
    assert sweep_due_orders(now=later) == 1
    for other in ("other-1", "other-2"):
        queue.lrem("assignment", 0, other)
    queue.close()
    assert take_message(broker)["args"] == [order.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_an_answer_from_the_broker_the_sweeper_resends_as_before(tenant, broker, publisher):
    with tenant_context(tenant):
        order = make_incoming_order(make_store(make_reference_data())[0])
    broker.stop()

    assert hints.waiting_messages(assign_incoming_order_task) is None
    with tenant_context(tenant):
        claimed = IncomingOrder.objects.get(pk=order.pk).dispatched_at
    sweep_due_orders(now=timezone.now() + dispatch_lease() + timedelta(seconds=1))  # the send itself fails
    with tenant_context(tenant):
        assert IncomingOrder.objects.get(pk=order.pk).dispatched_at != claimed  # it was claimed to be re-sent
