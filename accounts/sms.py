"""Outgoing SMS through a pluggable backend (settings.SMS_BACKEND, a dotted class path).

`ConsoleSmsBackend` (the default) prints each message for local use;
`FileSmsBackend` appends one JSON line per message to settings.SMS_OUTBOX_DIR, so
tests and demos can read what was sent. A gateway backend is any class with a
`send(phone, text)` method. Message texts may hold one-time codes: no backend but
the console one shows them, and nothing here logs them.
"""

import json
import logging
import os
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from core.crypto import mask

logger = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.jsonl"


class SmsDeliveryError(Exception):
    """The backend could not hand the message over."""


class BaseSmsBackend:
    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Prints the message (code included) to stdout, like Django's console email backend."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, phone: str, text: str) -> None:
        self.stream.write(f"SMS to {phone}: {text}\n")
        self.stream.flush()


class FileSmsBackend(BaseSmsBackend):
    """Appends `{"to", "text", "sent_at"}` as one JSON line to <SMS_OUTBOX_DIR>/outbox.jsonl."""

    _lock = threading.Lock()

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory or settings.SMS_OUTBOX_DIR)

    @property
    def path(self) -> Path:
        return self.directory / OUTBOX_FILE

    def send(self, phone: str, text: str) -> None:
        line = json.dumps({"to": phone, "text": text, "sent_at": timezone.now().isoformat()}) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.path, "a", encoding="utf-8") as outbox:
                outbox.write(line)
        except OSError as exc:
            raise SmsDeliveryError(f"could not write the SMS outbox {self.path}: {exc.strerror}") from exc


def read_outbox(directory: str | os.PathLike | None = None) -> list[dict]:
    """Every message the file backend wrote, oldest first."""
    path = Path(directory or settings.SMS_OUTBOX_DIR) / OUTBOX_FILE
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as outbox:
        return [json.loads(line) for line in outbox if line.strip()]


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str) -> None:
    """Send one message; raises SmsDeliveryError when the backend fails."""
    backend = get_backend()
    try:
        backend.send(phone, text)
    except SmsDeliveryError:
        logger.warning("SMS to %s failed", mask(phone))
        raise
    except Exception as exc:  # a gateway's own errors become one kind for callers
        logger.warning("SMS to %s failed: %s", mask(phone), type(exc).__name__)
        raise SmsDeliveryError(str(type(exc).__name__)) from exc
    logger.info("SMS sent to %s", mask(phone))
