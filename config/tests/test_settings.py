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


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "Kq7#v9!pL2$zX8&mN4^bR6*tY1(wE3)uI5-oP0=aS7+dF2_gH9jK4lZ6xC8vB1nM3",
              "FIELD_ENCRYPTION_KEYS": "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZC0=",
              "ALLOWED_HOSTS": "pay.example.com", "SECURE_HSTS_PRELOAD": "true",
              "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https"}


def _run(args: list[str], env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_", "CSRF_"))}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_turns_on_https_only_and_hsts_by_default():
    shown = _run(["shell", "-c", "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
                  "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
                  "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"],
                 {**PRODUCTION, "SECURE_HSTS_PRELOAD": ""})

    assert shown.stdout.split()[-8:] == ["True", "31536000", "True", "False", "True", "True",
                                         "('HTTP_X_FORWARDED_PROTO',", "'https')"], shown.stderr


def test_a_malformed_proxy_header_setting_stops_start_up():
    result = _run(["check"], {**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})

    assert result.returncode != 0 and "HTTP_X_FORWARDED_PROTO=https" in result.stderr
