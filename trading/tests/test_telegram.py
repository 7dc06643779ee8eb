"""The Telegram bot against a local fake Bot API (trading.testing.fake_telegram), driven by the real client:
linking by one-time code, each command, the webhook's secret checks, polling, and outbox delivery (once,
within the rate limit, retried after Telegram's 429)."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from trading.models import (
    AccountStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    PositionStatus,
    TelegramAccount,
    TelegramLinkCode,
    TradingAccount,
)
from trading.services import telegram as telegram_services
from trading.services.notifications import enqueue_notification

from .factories import PositionFactory, TelegramAccountFactory, TradingAccountFactory
from .support import make_trading_user

CHAT = 555000111


def say(client, settings, fake, chat_id, text, *, secret_header=None, path_secret=None):
    """A chat sends the bot `text`; Telegram POSTs the update to our webhook."""
    update = fake.user_says(chat_id, text)
    path = path_secret if path_secret is not None else telegram_services.webhook_path_secret()
    header = settings.TELEGRAM_WEBHOOK_SECRET if secret_header is None else secret_header
    return client.post(f"/hooks/telegram/{path}", data=json.dumps(update), content_type="application/json",
                       HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=header)


def last_reply(fake, chat_id=CHAT) -> str:
    replies = fake.messages_to(chat_id)
    assert replies, "the bot answered nothing"
    return replies[-1]


@pytest.fixture
def person(tenant):
    return make_trading_user(tenant, email="tg-person@example.com")


@pytest.fixture
def linked(in_tenant, person, fake_telegram):
    return TelegramAccountFactory(user=person, chat_id=str(CHAT), username="person")


# --- linking ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_start_with_a_fresh_code_links_the_chat_once(client, settings, in_tenant, person, fake_telegram):
    code = telegram_services.new_link_code(actor=person, user=person)

    response = say(client, settings, fake_telegram, CHAT, f"/start {code}")

    assert response.status_code == 200
    link = TelegramAccount.objects.get(user=person)
    assert (link.chat_id, link.username, link.is_active) == (str(CHAT), "someone", True)
    assert "Linked to tg-person@example.com" in last_reply(fake_telegram)
    assert TelegramLinkCode.objects.get(user=person).used_at is not None

    say(client, settings, fake_telegram, 777, f"/start {code}")  # the same code from another chat
    assert "already used" in last_reply(fake_telegram, 777)
    assert not TelegramAccount.objects.filter(chat_id="777").exists()


@pytest.mark.django_db
def test_an_expired_or_unknown_code_links_nothing(client, settings, in_tenant, person, fake_telegram):
    code = telegram_services.new_link_code(actor=person, user=person)
    TelegramLinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    say(client, settings, fake_telegram, CHAT, f"/start {code}")
    assert "expired" in last_reply(fake_telegram)
    say(client, settings, fake_telegram, CHAT, "/start not-a-code")
    assert "not valid" in last_reply(fake_telegram)
    assert not TelegramAccount.objects.exists()


@pytest.mark.django_db
def test_a_new_code_replaces_the_unused_one(in_tenant, person, fake_telegram):
    first = telegram_services.new_link_code(actor=person, user=person)
    telegram_services.new_link_code(actor=person, user=person)

    with pytest.raises(telegram_services.LinkRefused):
        telegram_services.link_chat(code=first, chat_id="1", username="x")


# --- the webhook's secrets -------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_webhook_refuses_a_wrong_secret_header_or_path(client, settings, linked, fake_telegram):
    wrong_header = say(client, settings, fake_telegram, CHAT, "/help", secret_header="wrong")
    no_header = client.post(f"/hooks/telegram/{telegram_services.webhook_path_secret()}", data="{}",
                            content_type="application/json")
    wrong_path = say(client, settings, fake_telegram, CHAT, "/help", path_secret="x" * 32)

    assert (wrong_header.status_code, no_header.status_code, wrong_path.status_code) == (403, 403, 404)
    assert fake_telegram.messages_to(CHAT) == []


@pytest.mark.django_db
def test_the_webhook_answers_400_to_a_body_that_is_not_json(client, settings, fake_telegram, db):
    response = client.post(f"/hooks/telegram/{telegram_services.webhook_path_secret()}", data="nope",
                           content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=settings.TELEGRAM_WEBHOOK_SECRET)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_no_webhook_secret_configured_means_no_webhook(client, settings, fake_telegram, db):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    assert client.post("/hooks/telegram/anything", data="{}", content_type="application/json").status_code == 404


# --- commands ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_unlinked_chat_is_told_how_to_link(client, settings, fake_telegram, db):
    say(client, settings, fake_telegram, 999, "/status")
    assert "not linked" in last_reply(fake_telegram, 999)


@pytest.mark.django_db
def test_help_lists_every_command(client, settings, linked, fake_telegram):
    say(client, settings, fake_telegram, CHAT, "/help")
    reply = last_reply(fake_telegram)
    for command in ("/status", "/positions", "/profit", "/balance", "/pause", "/resume", "/help"):
        assert command in reply


@pytest.mark.django_db
def test_an_update_telegram_sends_again_is_answered_once(client, settings, linked, fake_telegram):
    """Telegram re-sends an update when our answer was late: the command runs once."""
    update = fake_telegram.user_says(CHAT, "/pause")
    path = telegram_services.webhook_path_secret()
    for _ in range(2):
        response = client.post(f"/hooks/telegram/{path}", data=json.dumps(update), content_type="application/json",
                                HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=settings.TELEGRAM_WEBHOOK_SECRET)
        assert response.status_code == 200

    assert len(fake_telegram.messages_to(CHAT)) == 1


@pytest.mark.django_db
def test_status_positions_and_profit_show_only_the_linked_users_rows(client, settings, tenant, linked, person,
                                                                      fake_telegram):
    mine = TradingAccountFactory(user=person, name="Main")
    PositionFactory(account=mine, symbol="BTC/USDT:USDT", unrealized_pnl=Decimal("-52.5"))
    PositionFactory(account=mine, symbol="ETH/USDT:USDT", status=PositionStatus.CLOSED,
                    realized_pnl=Decimal("40"), close_time=timezone.now())
    someone_else = TradingAccountFactory(name="NotMine")
    PositionFactory(account=someone_else, symbol="SOL/USDT:USDT")

    say(client, settings, fake_telegram, CHAT, "/status")
    status = last_reply(fake_telegram)
    say(client, settings, fake_telegram, CHAT, "/positions")
    positions = last_reply(fake_telegram)
    say(client, settings, fake_telegram, CHAT, "/profit")
    profit = last_reply(fake_telegram)

    assert "Main: ▶ trading, 1 open, loss today 12.50" in status and "NotMine" not in status
    assert "long 0.01 BTC/USDT:USDT @ 60000" in positions and "SOL" not in positions
    assert "Main: realized 40.00 in all (1 trades), 40.00 today" in profit


@pytest.mark.django_db
def test_pause_and_resume_act_on_the_users_accounts_and_are_audited(client, settings, linked, person,
                                                                    fake_telegram):
    from audit.models import AuditLog

    main = TradingAccountFactory(user=person, name="Main")
    spare = TradingAccountFactory(user=person, name="Spare")

    say(client, settings, fake_telegram, CHAT, "/pause Main")
    assert "Main: paused" in last_reply(fake_telegram)
    main.refresh_from_db(), spare.refresh_from_db()
    assert (main.status, spare.status) == (AccountStatus.PAUSED, AccountStatus.ACTIVE)
    assert AuditLog.objects.filter(action="trading.account_paused", actor=person).count() == 1

    say(client, settings, fake_telegram, CHAT, "/resume")
    assert "Main: resumed" in last_reply(fake_telegram) and "Spare: was not paused" in last_reply(fake_telegram)
    assert TradingAccount.objects.filter(user=person, status=AccountStatus.ACTIVE).count() == 2

    say(client, settings, fake_telegram, CHAT, "/pause Nope")
    assert "No account named 'Nope'" in last_reply(fake_telegram)


@pytest.mark.django_db
def test_pause_needs_the_manage_permission(client, settings, tenant, fake_telegram):
    viewer = make_trading_user(tenant, role_key="trading_manager")
    with tenant_context(tenant):
        TelegramAccountFactory(user=viewer, chat_id="4242")
        account = TradingAccountFactory(user=viewer, name="Main")

    say(client, settings, fake_telegram, 4242, "/pause")

    assert "may not" in last_reply(fake_telegram, 4242)
    with tenant_context(tenant):
        account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.mark.django_db
def test_balance_reads_equity_from_the_exchange(client, settings, trader, fake_telegram):
    TelegramAccountFactory(user=trader.user, chat_id=str(CHAT))
    from tenancy.services.roles import assign_role

    assign_role(tenant=trader.tenant, user=trader.user, role_key="trading_trader")

    say(client, settings, fake_telegram, CHAT, "/balance")

    assert f"{trader.name}: equity 10,000.00 USDT" in last_reply(fake_telegram)


@pytest.mark.django_db
def test_a_chat_linked_in_two_tenants_sees_each_tenants_rows(client, settings, tenant, fake_telegram):
    other = Tenant.objects.create(name="Operator Z")
    first, second = make_trading_user(tenant), make_trading_user(other)
    for owner, place, name in ((first, tenant, "InA"), (second, other, "InZ")):
        with tenant_context(place):
            TelegramAccountFactory(user=owner, chat_id=str(CHAT))
            TradingAccountFactory(user=owner, name=name)

    say(client, settings, fake_telegram, CHAT, "/status")

    reply = last_reply(fake_telegram)
    assert f"[{tenant.name}]\nInA" in reply and "[Operator Z]\nInZ" in reply


@pytest.mark.django_db
def test_telegram_poll_answers_queued_updates_and_confirms_them(in_tenant, person, fake_telegram):
    code = telegram_services.new_link_code(actor=person, user=person)
    fake_telegram.user_says(CHAT, f"/start {code}")
    fake_telegram.user_says(CHAT, "/help")

    call_command("telegram_poll", "--once")

    assert TelegramAccount.objects.filter(user=person, chat_id=str(CHAT)).exists()
    assert len(fake_telegram.messages_to(CHAT)) == 2
    assert fake_telegram.call("getUpdates", {}) == []  # confirmed: Telegram will not send them again


@pytest.mark.django_db
def test_telegram_webhook_command_registers_the_secret(in_tenant, fake_telegram, settings):
    call_command("telegram_webhook", "--set")
    assert fake_telegram.webhook == {"url": telegram_services.webhook_url(),
                                     "secret_token": settings.TELEGRAM_WEBHOOK_SECRET}
    assert telegram_services.webhook_path_secret() in fake_telegram.webhook["url"]


# --- outbox delivery ---------------------------------------------------------------------------------

def notify(account, captured, key="n1", text="✅ Signal #1 buy BTCUSDT: done"):
    with captured(execute=True):
        return enqueue_notification(account=account, kind=NotificationKind.SIGNAL_ACCEPTED, text=text,
                                    dedupe_key=key)


@pytest.mark.django_db
def test_an_outbox_row_is_delivered_once_after_commit(linked, person, fake_telegram,
                                                      django_capture_on_commit_callbacks):
    account = TradingAccountFactory(user=person)

    row = notify(account, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1) and row.sent_at is not None
    assert fake_telegram.messages_to(CHAT) == ["✅ Signal #1 buy BTCUSDT: done"]
    # The sweeper and a redelivered task find nothing left to send.
    with django_capture_on_commit_callbacks(execute=True):
        assert telegram_services.sweep_notifications() == 0
    assert telegram_services.deliver_notification(notification_id=row.pk).status == "busy"
    assert len(fake_telegram.messages_to(CHAT)) == 1


@pytest.mark.django_db
def test_telegrams_429_is_retried_after_retry_after(linked, person, fake_telegram,
                                                    django_capture_on_commit_callbacks):
    account = TradingAccountFactory(user=person)
    fake_telegram.fail_next("sendMessage", 1, error_code=429, retry_after=1)

    row = notify(account, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)
    assert "429" in row.last_error and row.next_attempt_at > timezone.now()
    assert fake_telegram.messages_to(CHAT) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert telegram_services.sweep_notifications() == 0  # not due yet

    time.sleep((row.next_attempt_at - timezone.now()).total_seconds() + 0.05)
    with django_capture_on_commit_callbacks(execute=True):
        assert telegram_services.sweep_notifications() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert fake_telegram.messages_to(CHAT) == ["✅ Signal #1 buy BTCUSDT: done"]


@pytest.mark.django_db
def test_an_unreachable_api_backs_off_and_gives_up_after_the_last_attempt(linked, person, fake_telegram, settings,
                                                                         django_capture_on_commit_callbacks):
    settings.TELEGRAM_MAX_ATTEMPTS = 2
    account = TradingAccountFactory(user=person)
    fake_telegram.fail_next("sendMessage", 5, error_code=500, retry_after=None, description="Internal")

    row = notify(account, django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING
    first_delay = (row.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < first_delay <= settings.TELEGRAM_RETRY_BASE_SECONDS

    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    telegram_services.deliver_notification(notification_id=row.pk)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 2)


@pytest.mark.django_db
def test_a_retry_sends_only_to_the_chats_that_did_not_get_it(in_tenant, person, fake_telegram,
                                                            django_capture_on_commit_callbacks):
    TelegramAccountFactory(user=person, chat_id="1001")
    TelegramAccountFactory(user=person, chat_id="1002")
    account = TradingAccountFactory(user=person)
    fake_telegram.block("1002")

    row = notify(account, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.details["delivered_chat_ids"] == ["1001"]
    assert not TelegramAccount.objects.get(chat_id="1002").is_active  # blocked the bot: unlinked
    assert fake_telegram.messages_to("1001") == [row.text]


@pytest.mark.django_db
def test_a_user_with_no_linked_chat_is_skipped(in_tenant, fake_telegram, django_capture_on_commit_callbacks):
    account = TradingAccountFactory()

    row = notify(account, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert row.status == NotificationStatus.SKIPPED and fake_telegram.sent == []


@pytest.mark.django_db
def test_messages_to_one_chat_keep_telegrams_per_chat_interval(linked, person, fake_telegram, settings,
                                                               django_capture_on_commit_callbacks):
    settings.TELEGRAM_CHAT_INTERVAL_SECONDS = 0.3
    account = TradingAccountFactory(user=person)

    for n in range(3):
        notify(account, django_capture_on_commit_callbacks, key=f"k{n}", text=f"message {n}")

    times = [message.sent_at for message in fake_telegram.sent]
    assert len(times) == 3
    assert all(later - earlier >= 0.28 for earlier, later in zip(times, times[1:]))


@pytest.mark.django_db
def test_with_no_bot_token_nothing_is_sent_and_rows_wait(in_tenant, person, settings,
                                                         django_capture_on_commit_callbacks):
    settings.TELEGRAM_BOT_TOKEN = ""
    TelegramAccountFactory(user=person)
    account = TradingAccountFactory(user=person)

    row = notify(account, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert telegram_services.sweep_notifications() == 0


@pytest.mark.django_db
def test_the_bot_token_never_reaches_an_error_message(linked, fake_telegram, settings):
    from trading.telegram.client import BotApi, TelegramUnavailable

    api = BotApi(base_url="http://127.0.0.1:9", token=settings.TELEGRAM_BOT_TOKEN)  # nothing listens there
    with pytest.raises(TelegramUnavailable) as caught:
        api.send_message(CHAT, "hi")
    assert settings.TELEGRAM_BOT_TOKEN not in str(caught.value)


def test_message_numbers_read_as_a_person_writes_them():
    from trading.services.notifications import plain

    assert [plain(Decimal("1.119000000000")), plain(Decimal("2994.420000000000")), plain(Decimal("1E+3")),
            plain(Decimal("0E-8")), plain(None)] == ["1.119", "2994.42", "1000", "0", "—"]
