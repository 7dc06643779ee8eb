"""What happened on the exchange: orders, fills, positions, and the log of each reconciliation pass."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .accounts import TradingAccount
from .fields import MoneyField, PriceField
from .signals import Signal


class PositionSide(models.TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


class PositionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class CloseReason(models.TextChoices):
    SIGNAL = "signal", "Close signal"
    STOP_LOSS = "stop_loss", "Stop loss"
    TAKE_PROFIT = "take_profit", "Take profit"
    LIQUIDATION = "liquidation", "Liquidation"
    EXCHANGE = "exchange", "Closed on the exchange"


class Position(TenantScopedModel):
    """A position the account holds (or held) on one symbol; at most one open per account and symbol."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="positions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signal = models.ForeignKey(Signal, on_delete=models.SET_NULL, null=True, blank=True, related_name="positions")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=8, choices=PositionSide.choices)
    quantity = PriceField()
    entry_price = PriceField()
    leverage = models.PositiveSmallIntegerField(default=1)
    margin_type = models.CharField(max_length=16, default="isolated")
    status = models.CharField(max_length=8, choices=PositionStatus.choices, default=PositionStatus.OPEN)
    mark_price = PriceField(null=True, blank=True)
    liquidation_price = PriceField(null=True, blank=True)
    unrealized_pnl = MoneyField(default=0)
    realized_pnl = MoneyField(default=0, help_text="Net of fees once closed.")
    fees = MoneyField(default=0)
    close_price = PriceField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True, default="")
    open_time = models.DateTimeField(default=timezone.now)
    close_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "positions"
        ordering = ["-open_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], condition=Q(status="open"),
                                    name="positions_one_open_per_symbol"),
            models.CheckConstraint(condition=Q(status__in=PositionStatus.values), name="positions_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} ({self.status})"


class OrderLeg(models.TextChoices):
    ENTRY = "entry", "Entry"
    STOP_LOSS = "sl", "Stop loss"
    TAKE_PROFIT = "tp", "Take profit"
    CLOSE = "close", "Close"
    EXTERNAL = "external", "Not ours (found on the exchange)"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Sending"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed (not placed)"


OPEN_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class Order(TenantScopedModel):
    """An order we placed (or found) on the exchange.

    The row is written as `pending` with its deterministic `client_order_id` *before* the exchange is
    called, so a worker that dies or loses the answer leaves a row a retry or reconciliation resolves by
    asking the exchange for that id — never a second order.
    """

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="orders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signal = models.ForeignKey(Signal, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    position = models.ForeignKey(Position, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    leg = models.CharField(max_length=8, choices=OrderLeg.choices)
    client_order_id = models.CharField(max_length=64)
    exchange_order_id = models.CharField(max_length=64, blank=True, default="")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4, choices=[("buy", "Buy"), ("sell", "Sell")])
    type = models.CharField(max_length=24)
    reduce_only = models.BooleanField(default=False)
    quantity = PriceField()
    price = PriceField(null=True, blank=True, help_text="Limit price, or the reference price of a market order.")
    trigger_price = PriceField(null=True, blank=True)
    stop_loss = PriceField(null=True, blank=True)
    take_profit = PriceField(null=True, blank=True)
    filled_quantity = PriceField(default=0)
    average_price = PriceField(null=True, blank=True)
    fee = MoneyField(default=0)
    fee_currency = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    exchange_status = models.CharField(max_length=32, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "status"], name="orders_account_status_idx")]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="orders_client_id_unique"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="orders_status_valid"),
            models.CheckConstraint(condition=Q(leg__in=OrderLeg.values), name="orders_leg_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.quantity} {self.symbol}"

    @property
    def is_conditional(self) -> bool:
        return self.leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT)


class Fill(TenantScopedModel):
    """One trade the exchange reports; unique on its trade id, so a fill is applied once however often
    reconciliation sees it."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="fills")
    exchange_trade_id = models.CharField(max_length=64)
    exchange_order_id = models.CharField(max_length=64, blank=True, default="")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    price = PriceField()
    quantity = PriceField()
    fee = MoneyField(default=0)
    fee_currency = models.CharField(max_length=16, blank=True, default="")
    realized_pnl = MoneyField(default=0)
    traded_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "trading_fills"
        ordering = ["traded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "exchange_trade_id"], name="trading_fills_trade_id_unique"),
        ]

    def __str__(self) -> str:
        return f"Fill {self.exchange_trade_id} {self.side} {self.quantity} @ {self.price}"


class SyncLog(TenantScopedModel):
    """One reconciliation pass: what it found on the exchange and what it changed here."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="sync_logs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=32, default="reconcile")
    entity = models.CharField(max_length=32, default="account")
    trigger = models.CharField(max_length=24, default="beat")
    ok = models.BooleanField(default=True)
    changes = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sync_logs"
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["account", "timestamp"], name="sync_logs_account_time_idx")]

    def __str__(self) -> str:
        return f"Sync {self.account} {self.timestamp:%Y-%m-%d %H:%M:%S} ({self.changes} changes)"


class PaperExchangeState(TenantScopedModel):
    """The book of one account on the paper exchange (balance, orders, positions, trades) as a document.

    The paper exchange (trading.exchanges.paper) locks and rewrites it on every call, so several workers
    can trade one paper account; prices come from a deterministic series, so fills are reproducible.
    """

    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="paper_state")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trading_paper_state"

    def __str__(self) -> str:
        return f"Paper book of {self.account}"
