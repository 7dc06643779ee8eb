"""The notification outbox: rows written with the event, delivered by the Telegram bot after commit
(trading.services.telegram; its sweeper re-sends what a lost message left pending)."""

from django.db import IntegrityError, transaction

from trading.copytrade.protocol import number
from trading.models import Notification, NotificationKind, TradingAccount


def enqueue_notification(*, account: TradingAccount, kind: NotificationKind, text: str, dedupe_key: str,
                         details: dict | None = None) -> Notification | None:
    """Add one pending notification for the account's owner; a second call with the same `dedupe_key`
    (a retried task, a second reconciliation pass) adds nothing and returns None."""
    from trading.services.telegram import queue_delivery

    try:
        with transaction.atomic():
            notification = Notification.objects.create(user_id=account.user_id, account=account, kind=kind,
                                                       text=text, details=details or {},
                                                       dedupe_key=dedupe_key[:120], tenant_id=account.tenant_id)
    except IntegrityError:
        return None
    queue_delivery(notification)
    return notification


def plain(value) -> str:
    """A decimal as a person reads it in a message: the protocol's plain digits (1.119, not 1.119000000000),
    and a dash for nothing."""
    return "—" if value is None else number(value)
