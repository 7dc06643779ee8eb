"""Celery messages as hints: sent after commit, never waited for, dropped when the broker is away.

The database row is the truth and a message only a hint to look at it (hence
the name); every row a message points at is also found by its sweeper
(CELERY_BEAT_SCHEDULE) once the row's dispatch lease has run out. So a message
may be lost, but sending it must never hold up, let alone fail, the request
that committed the row. kombu promises neither: publishing retries the
connection, and a broker that accepts connections without answering is waited
for until a socket timeout, or forever without one.

`publish(task, args=…, kwargs=…, on_drop=…)` therefore sends

- eagerly (CELERY_TASK_ALWAYS_EAGER: no broker configured, and the test suite):
  `apply_async` runs the task inline, as it always has;
- inline from a task running in a Celery worker: nobody waits on it, so it is
  sent at once, by a sender of the worker thread's own (one connection attempt,
  the broker timeouts of config/settings.py, Celery's message written straight
  onto the Redis list where core.messaging.redis_wire can); a message it cannot send is
  dropped with a warning, as below;
- from anywhere else (web processes, management commands) through a bounded
  queue: the caller only enqueues, and one daemon thread per process publishes
  with a producer connection of its own, without publish retries, with one
  connection attempt and short socket timeouts. A message it cannot hand over
  is dropped with a warning (no traceback, nothing secret), and so is one that
  finds the queue full; after a failure the thread drops without trying for
  RETRY_PAUSE_SECONDS, so a dead broker costs one attempt per pause, not one
  per message. The thread starts on first use and anew in a forked child
  (gunicorn and Celery's prefork pool fork after import); at exit it gets
  FLUSH_SECONDS to send what is queued.

Messages that name a `batch` are coalesced by the publisher thread: those waiting
at the same moment with the same batch task and key go out as ONE message of
that task carrying their items (at most BATCH_MAX). A lone message goes out as
itself, so batching adds no delay; under load it saves the per-message cost of
a publish. On the plain Redis setup that cost is cut by core.messaging.redis_wire, which
writes kombu's message without kombu's per-message machinery (0.25 ms, not 1.5).

`on_drop` runs when a message was not handed to the broker, so the caller can
give its row back to the sweeper at once instead of after the lease (intake's
orders, the sweepers' and callback events do: payments.services.dispatch). When
the publisher thread drops it, it runs there: it must be quick and thread-safe;
database connections it opens are closed after the messages then waiting.

Warnings are rate-limited: the first dropped message of an outage is logged,
then one line with a count at most every LOG_EVERY_SECONDS, and one when
messages go out again, so a dead broker under load does not flood the logs.
"""

import atexit
import logging
import os
import queue
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connections
from kombu.exceptions import ChannelError

from .redis_wire import RedisTaskWire

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH_MAX = 20
FLUSH_SECONDS = 2.0
RETRY_PAUSE_SECONDS = 1.0
LOG_EVERY_SECONDS = 30.0
# Used when CELERY_BROKER_TRANSPORT_OPTIONS does not set them (config/settings.py does).
CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 5.0

OnDrop = Callable[[], None]


@dataclass(frozen=True)
class Batch:
    """How a message may travel with others: `task(items, **kwargs)` stands for the messages of one `kwargs`."""

    task: Task
    item: Any
    kwargs: dict[str, Any]

    @property
    def key(self) -> tuple:
        return self.task.name, tuple(sorted(self.kwargs.items()))


@dataclass(frozen=True)
class Message:
    task: Task
    args: Sequence[Any]
    kwargs: dict[str, Any] | None
    on_drop: OnDrop | None = None
    batch: Batch | None = None


_STOP = object()


def publish(task: Task, *, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
            on_drop: OnDrop | None = None, batch: Batch | None = None) -> None:
    """Send `task(*args, **kwargs)` as a hint: never blocks on the broker, never raises for it (see above).

    With `batch`, the publisher thread may send it together with others as `batch.task` instead.
    """
    app = task.app
    if app.conf.task_always_eager:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # the task itself failed in-process: its traceback is worth having
            logger.warning("Task %s failed; its sweeper will send it again", task.name, exc_info=True)
            _run_on_drop(on_drop, task.name)
        return
    if _in_worker_task(app):
        _send_inline(Message(task, args, kwargs, on_drop))
        return
    _publisher.submit(Message(task, args, kwargs, on_drop, batch))


_inline = threading.local()


def _send_inline(message: Message) -> None:
    """Send now, from a worker's task, through this thread's sender; drop the message if that fails."""
    sender = getattr(_inline, "sender", None)
    if sender is None or getattr(_inline, "pid", None) != os.getpid():  # a forked pool child builds its own
        sender = _inline.sender = _Sender()
        _inline.pid = os.getpid()
    if time.monotonic() < sender.paused_until:  # a sweep of many rows does not wait on a dead broker each time
        logger.warning("Broker message for %s dropped (the broker did not answer a moment ago); its sweeper "
                       "will send it again", message.task.name)
        _run_on_drop(message.on_drop, message.task.name)
        return
    try:
        sender.send(message)
    except Exception as exc:
        sender.failed()
        logger.warning("Could not send %s (%s); its sweeper will send it again", message.task.name, describe(exc))
        _run_on_drop(message.on_drop, message.task.name)


