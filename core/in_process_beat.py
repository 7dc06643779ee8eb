"""The Celery beat schedule run in a thread of the serving process, for the zero-setup mode.

With no broker (`make run`: SQLite, CELERY_TASK_ALWAYS_EAGER) there is no `celery beat` and no worker,
so nothing would run the periodic tasks of CELERY_BEAT_SCHEDULE: an order that found no free requisite
would stay `retrying` for good, assigned orders would never expire, callbacks never be retried. So
`manage.py runserver` (the serving process only: not the autoreloader's parent, not tests, not other
management commands) starts one daemon thread that runs each entry in-process when Celery's own
schedule says it is due, and says so at start-up. IN_PROCESS_BEAT turns it off (or on, with a broker:
then the tasks are sent rather than run, as `celery beat` would).
"""

import logging
import os
import sys
import threading
from collections.abc import Sequence

from celery.schedules import maybe_schedule
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

_started: "InProcessBeat | None" = None
_lock = threading.Lock()


def is_serving_process(argv: Sequence[str], environ=os.environ) -> bool:
    """True in the process `manage.py runserver` serves from: with the autoreloader, its child (RUN_MAIN)."""
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


class InProcessBeat(threading.Thread):
    """Runs the entries of a beat schedule in this thread: each one when Celery's schedule says it is due."""

    def __init__(self, schedule: dict, *, app=None) -> None:
        super().__init__(daemon=True, name="in-process-beat")
        from config.celery import app as celery_app

        self.app = app or celery_app
        self.stopped = threading.Event()
        now = timezone.now()
        self.entries = [(name, entry["task"], maybe_schedule(entry["schedule"], app=self.app), now)
                        for name, entry in schedule.items()]

    def run(self) -> None:
        # The task modules, as a worker or beat imports them at start. Here, in the thread: AppConfig.ready
        # starts it while Django is still loading apps, which this import would re-enter on that thread.
        self.app.loader.import_default_modules()
        while not self.stopped.is_set():
            self.stopped.wait(self.tick())

    def tick(self) -> float:
        """Run every due entry once; the seconds until the next one may be due."""
        wait = 60.0
        for index, (name, task_name, schedule, last_run_at) in enumerate(self.entries):
            due, next_check = schedule.is_due(last_run_at)
            if due:
                self.entries[index] = (name, task_name, schedule, timezone.now())
                self._run(name, task_name)
                due, next_check = schedule.is_due(self.entries[index][3])
            wait = min(wait, max(0.1, next_check))
        return wait

    def _run(self, name: str, task_name: str) -> None:
        close_old_connections()
        try:
            self.app.tasks[task_name].apply_async()  # eager: runs here; with a broker: sent
        except Exception:
            logger.exception("Periodic task %s failed in the in-process beat", name)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopped.set()


def start_in_process_beat(*, out=None) -> InProcessBeat:
    """Start the thread (once per process) and print a line saying so."""
    global _started
    with _lock:
        if _started is None or not _started.is_alive():
            _started = InProcessBeat(settings.CELERY_BEAT_SCHEDULE)
            _started.start()
            every = ", ".join(f"{name.rsplit('.', 1)[-1]} every {entry['schedule']:g} s"
                              for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
                              if isinstance(entry["schedule"], int | float))
            mode = "in-process (no broker)" if settings.CELERY_TASK_ALWAYS_EAGER else "sent to the broker"
            (out or sys.stdout).write(f"In-process beat started: periodic tasks run in this process, {mode}: "
                                      f"{every}.\n")
            (out or sys.stdout).flush()
        return _started


def maybe_start_in_process_beat(argv: Sequence[str] | None = None) -> InProcessBeat | None:
    """From AppConfig.ready: start the in-process beat when IN_PROCESS_BEAT is on and this process serves."""
    if not settings.IN_PROCESS_BEAT or not is_serving_process(sys.argv if argv is None else argv):
        return None
    return start_in_process_beat()
