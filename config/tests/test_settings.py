"""Start-up refuses to run without secrets when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def test_debug_off_without_secrets_stops_with_a_clear_message():
    result = _check({"DEBUG": "false"})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "FIELD_ENCRYPTION_KEYS" in result.stderr
    assert "not set" in result.stderr


def test_debug_off_with_secrets_starts():
    result = _check({"DEBUG": "false", "SECRET_KEY": "x" * 50,
                     "FIELD_ENCRYPTION_KEYS": "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZC0="})

    assert result.returncode == 0, result.stderr