def waiting_messages(task: Task) -> int | None:
    """How many messages wait in `task`'s queue on the broker; None in eager mode or when the broker does not say.

    Sweepers ask before re-sending rows whose message may be lost: with a backlog the message is most
    likely still queued, and re-sending would only add duplicates for the workers to skip.
    """
    app = task.app
    if app.conf.task_always_eager:
        return None
    name = queue_name(task)
    try:
        with app.connection_for_read(transport_options=_one_try_options(app)) as connection:
            return connection.default_channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:  # the queue does not exist (yet): nothing waits in it
        return 0
    except Exception as exc:
        logger.warning("Could not read the length of queue %s (%s)", name, describe(exc))
        return None


def queue_name(task: Task) -> str:
    """The broker queue Celery sends `task` to (CELERY_TASK_ROUTES, else the task's own or the default queue)."""
    app = task.app
    route = app.amqp.router.route({"queue": task.queue} if getattr(task, "queue", None) else {}, task.name,
                                  task_type=task)
    queue = route.get("queue")
    return queue.name if queue is not None else app.conf.task_default_queue


def _one_try_options(app) -> dict:
    """Broker transport options for one connection attempt with short timeouts."""
    options = dict(app.conf.broker_transport_options or {})
    options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_SECONDS)
    options.setdefault("socket_timeout", SOCKET_TIMEOUT_SECONDS)
    # One connection attempt: without a limit kombu retries until broker_connection_timeout is spent.
    options["max_retries"] = 0
    return options


def _in_worker_task(app) -> bool:
    current = app.current_worker_task
    return current is not None and not current.request.is_eager


def describe(exc: BaseException) -> str:
    """`Class: message`, short, with any credentials of a URL in it masked."""
    text = re.sub(r"(://)[^@/\s]*@", r"\1***@", str(exc))
    return f"{type(exc).__name__}: {text[:200]}"


def _run_on_drop(on_drop: OnDrop | None, task_name: str) -> None:
    if on_drop is None:
        return
    try:
        on_drop()
    except Exception:
        logger.exception("Handling the dropped message for %s failed", task_name)


