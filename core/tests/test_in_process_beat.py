"""The in-process beat of the zero-setup mode (core.in_process_beat): where it starts, what it runs."""

import io

import pytest

from config.celery import app
from core.in_process_beat import InProcessBeat, is_serving_process, maybe_start_in_process_beat


@pytest.mark.parametrize(("argv", "environ", "serving"), [
    (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),  # the autoreloader's child serves
    (["manage.py", "runserver", "--noreload"], {}, True),
    (["manage.py", "runserver"], {}, False),  # the autoreloader's parent only watches files
    (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
    (["manage.py", "shell"], {}, False),
    (["pytest", "-n", "2"], {}, False),
])
def test_only_the_serving_runserver_process_runs_it(argv, environ, serving):
    assert is_serving_process(argv, environ) is serving


def test_not_started_in_tests_or_other_commands(settings):
    settings.IN_PROCESS_BEAT = True

    assert maybe_start_in_process_beat(["manage.py", "migrate"]) is None


@pytest.mark.django_db
def test_each_entry_runs_when_its_schedule_says_and_a_failure_does_not_stop_the_others(monkeypatch):
    ran = []
    app.loader.import_default_modules()
    sweep, expire = app.tasks["payments.sweep_due_orders"], app.tasks["payments.expire_due_orders"]

    def failing():
        ran.append("expire")
        raise RuntimeError("broken")

    monkeypatch.setattr(sweep, "apply_async", lambda: ran.append("sweep"))
    monkeypatch.setattr(expire, "apply_async", failing)
    beat = InProcessBeat({"sweep": {"task": "payments.sweep_due_orders", "schedule": 0.0},
                          "expire": {"task": "payments.expire_due_orders", "schedule": 0.0},
                          "rates": {"task": "payments.load_exchange_rates", "schedule": 3600.0}})

    wait = beat.tick()

    assert ran == ["sweep", "expire"]  # rates is not due for an hour
    assert 0 < wait <= 60


def test_it_says_so_at_start_up(monkeypatch, settings):
    from core import in_process_beat

    started = []
    monkeypatch.setattr(in_process_beat, "_started", None)
    monkeypatch.setattr(InProcessBeat, "start", lambda self: started.append(self))
    monkeypatch.setattr(InProcessBeat, "is_alive", lambda self: bool(started))
    out = io.StringIO()

    in_process_beat.start_in_process_beat(out=out)
    in_process_beat.start_in_process_beat(out=out)  # once per process

    assert len(started) == 1
    assert out.getvalue().startswith("In-process beat started: periodic tasks run in this process")
    assert "sweep_due_orders every" in out.getvalue()
