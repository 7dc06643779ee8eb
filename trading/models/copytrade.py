"""Copy trading over the EA TCP server: master trades, per-follower deliveries, paired trades, EA connections
and each account's copy options.

The order of truth: a master's event is written (`MasterTrade` + one `CopyDelivery` per recipient) before
any follower is sent anything; a follower's `ACK`/`NACK` is written on its delivery and on the paired
`CopiedTrade`. A delivery that is still `pending` is what a reconnecting follower is sent again.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .accounts import TradingAccount
from .fields import MoneyField, PriceField


class LotMode(models.TextChoices):
    FIXED = "fixed", "Fixed lots"
    MULTIPLIER = "multiplier", "Master's lots × multiplier"
    EQUITY_RATIO = "equity_ratio", "Master's lots × my equity ÷ master's equity"


class CopySettings(TenantScopedModel):
    """An account's copy options. A master uses `listed` (shown on /masters); a follower the rest.

    A follower without a row copies with the defaults below (multiplier 1, no mapping, 30 s delay).
    """

    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="copy_settings")
    listed = models.BooleanField(default=False, help_text="Master: shown on the /masters list.")
    lot_mode = models.CharField(max_length=16, choices=LotMode.choices, default=LotMode.MULTIPLIER)
    lot_value = PriceField(default=Decimal("1"), validators=[MinValueValidator(Decimal("0"))],
                           help_text="Fixed: the lots of every copy. Multiplier: the factor. Equity ratio: an "
                                     "extra factor on the equity ratio.")
    lot_step = PriceField(default=Decimal("0.01"), help_text="Lots are rounded down to this step.")
    min_lots = PriceField(default=Decimal("0.01"), help_text="Below this a copy is skipped (NACK-free).")
    max_lots = PriceField(default=Decimal("100"), help_text="Copies are capped at this many lots.")
    symbol_prefix = models.CharField(max_length=16, blank=True, default="")
    symbol_suffix = models.CharField(max_length=16, blank=True, default="")
    symbol_map = models.JSONField(default=dict, blank=True,
                                  help_text='Master symbol → my symbol, e.g. {"XAUUSD": "GOLD"}; wins over '
                                            "prefix/suffix.")
    reverse = models.BooleanField(default=False, help_text="Copy BUY as SELL and SELL as BUY (SL and TP swap).")
    max_delay_seconds = models.PositiveIntegerField(
        default=30, help_text="An OPEN older than this when it would reach me is skipped. 0: no limit.")
    allowed_symbols = models.JSONField(default=list, blank=True,
                                       help_text="Master symbols to copy; empty: all.")
    blocked_symbols = models.JSONField(default=list, blank=True, help_text="Master symbols never copied.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "copy_settings"
        verbose_name_plural = "copy settings"
        constraints = [
            models.CheckConstraint(condition=Q(lot_mode__in=LotMode.values), name="copy_settings_lot_mode_valid"),
            models.CheckConstraint(condition=Q(lot_value__gte=0, lot_step__gt=0, min_lots__gte=0,
                                               max_lots__gte=models.F("min_lots")),
                                   name="copy_settings_lots_sane"),
        ]

    def __str__(self) -> str:
        return f"Copy options of {self.account}"


class TradeSide(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class MasterTradeStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class MasterTrade(TenantScopedModel):
    """A master's position as its EA reported it, identified by the master's own ticket.

    `lots` is what is still open (a partial close lowers it); `profit` adds up the profit of every close.
    """

    master = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="master_trades")
    ticket = models.BigIntegerField()
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=TradeSide.choices)
    lots = PriceField()
    initial_lots = PriceField()
    open_price = PriceField()
    stop_loss = PriceField(null=True, blank=True)
    take_profit = PriceField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=MasterTradeStatus.choices, default=MasterTradeStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_price = PriceField(null=True, blank=True)
    profit = MoneyField(default=0)
    # The last partial close as (lots:price:profit): a master re-sending it after a reconnect is not a second close.
    last_close = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        db_table = "master_trades"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["master", "ticket"], name="master_trades_ticket_unique_per_master"),
            models.CheckConstraint(condition=Q(side__in=TradeSide.values), name="master_trades_side_valid"),
            models.CheckConstraint(condition=Q(status__in=MasterTradeStatus.values),
                                   name="master_trades_status_valid"),
        ]
        indexes = [models.Index(fields=["master", "status"], name="master_trades_open_idx")]

    def __str__(self) -> str:
        return f"#{self.ticket} {self.side} {self.lots} {self.symbol}"


class DeliveryKind(models.TextChoices):
    OPEN = "OPEN", "Open"
    MODIFY = "MODIFY", "Modify"
    CLOSE = "CLOSE", "Close"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (not acknowledged)"
    ACKED = "acked", "Acknowledged"
    NACKED = "nacked", "Refused by the EA"
    SKIPPED = "skipped", "Skipped by the server"


class CopyDelivery(TenantScopedModel):
    """One master event as one follower must apply it: its own lots, symbol and side.

    `seq` is the follower's sequence number (unique for the follower, increasing, with gaps); the EA
    answers with it and never applies the same `seq` twice.
    """

    seq = models.BigAutoField(primary_key=True)
    follower = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="copy_deliveries")
    master_trade = models.ForeignKey(MasterTrade, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=8, choices=DeliveryKind.choices)
    symbol = models.CharField(max_length=64)
    side = models.CharField(max_length=4, choices=TradeSide.choices)
    lots = PriceField()
    price = PriceField()
    stop_loss = PriceField(null=True, blank=True)
    take_profit = PriceField(null=True, blank=True)
    ratio = models.DecimalField(max_digits=9, decimal_places=8, default=Decimal("1"),
                                help_text="CLOSE: the share of the open position to close (1: all).")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    reason = models.CharField(max_length=200, blank=True, default="")
    follower_ticket = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    acked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "copy_deliveries"
        ordering = ["seq"]
        verbose_name_plural = "copy deliveries"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DeliveryKind.values), name="copy_deliveries_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values),
                                   name="copy_deliveries_status_valid"),
        ]
        indexes = [
            models.Index(fields=["follower", "seq"], condition=Q(status="pending"),
                         name="copy_deliveries_pending_idx"),
            models.Index(fields=["master_trade", "status"], name="copy_deliveries_trade_idx"),
        ]

    def __str__(self) -> str:
        return f"seq {self.seq} {self.kind} → {self.follower_id}"


class CopiedTradeStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Refused by the EA"
    SKIPPED = "skipped", "Skipped"


class CopiedTrade(TenantScopedModel):
    """A follower's copy of a master trade: master ticket ↔ follower ticket, with its own lots and profit."""

    follower = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="copied_trades")
    master_trade = models.ForeignKey(MasterTrade, on_delete=models.CASCADE, related_name="copies")
    follower_ticket = models.BigIntegerField(null=True, blank=True)
    symbol = models.CharField(max_length=64)
    side = models.CharField(max_length=4, choices=TradeSide.choices)
    lots = PriceField(help_text="Lots still open.")
    status = models.CharField(max_length=8, choices=CopiedTradeStatus.choices, default=CopiedTradeStatus.OPEN)
    reason = models.CharField(max_length=200, blank=True, default="")
    profit = MoneyField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "copied_trades"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["follower", "master_trade"], name="copied_trades_one_per_master_trade"),
            models.CheckConstraint(condition=Q(status__in=CopiedTradeStatus.values),
                                   name="copied_trades_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.follower} copy of #{self.master_trade_id} (ticket {self.follower_ticket})"


class EAConnection(TenantScopedModel):
    """The last known connection of an account's EA: which server holds it and its last heartbeat."""

    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="ea_connection")
    connected = models.BooleanField(default=False)
    server_id = models.CharField(max_length=64, blank=True, default="")
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    balance = MoneyField(null=True, blank=True)
    equity = MoneyField(null=True, blank=True)

    class Meta:
        db_table = "copytrade_connections"
        verbose_name = "EA connection"

    def __str__(self) -> str:
        return f"EA of {self.account} ({'connected' if self.connected else 'offline'})"

    def is_live(self, *, heartbeat_seconds: float) -> bool:
        """Connected and heard from within three heartbeats (a killed server leaves `connected` set)."""
        if not self.connected or self.last_seen_at is None:
            return False
        return (timezone.now() - self.last_seen_at).total_seconds() <= 3 * heartbeat_seconds
