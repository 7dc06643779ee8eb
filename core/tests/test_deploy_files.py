"""deploy/: the Procfile, the systemd units, the Dockerfile and compose file name real commands, real queues and
real modules, one beat, and a worker for every queue. (No Docker engine on the development machine: the
files are checked by reading them, not by building them.)"""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)
DEPLOY = ROOT / "deploy"
QUEUES = {queue.name for queue in settings.CELERY_TASK_QUEUES}


def check_command(argv: list[str]) -> str:
    """What process `argv` runs ("web", "worker:<queue>", "beat", "migrate", "copytrade"), failing on anything
    that names a command, queue or module that does not exist."""
    argv = [arg for arg in argv if arg != "exec"]
    program = Path(argv[0]).name
    if program.startswith("python") or program == "$PY":
        argv = argv[1:]
        if argv[0] == "-m":
            argv = argv[1:]
    if argv[0] == "gunicorn":
        module = argv[1]
        assert module == "config.wsgi" and (ROOT / "config" / "wsgi.py").exists()
        return "web"
    if argv[0] == "celery":
        assert argv[1:3] == ["-A", "config"]
        if argv[3] == "worker":
            queues = argv[argv.index("-Q") + 1].split(",")
            assert queues and set(queues) <= QUEUES | {"%i"}, queues
            return f"worker:{','.join(queues)}"
        assert argv[3] == "beat", argv
        return "beat"
    if argv[0] == "manage.py":
        assert argv[1] in get_commands(), f"no management command {argv[1]}"
        return {"copytrade_server": "copytrade"}.get(argv[1], argv[1])
    raise AssertionError(f"unknown program in {argv}")


def procfile() -> dict[str, list[str]]:
    lines = [line for line in (DEPLOY / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
    return {name: shlex.split(command) for name, command in (line.split(": ", 1) for line in lines)}


def test_the_procfile_runs_web_a_worker_per_queue_one_beat_and_the_copytrade_server():
    kinds = sorted(check_command(argv) for argv in procfile().values())

    assert kinds == sorted(["web", "beat", "copytrade", *(f"worker:{queue}" for queue in QUEUES)])


def test_the_procfile_runner_stops_gently():
    """honcho's own stop signals whole process groups and kills after 5 s; the runner's does neither."""
    import signal
    from unittest import mock

    pytest.importorskip("honcho")
    from honcho import manager

    runner = _load_runner()
    grace = mock.patch.dict("os.environ", {"STOP_GRACE_SECONDS": "42"})
    with mock.patch("honcho.command.main") as honcho_main, grace, \
            mock.patch.object(manager, "KILL_WAIT", manager.KILL_WAIT), \
            mock.patch.object(manager, "ProcessManager", manager.ProcessManager):
        runner.main(["-f", "deploy/Procfile"])

        assert honcho_main.call_args.args[0] == ["start", "-f", "deploy/Procfile"]
        assert manager.KILL_WAIT == 42
        with mock.patch("os.kill") as kill, mock.patch("os.killpg") as killpg:
            manager.ProcessManager().terminate(12345)
        kill.assert_called_once_with(12345, signal.SIGTERM)
        killpg.assert_not_called()


def _load_runner():
    import importlib.util

    spec = importlib.util.spec_from_file_location("procfile_runner", DEPLOY / "procfile_runner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_systemd_units_name_real_commands_and_stop_workers_gently():
    units = {path.name: path.read_text() for path in (DEPLOY / "systemd").glob("*.service")}
    kinds = {}
    for name, text in units.items():
        exec_start = re.search(r"^ExecStart=(.+)$", text, re.M).group(1)
        argv = [arg for arg in shlex.split(exec_start) if not arg.startswith("${")]
        kinds[name] = check_command(argv)
        assert re.search(r"^EnvironmentFile=/etc/p2p/p2p.env$", text, re.M), name
        assert re.search(r"^Restart=always$", text, re.M), name

    assert sorted(kinds.values()) == ["beat", "copytrade", "web", "worker:%i"]
    assert "KillMode=mixed" in units["p2p-worker@.service"]  # SIGTERM to the parent only: warm shutdown
    assert "KillMode=mixed" in units["p2p-web.service"]


def test_compose_runs_every_process_with_one_beat_and_a_worker_per_queue():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    kinds = {name: check_command(service["command"]) for name, service in services.items() if "build" in service}

    assert sorted(kinds.values()) == sorted(["migrate", "web", "beat", "copytrade",
                                             *(f"worker:{queue}" for queue in QUEUES)])
    assert {"postgres", "redis"} <= set(services)
    for name, service in services.items():
        if "build" in service and name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert compose["x-app"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / "postgres-init.sql").read_text().count("NOBYPASSRLS") == 1


def test_the_dockerfile_installs_the_requirements_and_runs_as_a_plain_user():
    text = (DEPLOY / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in text.splitlines() if line and not line.startswith(("#", " "))]

    assert instructions[0] == "FROM" and "python:3.11" in text
    assert "pip install -r requirements.txt" in text
    assert re.search(r"^USER p2p$", text, re.M)
    cmd = re.search(r"^CMD (.+)$", text, re.M).group(1)
    assert check_command(yaml.safe_load(cmd)) == "web"
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_make_up_and_the_backup_targets_exist():
    makefile = (ROOT / "Makefile").read_text()

    for target in ("up", "backup", "restore-drill"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "deploy/procfile_runner.py -f deploy/Procfile" in makefile
    requirements = (ROOT / "requirements.txt").read_text()
    for package in ("honcho==", "prometheus-client==", "python-json-logger==", "sentry-sdk=="):
        assert package in requirements
