"""Signals: TradingView-style alerts, API calls and test signals, each ending accepted or rejected."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .accounts import TradingAccount
from .fields import PriceField


class SignalSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    API = "api", "API"
    TEST = "test", "Test signal"
    DEMO = "demo", "Demo"


class SignalAction(models.TextChoices):
    BUY = "buy", "Buy (long)"
    SELL = "sell", "Sell (short)"
    CLOSE = "close", "Close"


class SignalStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Signal(TenantScopedModel):
    """One inbound signal. `payload` keeps the parsed fields (never the passphrase); `reason` says in plain
    words why a signal was rejected (or what an accepted one did)."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="signals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=SignalSource.choices)
    action = models.CharField(max_length=8, choices=SignalAction.choices, blank=True, default="")
    symbol = models.CharField(max_length=40, blank=True, default="")
    timeframe = models.CharField(max_length=16, blank=True, default="")
    order_type = models.CharField(max_length=16, blank=True, default="market")
    price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    take_profit_price = PriceField(null=True, blank=True)
    leverage = models.PositiveSmallIntegerField(null=True, blank=True)
    tag = models.CharField(max_length=64, blank=True, default="")
    alert_id = models.CharField(max_length=100, blank=True, default="")
    body_digest = models.CharField(max_length=64, editable=False)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=SignalStatus.choices, default=SignalStatus.QUEUED)
    reason = models.CharField(max_length=300, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "signals"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "body_digest", "created_at"], name="signals_body_window_idx"),
            models.Index(fields=["status", "created_at"], name="signals_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "alert_id"], condition=~Q(alert_id=""),
                                    name="signals_alert_id_unique_per_account"),
            models.CheckConstraint(condition=Q(status__in=SignalStatus.values), name="signals_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Signal #{self.pk} {self.action} {self.symbol}"
