"""A small Bot API client over httpx: the four methods the bot uses, and Telegram's errors as exceptions.

The bot token is part of every URL (`/bot<token>/<method>`), so it never goes into a log line or an
error message: errors name the method only, and httpx's own request log is kept at WARNING.
"""

import logging
import threading

import httpx
from django.conf import settings

logging.getLogger("httpx").setLevel(logging.WARNING)

_local = threading.local()


class TelegramError(Exception):
    """Telegram answered `ok: false`; `code` is its error_code (400 bad request, 403 blocked, …)."""

    def __init__(self, method: str, code: int, description: str):
        super().__init__(f"{method}: {code} {description}")
        self.code, self.description = code, description


class TelegramRetryAfter(TelegramError):
    """429: Telegram asks us to wait `retry_after` seconds before the next call."""

    def __init__(self, method: str, description: str, retry_after: float):
        super().__init__(method, 429, description)
        self.retry_after = retry_after


class TelegramUnavailable(Exception):
    """No answer (timeout, refused connection, a 5xx): worth retrying later."""


class BotNotConfigured(Exception):
    """TELEGRAM_BOT_TOKEN is empty."""


def _http() -> httpx.Client:
    """One connection pool per thread (httpx clients are not shared across threads here)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(timeout=settings.TELEGRAM_TIMEOUT_SECONDS)
        _local.client = client
    return client


class BotApi:
    def __init__(self, *, base_url: str | None = None, token: str | None = None):
        self.base_url = (base_url or settings.TELEGRAM_BOT_API_URL).rstrip("/")
        self.token = token if token is not None else settings.TELEGRAM_BOT_TOKEN
        if not self.token:
            raise BotNotConfigured("TELEGRAM_BOT_TOKEN is not set.")

    def call(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> object:
        url = f"{self.base_url}/bot{self.token}/{method}"
        try:
            response = _http().post(url, json=params or {},
                                    timeout=timeout or settings.TELEGRAM_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise TelegramUnavailable(f"{method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or not isinstance(body, dict) or "ok" not in body:
            raise TelegramUnavailable(f"{method}: HTTP {response.status_code}")
        if body.get("ok"):
            return body.get("result")
        code = int(body.get("error_code") or response.status_code)
        description = str(body.get("description") or "")[:200]
        retry_after = (body.get("parameters") or {}).get("retry_after")
        if code == 429:
            raise TelegramRetryAfter(method, description, float(retry_after or 1))
        raise TelegramError(method, code, description)

    def get_me(self) -> dict:
        return self.call("getMe")

    def send_message(self, chat_id: str | int, text: str) -> dict:
        return self.call("sendMessage", {"chat_id": chat_id, "text": text[:4096],
                                         "disable_web_page_preview": True})

    def get_updates(self, *, offset: int | None = None, timeout: int = 30) -> list[dict]:
        params = {"timeout": timeout, "allowed_updates": ["message"]}
        if offset:
            params["offset"] = offset
        return self.call("getUpdates", params, timeout=timeout + settings.TELEGRAM_TIMEOUT_SECONDS)

    def set_webhook(self, url: str, *, secret_token: str) -> bool:
        return self.call("setWebhook", {"url": url, "secret_token": secret_token, "allowed_updates": ["message"]})

    def delete_webhook(self) -> bool:
        return self.call("deleteWebhook")