class _DropLog:
    """Warn when messages start being dropped, then at most every LOG_EVERY_SECONDS, and when they go out again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dropping = False
        self._total = 0
        self._unreported = 0
        self._logged_at = 0.0

    def dropped(self, task_name: str, reason: str) -> None:
        with self._lock:
            self._total += 1
            self._unreported += 1
            now = time.monotonic()
            first = not self._dropping
            if not first and now - self._logged_at < LOG_EVERY_SECONDS:
                return
            self._dropping, self._logged_at = True, now
            count, self._unreported = self._unreported, 0
        if first:
            logger.warning("Broker message for %s dropped (%s); its sweeper will send it again", task_name, reason)
        else:
            logger.warning("%s more broker messages dropped, the latest for %s (%s); their sweepers will send "
                           "them again", count, task_name, reason)

    def sent(self) -> None:
        if not self._dropping:  # the common case, without the lock
            return
        with self._lock:
            if not self._dropping:
                return
            total, self._dropping, self._total, self._unreported = self._total, False, 0, 0
        logger.info("Broker messages go out again; %s were dropped meanwhile", total)


class _Sender:
    """The publisher thread's own producer connection, built on first use and again after a failure.

    Not one from app.producer_pool: the thread is its only user, so the pool would hand it the same one
    connection anyway, but with the app-wide connection options, under which kombu retries connecting
    for up to broker_connection_timeout. Here one attempt is made (max_retries 0), and a rebuilt
    connection declares the queue again (a Redis restarted empty has lost its bindings).

    On the plain Redis setup messages go out through core.messaging.redis_wire (the same message, a fifth of
    kombu's CPU per publish, on one Redis client with the same timeouts) unless BROKER_REDIS_WIRE is off;
    otherwise through apply_async.
    """

    def __init__(self) -> None:
        self.connection = None
        self.producer = None
        self.wire: RedisTaskWire | None = None
        self.paused_until = 0.0

    def send(self, message: Message) -> None:
        self._publish(message.task, list(message.args), message.kwargs)

    def send_batch(self, batch: Batch, items: list) -> None:
        self._publish(batch.task, [items], batch.kwargs)

    def _publish(self, task: Task, args: list, kwargs: dict[str, Any] | None) -> None:
        self._ensure_producer(task.app)
        if self.wire is not None and self.wire.push(task, args, kwargs):
            return
        task.apply_async(args=args, kwargs=kwargs, producer=self.producer, retry=False)

    def _ensure_producer(self, app) -> None:
        if self.producer is None:
            options = _one_try_options(app)
            self.connection = app.connection_for_write(transport_options=options)
            self.producer = app.amqp.Producer(self.connection)
            if settings.BROKER_REDIS_WIRE:
                self.wire = RedisTaskWire.for_connection(app, self.connection,
                                                         socket_timeout=options["socket_timeout"],
                                                         connect_timeout=options["socket_connect_timeout"])

    def failed(self) -> None:
        """Forget the connection (the next message builds and declares anew) and pause."""
        self.close()
        self.paused_until = time.monotonic() + RETRY_PAUSE_SECONDS

    def close(self) -> None:
        closers = [resource.close for resource in (self.wire,) if resource is not None]
        closers += [resource.release for resource in (self.connection,) if resource is not None]
        self.connection, self.producer, self.wire = None, None, None
        for close in closers:
            try:
                close()
            except Exception:  # already broken: nothing to give back
                logger.debug("Closing the broken broker connection failed", exc_info=True)


class Publisher:
    """A bounded queue of messages and the daemon thread that publishes them, per process."""

    def __init__(self, *, maxsize: int = QUEUE_SIZE) -> None:
        self.maxsize = maxsize
        self._forget_parent()
        _publishers.add(self)

    def _forget_parent(self) -> None:
        """Fresh state for this process: after a fork the parent's lock, queue and thread are not ours."""
        self._lock = threading.Lock()
        self._drops = _DropLog()
        self._queue: queue.Queue = queue.Queue(self.maxsize)
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._gave_back = False

    def submit(self, message: Message) -> bool:
        """Queue `message` for the thread (microseconds); False when it was dropped instead."""
        try:
            self._ensure_thread()
            self._queue.put_nowait(message)
        except queue.Full:
            self._drop(message, f"more than {self.maxsize} messages waiting", in_thread=False)
            return False
        except Exception as exc:  # e.g. RuntimeError: no new threads at interpreter shutdown
            self._drop(message, describe(exc), in_thread=False)
            return False
        return True

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Let the thread work off what is queued now and stop, waiting at most `timeout`.

        A later `submit` starts a new thread; True when the queue was worked off in time.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            thread, pending = self._thread, self._queue
            if thread is None or self._pid != os.getpid() or not thread.is_alive():
                return pending.empty()
            self._thread = None
        try:
            pending.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            return False
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def _ensure_thread(self) -> None:
        thread = self._thread  # once: flush() may clear it meanwhile
        if self._pid == os.getpid() and thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid():  # forked without the at-fork hook (belt and braces)
                self._queue, self._thread, self._pid = queue.Queue(self.maxsize), None, os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(self._queue,), daemon=True,
                                                name="celery-hint-publisher")
                self._thread.start()

    def _run(self, pending: queue.Queue) -> None:
        sender = _Sender()
        try:
            while True:
                waiting = _take_waiting(pending)
                self._gave_back = False
                for group in _coalesce([m for m in waiting if m is not _STOP]):
                    self._send(sender, group)
                if self._gave_back:  # the database connections of on_drop, once per round, not per message
                    connections.close_all()
                if _STOP in waiting:
                    return
        finally:
            sender.close()

    def _send(self, sender: "_Sender", group: list[Message]) -> None:
        """Publish one message, or a batch of messages as one; drop them all if that fails."""
        if time.monotonic() < sender.paused_until:
            for message in group:
                self._drop(message, "the broker did not answer a moment ago", in_thread=True)
            return
        try:
            if len(group) == 1:
                sender.send(group[0])
            else:
                sender.send_batch(group[0].batch, [message.batch.item for message in group])
        except Exception as exc:
            sender.failed()
            for message in group:
                self._drop(message, describe(exc), in_thread=True)
        else:
            self._drops.sent()

    def _drop(self, message: Message, reason: str, *, in_thread: bool) -> None:
        self._drops.dropped(message.task.name, reason)
        if message.on_drop is None:
            return
        if in_thread:  # the thread's own connections are closed after the round; a caller's are the caller's
            self._gave_back = True
        _run_on_drop(message.on_drop, message.task.name)


def _take_waiting(pending: queue.Queue) -> list:
    """The next message (waiting for it), and whatever else is already queued, up to a bound."""
    taken = [pending.get()]
    while len(taken) < BATCH_MAX * 10 and taken[-1] is not _STOP:
        try:
            taken.append(pending.get_nowait())
        except queue.Empty:
            break
    return taken


def _coalesce(messages: list[Message]) -> list[list[Message]]:
    """Groups to send, in arrival order of their first message: same-batch messages together (≤ BATCH_MAX)."""
    groups: list[list[Message]] = []
    open_batches: dict[tuple, list[Message]] = {}
    for message in messages:
        if message.batch is None:
            groups.append([message])
            continue
        group = open_batches.get(message.batch.key)
        if group is None or len(group) >= BATCH_MAX:
            group = open_batches[message.batch.key] = []
            groups.append(group)
        group.append(message)
    return groups


_publishers: "weakref.WeakSet[Publisher]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for publisher in list(_publishers):
        publisher._forget_parent()


def _flush_at_exit() -> None:
    deadline = time.monotonic() + FLUSH_SECONDS
    for publisher in list(_publishers):
        if not publisher.flush(max(0.0, deadline - time.monotonic())):
            logger.warning("Exiting with broker messages unsent; their sweepers will send them")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)
_publisher = Publisher()
