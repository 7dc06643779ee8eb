"""core.messaging.redis_wire writes the message kombu's Redis transport writes for the same task call, sends
Celery's publish signals, and is used only while BROKER_REDIS_WIRE is on."""

import base64
import json

import pytest
import redis as redis_client
from celery.signals import after_task_publish, before_task_publish
from celery.utils.saferepr import saferepr
from hypothesis import given
from hypothesis import strategies as st
from kombu import Connection

from config.celery import app
from core.messaging import hints
from core.messaging.redis_wire import RedisTaskWire, plain_repr
from payments.tasks import (
    assign_incoming_order_task,
    assign_incoming_orders_task,
    deliver_callback_task,
    load_exchange_rates_task,
    sweep_due_orders_task,
)

PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag", "origin"}  # fresh for every message


@pytest.fixture(autouse=True)
def sent_not_run(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # the suite runs tasks inline; here they are sent


@pytest.fixture(autouse=True)
def empty_queues(request):
    """The queues the tests write to start and end empty (they may be on the shared Redis at REDIS_URL)."""
    def clear():
        if "wire_redis" in request.fixturenames:
            redis_client.Redis.from_url(request.getfixturevalue("wire_redis").url).delete(*QUEUES)
    clear()
    yield
    clear()


QUEUES = ("assignment", "callbacks", "sweeps", "celery", "other")


def written(client: redis_client.Redis, queue: str) -> dict:
    [raw] = client.lrange(queue, 0, -1)
    client.delete(queue)
    return json.loads(raw)


def without_ids(message: dict) -> dict:
    headers = {k: v for k, v in message["headers"].items() if k not in PER_MESSAGE}
    properties = {k: v for k, v in message["properties"].items() if k not in PER_MESSAGE}
    body = json.loads(base64.b64decode(message["body"]))
    return {**message, "headers": headers, "properties": properties, "body": body}


@pytest.mark.parametrize(("task", "args", "kwargs"), [
    (assign_incoming_order_task, [7], {"tenant_id": "3f1c0a52-8b7e-4c43-9d0e-0c1f7c2b9a10"}),
    (assign_incoming_orders_task, [[7, 8, 9]], {"tenant_id": "3f1c0a52-8b7e-4c43-9d0e-0c1f7c2b9a10"}),
    (assign_incoming_order_task, [7], {"tenant_id": "it's \"quoted\" and ü"}),  # argsrepr left to Celery
])
def test_the_wire_writes_what_kombu_writes(wire_redis, task, args, kwargs):
    client = redis_client.Redis.from_url(wire_redis.url)
    with Connection(wire_redis.url) as connection:
        task.apply_async(args=args, kwargs=kwargs, producer=app.amqp.Producer(connection))
        kombus = written(client, "assignment")  # CELERY_TASK_ROUTES
        wire = RedisTaskWire.for_connection(app, connection, socket_timeout=5, connect_timeout=2)
    assert wire is not None

    assert wire.push(task, args, kwargs)

    ours = written(client, "assignment")
    assert without_ids(ours) == without_ids(kombus)
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert ours["headers"]["id"] != kombus["headers"]["id"]
    assert without_ids(ours)["body"][:2] == [args, kwargs]
    wire.close()


def test_a_setup_the_wire_does_not_know_goes_through_kombu(wire_redis):
    with Connection(wire_redis.url, transport_options={"global_keyprefix": "p2p:"}) as prefixed:
        assert RedisTaskWire.for_connection(app, prefixed, socket_timeout=5, connect_timeout=2) is None
    with Connection("memory://") as memory:
        assert RedisTaskWire.for_connection(app, memory, socket_timeout=5, connect_timeout=2) is None
    with Connection("sentinel://127.0.0.1:26379", transport_options={"master_name": "p2p"}) as sentinel:
        assert RedisTaskWire.for_connection(app, sentinel, socket_timeout=5, connect_timeout=2) is None


def test_a_task_routed_by_a_function_is_left_to_celery(wire_redis, monkeypatch):
    """A router function may look at the arguments; only mapping routes (CELERY_TASK_ROUTES) are resolved."""
    client = redis_client.Redis.from_url(wire_redis.url)
    wire = RedisTaskWire(app, client)
    monkeypatch.setattr(app.amqp.router, "routes", [lambda name, args, kwargs, options, task=None: {"queue": "other"}])

    assert wire.push(assign_incoming_order_task, [1], {"tenant_id": "t"}) is False
    assert client.llen("celery") == 0 and client.llen("other") == 0 and client.llen("assignment") == 0


@pytest.mark.parametrize(("task", "queue"), [
    (assign_incoming_order_task, "assignment"), (deliver_callback_task, "callbacks"),
    (sweep_due_orders_task, "sweeps"), (load_exchange_rates_task, "celery"),
])
def test_each_task_goes_to_its_own_queue(wire_redis, task, queue):
    client = redis_client.Redis.from_url(wire_redis.url)
    wire = RedisTaskWire(app, client)

    assert wire.push(task, [], {})

    assert client.llen(queue) == 1 and queue == hints.queue_name(task)
    assert sum(client.llen(name) for name in QUEUES) == 1


ids = (st.none() | st.booleans() | st.integers() | st.floats()
       | st.text(alphabet=st.sampled_from("aZ09_.:-'\"\\ ü\n"), max_size=8))
shapes = st.recursive(ids, lambda inner: st.lists(inner, max_size=25) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(alphabet=st.sampled_from("ab_-'ü "), max_size=6), inner, max_size=4),
                      max_leaves=60)


