"""Telegram links and the notification outbox the Telegram bot delivers from."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .accounts import TradingAccount


class TelegramAccount(TenantScopedModel):
    """A user's linked Telegram chat (seed `telegram_accounts`), made when the chat sends the bot
    `/start <code>` with a one-time code from the Telegram page (TelegramLinkCode)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_accounts")
    chat_id = models.CharField(max_length=32)
    username = models.CharField(max_length=64, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "telegram_accounts"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "chat_id"], name="telegram_accounts_unique_chat"),
        ]

    def __str__(self) -> str:
        return f"Telegram {self.username or self.chat_id}"


class NotificationKind(models.TextChoices):
    SIGNAL_ACCEPTED = "signal_accepted", "Signal accepted"
    SIGNAL_REJECTED = "signal_rejected", "Signal rejected"
    ORDER_FILLED = "order_filled", "Order filled"
    POSITION_CLOSED = "position_closed", "Position closed"
    ERROR = "error", "Error"
    ACCOUNT_PAUSED = "account_paused", "Account paused"
    TRADE_COPIED = "trade_copied", "Trade copied"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (no linked chat)"


class Notification(TenantScopedModel):
    """An outbox row: written in the same transaction as the event it tells about, delivered later.

    The deliverer (the Telegram bot) takes `pending` rows oldest first, sends `text` to the user's linked
    chats and marks them `sent` (or counts the attempt and keeps them pending, then `failed`). `dedupe_key`
    makes enqueueing the same event twice (a retried task, two reconciliation passes) a no-op.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    text = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="After a failed try (or Telegram's 429): not before this.")
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "trading_notifications"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="trading_notif_pending_idx")]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="trading_notifications_dedupe"),
            models.CheckConstraint(condition=Q(status__in=NotificationStatus.values),
                                   name="trading_notifications_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.user}"


class TelegramLinkCode(TenantScopedModel):
    """A one-time code that links the chat which sends `/start <code>` to the bot to `user`.

    Only a keyed digest of the code is stored; it expires (TELEGRAM_LINK_CODE_MINUTES) and works once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "telegram_link_codes"

    def __str__(self) -> str:
        return f"Telegram link code of {self.user}"
