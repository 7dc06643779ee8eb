"""Starting `manage.py copytrade_server` as a separate process on a free port (tests and the bench)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process uses (the test database inside a test)."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class ServerProcess:
    def __init__(self, *, env: dict | None = None, server_id: str = "", log_path: str = ""):
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url(), **(env or {})}
        self.server_id = server_id
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "ServerProcess":
        command = [sys.executable, str(ROOT / "manage.py"), "copytrade_server", "--host", "127.0.0.1",
                   "--port", str(self.port)]
        if self.server_id:
            command += ["--server-id", self.server_id]
        stderr = open(self.log_path, "a") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - the child's
        self.process = subprocess.Popen(command, cwd=ROOT,  # noqa: S603 - our own manage.py
                                        env=self.env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "listening on" in line:
                return self
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"copytrade_server on port {self.port} did not start")

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
