"""Messages to the Celery broker, by task name: services say which task should look at which row, and never
import the task modules (tasks import services, so the other way round would be an import circle).

- `send(name, …)`: a hint (`core.messaging.hints`): sent after the caller's commit by the caller's own
  `transaction.on_commit`, never waited for, dropped with `on_drop` called when the broker is away;
- `waiting(name)`: how many messages wait in the task's queue (the sweepers' backlog check);
- `task_named(name)`: the registered task, importing the task modules first if nothing has yet (a web
  process imports them on its first message, as a worker does at start).

`core.messaging.redis_wire` is the fast path the publisher thread uses on the plain Redis setup
(BROKER_REDIS_WIRE).
"""

from collections.abc import Sequence
from typing import Any

from celery import Task, current_app

from . import hints
from .hints import Batch, OnDrop

__all__ = ["send", "task_named", "waiting"]


def task_named(name: str) -> Task:
    """The task registered as `name`; KeyError when no task module defines it."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()  # autodiscovery: the apps' tasks modules
    return tasks[name]


def send(name: str, *, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
         on_drop: OnDrop | None = None, batch_task: str | None = None, batch_item: Any = None) -> None:
    """Send task `name(*args, **kwargs)` as a hint. With `batch_task`, the publisher thread may send it with
    other messages waiting at the same moment as one `batch_task([items…], **kwargs)` message."""
    batch = None if batch_task is None else Batch(task=task_named(batch_task), item=batch_item, kwargs=kwargs or {})
    hints.publish(task_named(name), args=args, kwargs=kwargs, on_drop=on_drop, batch=batch)


def waiting(name: str) -> int | None:
    """Messages waiting in the queue of task `name`; None in eager mode or when the broker does not say."""
    return hints.waiting_messages(task_named(name))
