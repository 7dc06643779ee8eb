"""Celery task messages pushed straight onto the broker's Redis list, for a thread that publishes many hints.

`task.apply_async` costs a web process about 1.5 ms of CPU per message, most of it in kombu's
per-message transport work: a new Redis client object, the producer and channel machinery, the
exchange routing. For the setup this project runs — the `redis://` transport, a task routed to a
plain queue, priority 0, JSON — the message kombu writes is a fixed envelope around what Celery
builds, so `RedisTaskWire` builds the message with Celery itself (`app.amqp.as_task_v2`: headers,
properties, body, argsrepr and all) and does the transport part: the body as JSON in base64, kombu's
virtual-transport envelope, one `LPUSH` on a Redis client kept for the thread (about 0.25 ms).

Like apply_async it sends Celery's `before_task_publish` (whose receivers may add headers: they are in
the message) and `after_task_publish` signals, so tracing and monitoring see these messages too.

What it depends on: Celery's task protocol 2 built by `app.amqp.as_task_v2`, and the envelope kombu's
Redis virtual transport writes (base64 body, `properties.delivery_info`, LPUSH onto the queue's list,
priority 0 = the list named as the queue). Anything else (another transport, a key prefix, a route with
its own exchange or a priority, another serializer or compression) is not handled here: `push` returns
False and the caller uses apply_async. BROKER_REDIS_WIRE=off sends everything through kombu.
core/tests/test_redis_wire.py compares the envelope with the one kombu writes for every task, so a
Celery or kombu upgrade that changes either fails there; the fault tests run real workers on these
messages.
"""

import base64
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery, Task, signals
from celery.app.routes import MapRoute
from celery.utils.nodenames import anon_nodename
from kombu import Connection, Queue
from kombu.utils.json import dumps

_PLAIN_TEXT = re.compile(r"^[A-Za-z0-9_.:-]{0,200}\Z")
_REPR_MAXSIZE = 1024  # Celery's argsrepr_maxsize / kwargsrepr_maxsize

# Transport options that change where or how kombu writes a message: with any of them, use kombu.
_UNSUPPORTED_OPTIONS = ("global_keyprefix", "sep", "priority_steps", "queue_order_strategy")
_PERSISTENT = 2


class RedisTaskWire:
    """LPUSH of Celery task messages, as kombu's Redis transport writes them, on one Redis client."""

    def __init__(self, app: Celery, client: redis.Redis) -> None:
        self.app = app
        self.client = client
        self.origin = anon_nodename()
        self._queues: dict[str, Queue | None] = {}

    @classmethod
    def for_connection(cls, app: Celery, connection: Connection, *, socket_timeout: float,
                       connect_timeout: float) -> "RedisTaskWire | None":
        """A wire to the broker of `connection`, or None when its setup is not the plain one handled here."""
        conf = app.conf
        options = connection.transport_options or {}
        if (connection.transport.driver_type != "redis" or connection.uri_prefix
                or any(name in options for name in _UNSUPPORTED_OPTIONS)
                or conf.task_serializer != "json" or conf.task_compression or conf.task_protocol != 2
                or conf.task_send_sent_event or conf.task_default_priority):
            return None
        uri = connection.as_uri(include_password=True)
        if urlsplit(uri).scheme not in ("redis", "rediss"):  # e.g. sentinel://, which kombu also calls redis
            return None
        client = redis.Redis.from_url(uri, socket_timeout=socket_timeout,
                                      socket_connect_timeout=connect_timeout,
                                      socket_keepalive=bool(options.get("socket_keepalive")))
        return cls(app, client)

    def push(self, task: Task, args: list, kwargs: dict[str, Any] | None) -> bool:
        """Send `task(*args, **kwargs)` (True), or False when its route is not a plain queue (nothing sent)."""
        queue = self._queue_of(task)
        if queue is None:
            return False
        headers, properties, body = self._task_message(task, args, kwargs)
        signals.before_task_publish.send(sender=task.name, body=body, exchange="", routing_key=queue.name,
                                         declare=[queue], headers=headers, properties=properties,
                                         retry_policy={"max_retries": 0})
        self.client.lpush(queue.name, self._envelope(headers, properties, body, queue.name))
        signals.after_task_publish.send(sender=task.name, body=body, headers=headers, exchange="",
                                        routing_key=queue.name)
        return True

    def message(self, task: Task, args: list, kwargs: dict[str, Any] | None, queue: str) -> str:
        """The JSON kombu's Redis transport would LPUSH for this task message (no signals sent)."""
        return self._envelope(*self._task_message(task, args, kwargs), queue)

    def _task_message(self, task: Task, args: list, kwargs: dict[str, Any] | None) -> tuple[dict, dict, tuple]:
        """Celery's own headers, properties and body of the message, as apply_async builds them."""
        task_id = str(uuid.uuid4())
        kwargs = kwargs or {}
        headers, properties, body, _sent_event = self.app.amqp.as_task_v2(
            task_id, task.name, args, kwargs, ignore_result=task.ignore_result,
            time_limit=task.time_limit, soft_time_limit=task.soft_time_limit, reply_to=self.app.thread_oid,
            origin=self.origin, argsrepr=plain_repr(args), kwargsrepr=plain_repr(kwargs))
        return headers, properties, body

    @staticmethod
    def _envelope(headers: dict, properties: dict, body: tuple, queue: str) -> str:
        properties.update(delivery_mode=_PERSISTENT, priority=0, body_encoding="base64",
                          delivery_tag=str(uuid.uuid4()), delivery_info={"exchange": "", "routing_key": queue})
        return dumps({
            "body": base64.b64encode(dumps(body).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        })

    def _queue_of(self, task: Task) -> Queue | None:
        """`task`'s queue (its name is the Redis list), when Celery routes it to a plain direct queue (cached).

        Routes given as a mapping (CELERY_TASK_ROUTES) depend on the task's name only, so they are
        resolved once per task; any other router is left to Celery."""
        if task.name not in self._queues:
            if not all(isinstance(route, MapRoute) for route in self.app.amqp.router.routes):
                return None  # a router function may depend on the arguments: Celery decides
            route = self.app.amqp.router.route({"queue": task.queue} if getattr(task, "queue", None) else {},
                                               task.name, task_type=task)
            queue = route.get("queue")
            plain = (queue is not None and not route.get("priority") and not getattr(task, "priority", None)
                     and queue.exchange is not None and queue.exchange.type == "direct"
                     and not queue.queue_arguments)
            self._queues[task.name] = queue if plain else None
        return self._queues[task.name]

    def close(self) -> None:
        self.client.close()


def plain_repr(value: Any) -> str | None:
    """repr(value) where that is exactly what Celery's saferepr would put in the message's argsrepr /
    kwargsrepr (ids: ints, None, booleans and id-like strings, in lists, tuples and dicts two levels
    deep), else None, and Celery computes it. saferepr was half of what building a hint cost."""
    if not _is_plain(value, depth=0):
        return None
    text = repr(value)
    return text if len(text) <= _REPR_MAXSIZE else None


def _is_plain(value: Any, *, depth: int) -> bool:
    if value is None or isinstance(value, int):  # bool is an int
        return True
    if isinstance(value, str):
        return _PLAIN_TEXT.match(value) is not None
    if depth >= 2:
        return False
    if isinstance(value, list | tuple):
        return all(_is_plain(item, depth=depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _PLAIN_TEXT.match(key) and _is_plain(item, depth=depth + 1)
                   for key, item in value.items())
    return False