@given(shapes)
def test_plain_repr_is_celerys_saferepr_or_nothing(value):
    ours = plain_repr(value)

    assert ours is None or ours == saferepr(value, 1024, maxlevels=app.conf.task_repr_maxlevels)


def test_the_hints_arguments_take_the_plain_repr():
    assert plain_repr([list(range(1000, 1020))]) == repr([list(range(1000, 1020))])
    assert plain_repr({"tenant_id": "3f1c0a52-8b7e-4c43-9d0e-0c1f7c2b9a10"}) is not None


def test_the_wire_sends_celerys_publish_signals(wire_redis):
    """Receivers of before_task_publish see the message before it is written (a header they add travels
    with it), receivers of after_task_publish after; as with apply_async."""
    client = redis_client.Redis.from_url(wire_redis.url)
    wire = RedisTaskWire(app, client)
    seen = []

    def before(sender, body, exchange, routing_key, headers, properties, declare, retry_policy, **extra):
        seen.append(("before", sender, routing_key, list(body[:2]), client.llen("assignment")))
        headers["traceparent"] = "00-trace-span-01"

    def after(sender, body, headers, exchange, routing_key, **extra):
        seen.append(("after", sender, routing_key, headers["id"], client.llen("assignment")))

    before_task_publish.connect(before, weak=False)
    after_task_publish.connect(after, weak=False)
    try:
        assert wire.push(assign_incoming_order_task, [7], {"tenant_id": "t"})
    finally:
        before_task_publish.disconnect(before)
        after_task_publish.disconnect(after)

    message = written(client, "assignment")
    assert seen == [
        ("before", "payments.assign_incoming_order", "assignment", [[7], {"tenant_id": "t"}], 0),
        ("after", "payments.assign_incoming_order", "assignment", message["headers"]["id"], 1),
    ]
    assert message["headers"]["traceparent"] == "00-trace-span-01"
    wire.close()


@pytest.mark.parametrize(("setting", "uses_wire"), [(True, True), (False, False)])
def test_the_publisher_uses_the_wire_only_while_the_setting_is_on(wire_redis, settings, monkeypatch, setting,
                                                                  uses_wire):
    """BROKER_REDIS_WIRE off: the publisher thread's messages go through kombu (apply_async), and arrive alike."""
    settings.BROKER_REDIS_WIRE = setting
    monkeypatch.setenv("CELERY_BROKER_URL", wire_redis.url)  # Celery reads the environment before its settings
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    sender = hints._Sender()
    try:
        sender.send(hints.Message(assign_incoming_order_task, [7], {"tenant_id": "t"}))
        assert (sender.wire is not None) is uses_wire
    finally:
        sender.close()

    message = written(redis_client.Redis.from_url(wire_redis.url), "assignment")
    assert json.loads(base64.b64decode(message["body"]))[:2] == [[7], {"tenant_id": "t"}]
