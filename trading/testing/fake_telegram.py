"""A local fake of the Telegram Bot API, for tests and local runs.

It speaks the real wire format: `POST /bot<token>/<method>` with a JSON (or form-encoded) body, answers
`{"ok": true, "result": …}`, and errors as Telegram does — `{"ok": false, "error_code": 429,
"description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}}`, 401 for a wrong
token, 400 for a bad request, 403 when the user blocked the bot. Methods: getMe, sendMessage,
getUpdates (with `offset` confirming earlier updates, and long polling up to `timeout` seconds),
setWebhook (with `secret_token`), deleteWebhook, getWebhookInfo.

Test controls are plain methods: `user_says` (a chat sends the bot a message: queued for getUpdates and
returned as the update's JSON, ready to POST to our webhook), `fail_next` (the next calls of a method
get an error, e.g. 429 with retry_after), `block` (a chat blocked the bot), `messages_to` (what the
bot sent a chat), `latency` (seconds added to every answer).

    with FakeTelegram(token="123:abc") as fake:
        fake.base_url   # http://127.0.0.1:<port>, the TELEGRAM_BOT_API_URL
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

MAX_TEXT = 4096


@dataclass
class SentMessage:
    chat_id: str
    text: str
    message_id: int
    sent_at: float
    params: dict


class BotApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeTelegram:
    """The bot's state; `start()` serves it over HTTP on 127.0.0.1 (a free port)."""

    def __init__(self, *, token: str = "123456:TEST-token", username: str = "p2p_test_bot"):  # noqa: S107 - a fake
        self.token = token
        self.username = username
        self.lock = threading.Condition()
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, dict]] = []  # (method, params) of every request
        self.webhook: dict = {}
        self.latency = 0.0  # seconds added to every answer
        self._updates: list[dict] = []
        # Telegram's update ids are the bot's own sequence. The webhook remembers the ids it has seen for a day
        # in the shared cache (it drops a repeat): each fake starts at the microsecond it was made, so fakes
        # of different tests, or of make run started again, never repeat one (a fake would need to send more
        # updates than microseconds pass before the next one starts).
        self._update_ids = itertools.count(time.time_ns() // 1000)
        self._message_ids = itertools.count(1)
        self._failures: dict[str, list[BotApiError]] = {}
        self._blocked: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.on_sent = None  # called with each SentMessage (the local stand-in prints them)

    # ---- test controls -------------------------------------------------------------------------
    def user_says(self, chat_id, text: str, *, username: str = "someone") -> dict:
        """A private chat sends the bot `text`; the update is queued for getUpdates and returned."""
        with self.lock:
            update = {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": next(self._message_ids), "date": int(time.time()), "text": text,
                    "chat": {"id": int(chat_id), "type": "private", "username": username, "first_name": username},
                    "from": {"id": int(chat_id), "is_bot": False, "first_name": username, "username": username},
                },
            }
            if text.startswith("/"):
                command = text.split()[0]
                update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            self._updates.append(update)
            self.lock.notify_all()
            return update

    def fail_next(self, method: str, count: int = 1, *, error_code: int = 429, retry_after: int | None = 1,
                  description: str | None = None) -> None:
        """The next `count` calls of `method` get this error (429 carries `retry_after`, as Telegram's)."""
        if description is None:
            description = (f"Too Many Requests: retry after {retry_after}" if error_code == 429
                           else "Bad Request: something went wrong")
        parameters = {"retry_after": retry_after} if error_code == 429 and retry_after is not None else None
        with self.lock:
            self._failures.setdefault(method, []).extend(
                BotApiError(error_code, description, parameters) for _ in range(count))

    def block(self, chat_id) -> None:
        with self.lock:
            self._blocked.add(str(chat_id))

    def messages_to(self, chat_id) -> list[str]:
        with self.lock:
            return [message.text for message in self.sent if message.chat_id == str(chat_id)]

    def wait_for_messages(self, chat_id, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len([m for m in self.sent if m.chat_id == str(chat_id)]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
        return self.messages_to(chat_id)

    # ---- the API -------------------------------------------------------------------------------
    def call(self, method: str, params: dict) -> object:
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.calls.append((method, params))
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise BotApiError(404, "Not Found")
        return handler(params)

    def _api_getMe(self, params: dict) -> dict:
        return {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "P2P test bot",
                "username": self.username, "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _api_sendMessage(self, params: dict) -> dict:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            raise BotApiError(400, "Bad Request: chat_id is empty")
        if not text:
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > MAX_TEXT:
            raise BotApiError(400, "Bad Request: message is too long")
        if str(chat_id) in self._blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        with self.lock:
            message = SentMessage(chat_id=str(chat_id), text=str(text), message_id=next(self._message_ids),
                                  sent_at=time.monotonic(), params=params)
            self.sent.append(message)
            self.lock.notify_all()
        if self.on_sent is not None:
            self.on_sent(message)
        return {"message_id": message.message_id, "date": int(time.time()), "text": message.text,
                "chat": {"id": int(chat_id), "type": "private"},
                "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "username": self.username}}

    def _api_getUpdates(self, params: dict) -> list[dict]:
        if self.webhook.get("url"):
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                   "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        deadline = time.monotonic() + timeout
        with self.lock:
            if offset:
                # Telegram forgets every update below the offset: they are confirmed.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
            return list(self._updates[:limit])

    def _api_setWebhook(self, params: dict) -> bool:
        url = params.get("url", "")
        if url and not str(url).startswith(("https://", "http://")):
            raise BotApiError(400, "Bad Request: bad webhook: invalid URL")
        self.webhook = {"url": url, "secret_token": params.get("secret_token", "")}
        return True

    def _api_deleteWebhook(self, params: dict) -> bool:
        self.webhook = {}
        return True

    def _api_getWebhookInfo(self, params: dict) -> dict:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count":
                len(self._updates)}

    # ---- serving -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                if path == "/local/say":  # not Telegram's: a person "types" into a chat (the local stand-in)
                    return self._say(raw)
                parts = path.strip("/").split("/")
                if len(parts) != 2 or not parts[0].startswith("bot"):
                    return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                if parts[0][3:] != fake.token:
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                params = dict(parse_qsl(query))
                content_type = self.headers.get("Content-Type", "")
                try:
                    if raw and "json" in content_type:
                        params.update(json.loads(raw))
                    elif raw:
                        params.update(parse_qsl(raw.decode()))
                except ValueError:
                    return self._answer(400, {"ok": False, "error_code": 400,
                                              "description": "Bad Request: can't parse JSON"})
                try:
                    result = fake.call(parts[1], params)
                except BotApiError as error:
                    body = {"ok": False, "error_code": error.code, "description": error.description}
                    if error.parameters:
                        body["parameters"] = error.parameters
                    return self._answer(error.code, body)
                return self._answer(200, {"ok": True, "result": result})

            def _say(self, raw: bytes) -> None:
                try:
                    body = json.loads(raw or b"{}")
                    update = fake.user_says(int(body["chat_id"]), str(body["text"]),
                                            username=str(body.get("username") or "you"))
                except (ValueError, KeyError, TypeError):
                    return self._answer(400, {"ok": False, "error_code": 400,
                                              "description": 'Bad Request: send {"chat_id": 1001, "text": "/help"}'})
                return self._answer(200, {"ok": True, "result": update})

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-telegram", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            with self.lock:
                self._updates.clear()
                self.lock.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
