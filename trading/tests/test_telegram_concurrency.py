"""Two deliverers (the task sent on commit and the sweeper's) take the same outbox row at the same moment,
on PostgreSQL with real threads: the row goes to Telegram once."""

import threading

import pytest
from django.db import connection

from tenancy.scoping import tenant_context
from trading.models import NotificationStatus
from trading.services import telegram as telegram_services

from .factories import NotificationFactory, TelegramAccountFactory, TradingAccountFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_deliverers_at_once_send_a_row_once(tenant, fake_telegram):
    with tenant_context(tenant):
        account = TradingAccountFactory()
        TelegramAccountFactory(user=account.user, chat_id="31337")
        row = NotificationFactory(account=account, text="filled")
    fake_telegram.latency = 0.3  # the first sender still holds the row when the second arrives
    results, start = [], threading.Barrier(2)

    def deliver():
        try:
            with tenant_context(tenant):
                start.wait()
                results.append(telegram_services.deliver_notification(notification_id=row.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results) == ["busy", NotificationStatus.SENT]
    assert fake_telegram.messages_to("31337") == ["filled"]
