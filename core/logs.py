"""Log lines: JSON in production (LOG_FORMAT=json, the default with DEBUG off), readable lines in development.

Every line carries what is known of its context (ContextFilter): the request id (X-Request-ID, echoed
back; one is made when the client sends none or a malformed one), or the Celery task's id and name; the
tenant (tenancy's current tenant); and the order or account being worked on where code said so with
`bind(order_id=…)` / `bind(account_id=…)`.

Nothing secret reaches a line (RedactSecrets, on the handler so every logger's lines pass it): bearer
tokens, `key=value` pairs whose key names a secret, the platform's own token shapes (store keys, EA API
keys, webhook tokens in paths), and card numbers (a Luhn-valid run of 13–19 digits).
"""

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context", default={})  # noqa: B039 (never mutated)

CONTEXT_FIELDS = ("request_id", "task_id", "task", "tenant_id", "order_id", "account_id")


@contextmanager
def bind(**values) -> Iterator[None]:
    """Add `values` (order_id=…, account_id=…) to every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def set_context(**values) -> contextvars.Token:
    return _context.set({k: v for k, v in values.items() if v is not None})


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def current() -> dict:
    return _context.get()


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name, ""))
        if not record.tenant_id and apps.ready:  # not in gunicorn's master, before Django is set up
            from tenancy.scoping import current_tenant_id

            tenant = current_tenant_id()
            record.tenant_id = str(tenant) if tenant else ""
        for name in CONTEXT_FIELDS:
            value = getattr(record, name)
            if value != "" and not isinstance(value, str | int):
                setattr(record, name, str(value))
        return True


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


_SECRET_WORDS = r"(?:password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|authorization|signature|dsn)"
_PATTERNS = [
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"(?i)(\b\w*" + _SECRET_WORDS + r"\w*\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"), r"\1[redacted]"),
    (re.compile(r"(/hooks/(?:signals|telegram)/)[^/\s\"']+"), r"\1[redacted]"),
    (re.compile(r"\b(?:sk_live|sk|pk|whsec)_[A-Za-z0-9_-]{12,}|\bMST-[A-Za-z0-9]{8,}"), "[redacted]"),
    (re.compile(r"://([^:/@\s]+):([^@/\s]+)@"), r"://\1:[redacted]@"),
]
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)

    def card(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return f"[card …{digits[-4:]}]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)

    return _CARD.sub(card, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:  # formatted here, so what the formatter prints is the redacted text
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    """`2026-12-07 03:00:00,123 INFO payments.x [request=… tenant=… order=…] message`: context where known."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{name.removesuffix('_id')}={getattr(record, name)}" for name in CONTEXT_FIELDS
                 if getattr(record, name, "")]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


def json_formatter():
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_default=str, json_ensure_ascii=False)


def logging_config(*, log_format: str, level: str) -> dict:
    """settings.LOGGING (and gunicorn's logconfig_dict): one console handler, context and redaction on it."""
    text = "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"
    formatter = ({"()": "core.logs.json_formatter"} if log_format == "json"
                 else {"()": "core.logs.TextFormatter", "format": text})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "client_errors_without_traceback": {"()": "core.log_filters.ClientErrorsWithoutTraceback"},
            "context": {"()": "core.logs.ContextFilter"},
            "redact": {"()": "core.logs.RedactSecrets"},
        },
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main",
                                 "filters": ["client_errors_without_traceback", "context", "redact"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler would print each of its lines a second time beside the root's.
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            # httpx logs every request's full URL at INFO; a store's callback URL may carry its own token.
            "httpx": {"level": "WARNING"},
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }

