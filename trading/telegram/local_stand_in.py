"""Telegram on a machine with no internet and no bot: `make run` sets TELEGRAM_LOCAL_FAKE_PORT, and the
serving process runs the local fake Bot API (trading.testing.fake_telegram) on that port, answers the bot's
messages by polling it (as `manage.py telegram_poll` does), and prints every message the bot sends — so the
demo's notifications show in the console, and a person can "type" into a chat:

    curl -X POST http://127.0.0.1:8099/local/say -d '{"chat_id": 1001, "text": "/status"}'

Settings point TELEGRAM_BOT_API_URL and TELEGRAM_BOT_TOKEN at it only when no real token is set.
"""

import logging
import sys
import threading
import time

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started = None


class LocalTelegram:
    def __init__(self, port: int, out=None):
        from trading.testing.fake_telegram import FakeTelegram

        self.out = out or sys.stdout
        self.fake = FakeTelegram(token=settings.TELEGRAM_BOT_TOKEN, username=settings.TELEGRAM_BOT_USERNAME)
        self.fake.on_sent = self._print
        self.port = port
        self.stopped = threading.Event()

    def start(self) -> "LocalTelegram":
        self.fake.start(port=self.port)
        threading.Thread(target=self._poll, name="telegram-local-poll", daemon=True).start()
        say = """{"chat_id": 1001, "text": "/help"}"""
        self.out.write(f"Telegram (local stand-in): the bot's messages print here; type into a chat with\n"
                       f"  curl -X POST {self.fake.base_url}/local/say -d '{say}'\n")
        self.out.flush()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.fake.stop()

    def _print(self, message) -> None:
        self.out.write(f"\n📨 Telegram → chat {message.chat_id}:\n    " + message.text.replace("\n", "\n    ") + "\n")
        self.out.flush()

    def _poll(self) -> None:
        from trading.telegram.client import BotApi, TelegramError
        from trading.telegram.commands import answer_updates

        api, offset = BotApi(), None
        while not self.stopped.is_set():
            try:
                offset = answer_updates(api.get_updates(offset=offset, timeout=10), api=api) or offset
            except TelegramError as exc:
                if self.stopped.is_set():
                    return
                log.warning("telegram local stand-in: %s", exc)
                time.sleep(1)
            finally:
                close_old_connections()


def maybe_start_local_telegram(argv=None) -> LocalTelegram | None:
    """From AppConfig.ready: in the process `runserver` serves from, when the stand-in is configured."""
    from core.in_process_beat import is_serving_process

    global _started
    if not settings.TELEGRAM_LOCAL_FAKE_PORT or not is_serving_process(sys.argv if argv is None else argv):
        return None
    with _lock:
        if _started is None:
            try:
                _started = LocalTelegram(settings.TELEGRAM_LOCAL_FAKE_PORT).start()
            except OSError as exc:
                log.warning("telegram local stand-in not started (port %s: %s)", settings.TELEGRAM_LOCAL_FAKE_PORT,
                            exc)
        return _started


def link_demo_chat(*, user, chat_id: int, out) -> None:
    """The demo links `user` to a chat of the local stand-in, through the real path (a one-time code, then
    `/start <code>` from that chat). Only with the stand-in on: a real bot would message a stranger's chat."""
    from trading.models import TelegramAccount
    from trading.services.telegram import link_chat, new_link_code

    if not settings.TELEGRAM_LOCAL_FAKE_PORT:
        return
    if not TelegramAccount.objects.filter(user=user, chat_id=str(chat_id), is_active=True).exists():
        link_chat(code=new_link_code(actor=user, user=user), chat_id=str(chat_id), username=f"demo{chat_id}")
    out(f"    Telegram (local stand-in): chat {chat_id} is linked; its messages print in the `make run` console")
