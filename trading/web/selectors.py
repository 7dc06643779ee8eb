"""Reads of the trading pages (one query per list, whatever the number of rows)."""

from datetime import datetime, time
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from trading.models import ExchangeCredential, Order, Position, PositionStatus, TelegramAccount, TradingAccount

_ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=28, decimal_places=8))

ORDER_EXPORT_COLUMNS = [
    ("created_at", "created_at"), ("client_order_id", "client_order_id"), ("exchange_order_id", "exchange_order_id"),
    ("signal_id", "signal_id"), ("leg", "leg"), ("symbol", "symbol"), ("side", "side"), ("type", "type"),
    ("quantity", "quantity"), ("price", "price"), ("trigger_price", "trigger_price"), ("reduce_only", "reduce_only"),
    ("status", "status"), ("filled_quantity", "filled_quantity"), ("average_price", "average_price"),
    ("fee", "fee"), ("fee_currency", "fee_currency"), ("exchange_status", "exchange_status"),
    ("error", "error"),
]
POSITION_EXPORT_COLUMNS = [
    ("open_time", "open_time"), ("close_time", "close_time"), ("symbol", "symbol"), ("side", "side"),
    ("quantity", "quantity"), ("entry_price", "entry_price"), ("close_price", "close_price"),
    ("leverage", "leverage"), ("realized_pnl", "realized_pnl"), ("fees", "fees"), ("close_reason", "close_reason"),
    ("signal_id", "signal_id"),
]


def day_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def overview_accounts(user) -> QuerySet[TradingAccount]:
    """The user's accounts with their open positions' count and unrealized PnL, and realized PnL today
    (since 00:00 UTC), as annotations."""
    today = day_start()
    return (TradingAccount.objects.filter(user=user).select_related("exchange")
            .annotate(open_count=Count("positions", filter=Q(positions__status=PositionStatus.OPEN)),
                      unrealized=Coalesce(Sum("positions__unrealized_pnl",
                                              filter=Q(positions__status=PositionStatus.OPEN)), _ZERO),
                      realized_today=Coalesce(Sum("positions__realized_pnl",
                                                  filter=Q(positions__status=PositionStatus.CLOSED,
                                                           positions__close_time__gte=today)), _ZERO))
            .order_by("name", "id"))


def open_positions_of(user) -> QuerySet[Position]:
    return (Position.objects.filter(account__user=user, status=PositionStatus.OPEN)
            .select_related("account").order_by("account__name", "symbol"))


def credentials_of(account: TradingAccount) -> QuerySet[ExchangeCredential]:
    return ExchangeCredential.objects.filter(account=account).order_by("-created_at", "-id")


def credential_of(account: TradingAccount, credential_id: int) -> ExchangeCredential | None:
    return ExchangeCredential.objects.select_related("account").filter(account=account, pk=credential_id).first()


def telegram_links_of(user) -> QuerySet[TelegramAccount]:
    return TelegramAccount.objects.filter(user=user, is_active=True).order_by("created_at", "id")


def order_export_rows(account: TradingAccount) -> QuerySet:
    return (Order.objects.filter(account=account).order_by("created_at", "id")
            .values_list(*[field for _, field in ORDER_EXPORT_COLUMNS]))


def closed_position_export_rows(account: TradingAccount) -> QuerySet:
    return (Position.objects.filter(account=account, status=PositionStatus.CLOSED).order_by("close_time", "id")
            .values_list(*[field for _, field in POSITION_EXPORT_COLUMNS]))


def market_max_leverage(account: TradingAccount) -> int | None:
    """What the account's exchange allows at most, to check a maximum leverage against when settings are
    saved; None when the exchange cannot be asked now (execution still clamps to each market's ceiling)."""
    from trading.exchanges.client import ExchangeRefused, ExchangeUnavailable, NoCredential, gateway_for

    try:
        return gateway_for(account).highest_leverage()
    except (NoCredential, ExchangeRefused, ExchangeUnavailable):
        return None
