"""The local stand-in for Telegram that `make run` starts: the bot's messages print in the console, and what a
person "types" into a chat (POST /local/say) is answered by the real command handlers through polling."""

import io
import socket
import threading
import time

import httpx
import pytest

from tenancy.scoping import tenant_context
from trading.models import NotificationKind, TelegramAccount
from trading.services.notifications import enqueue_notification
from trading.services.telegram import new_link_code
from trading.telegram.local_stand_in import LocalTelegram, link_demo_chat

from .factories import TradingAccountFactory
from .support import make_trading_user

pytestmark = pytest.mark.django_db(transaction=True)


class Console(io.StringIO):
    """What the stand-in prints, readable from the test thread while its threads write."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.fixture
def stand_in(settings):
    port = free_port()
    settings.TELEGRAM_LOCAL_FAKE_PORT = port
    settings.TELEGRAM_BOT_TOKEN = "100001:local-stand-in"
    settings.TELEGRAM_BOT_API_URL = f"http://127.0.0.1:{port}"
    settings.TELEGRAM_BOT_USERNAME = "local_demo_bot"
    console = Console()
    running = LocalTelegram(port, out=console).start()
    yield running, console
    running.stop()


def test_a_chat_links_with_start_code_and_the_bots_answers_print(stand_in, tenant):
    running, console = stand_in
    person = make_trading_user(tenant, email="local-tg@example.com")
    with tenant_context(tenant):
        code = new_link_code(actor=person, user=person)

    answer = httpx.post(f"{running.fake.base_url}/local/say", json={"chat_id": 1001, "text": f"/start {code}"})

    assert answer.status_code == 200
    with tenant_context(tenant):
        assert eventually(lambda: TelegramAccount.objects.filter(user=person, chat_id="1001").exists())
    assert eventually(lambda: "📨 Telegram → chat 1001:" in console.text())


def test_a_notification_is_sent_to_the_stand_in_and_printed(stand_in, tenant):
    running, console = stand_in
    person = make_trading_user(tenant, email="local-tg2@example.com")
    with tenant_context(tenant):
        link_demo_chat(user=person, chat_id=1002, out=lambda line: None)
        account = TradingAccountFactory(user=person)
        enqueue_notification(account=account, kind=NotificationKind.SIGNAL_ACCEPTED,
                             text="✅ Signal #7 buy ETHUSDT: done", dedupe_key="local-1")

    assert eventually(lambda: "✅ Signal #7 buy ETHUSDT: done" in console.text())
    assert running.fake.messages_to(1002)[-1] == "✅ Signal #7 buy ETHUSDT: done"


def test_a_bad_say_body_is_a_400_that_says_what_to_send(stand_in):
    running, _console = stand_in

    answer = httpx.post(f"{running.fake.base_url}/local/say", content=b"not json")

    assert answer.status_code == 400 and "chat_id" in answer.json()["description"]


def test_the_demo_links_no_chat_when_the_stand_in_is_off(settings, tenant):
    settings.TELEGRAM_LOCAL_FAKE_PORT = 0
    person = make_trading_user(tenant, email="local-tg3@example.com")
    with tenant_context(tenant):
        link_demo_chat(user=person, chat_id=1003, out=lambda line: None)
        assert not TelegramAccount.objects.filter(user=person).exists()


def test_an_update_that_fails_is_logged_and_the_rest_are_still_answered(monkeypatch, caplog):
    from trading.telegram import commands

    answered = []

    def handle(update, *, api):
        if update["update_id"] == 7:
            raise RuntimeError("broken handler")
        answered.append(update["update_id"])

    monkeypatch.setattr(commands, "handle_update", handle)
    offset = commands.answer_updates([{"update_id": 7}, {"update_id": 8}], api=None)

    assert offset == 9 and answered == [8]
    assert "telegram update 7 failed" in caplog.text
    assert commands.answer_updates([], api=None) is None
