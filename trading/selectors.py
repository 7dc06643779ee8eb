"""Reads of trading, for services, the pages and the bot.

Everything here runs inside the current tenant (TenantScopedModel managers), except the webhook look-up,
which finds the account from its URL token before any tenant is known.
"""

from datetime import datetime, time
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from tenancy.scoping import dangerously_bypass_tenant_scope
from trading.models import (
    CredentialStatus,
    ExchangeCredential,
    Order,
    Position,
    PositionStatus,
    Signal,
    SyncLog,
    TradingAccount,
    TradingSettings,
)


def account_for_webhook_token(token: str) -> TradingAccount | None:
    """The account whose webhook URL carries `token` (by keyed digest, across tenants); the caller then
    enters `account.tenant_id`."""
    from trading.services.accounts import webhook_token_digest

    if not token or len(token) > 100:
        return None
    with dangerously_bypass_tenant_scope():
        return (TradingAccount.objects.select_related("exchange")
                .filter(webhook_token_digest=webhook_token_digest(token)).first())


def account_for_api_key(raw_key: str) -> TradingAccount | None:
    """The account of an `sk_live_` key (the copy-trade `AUTH:`), by keyed digest across tenants."""
    from trading.services.accounts import api_key_digest

    if not raw_key or len(raw_key) > 100:
        return None
    with dangerously_bypass_tenant_scope():
        return TradingAccount.objects.filter(api_key_digest=api_key_digest(raw_key)).first()


def accounts_of(user) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.filter(user=user).select_related("exchange")


def effective_settings(account: TradingAccount) -> TradingSettings:
    """The account's override, else its owner's settings, else the defaults (unsaved)."""
    rows = list(TradingSettings.objects.filter(user_id=account.user_id).filter(account__isnull=True)
                | TradingSettings.objects.filter(account=account))
    for row in rows:
        if row.account_id == account.pk:
            return row
    return rows[0] if rows else TradingSettings(user_id=account.user_id, tenant_id=account.tenant_id)


def active_credential(account: TradingAccount) -> ExchangeCredential | None:
    return (ExchangeCredential.objects.filter(account=account, status=CredentialStatus.ACTIVE)
            .order_by("-created_at", "-id").first())


def webhook_path(account: TradingAccount) -> str:
    return reverse("trading_hooks:signal", kwargs={"token": account.webhook_token_encrypted})


def webhook_url(account: TradingAccount) -> str:
    return settings.SITE_URL.rstrip("/") + webhook_path(account)


def tradingview_message(account: TradingAccount) -> str:
    """A ready TradingView alert message for the account's webhook (JSON, the passphrase inside)."""
    import json

    message = {"passphrase": account.webhook_passphrase, "symbol": "{{ticker}}", "signal": "buy",
               "price": "{{close}}", "stop_price": "0", "take_profit_price": "0", "alert_id": "{{timenow}}"}
    return json.dumps(message)


def open_positions(account: TradingAccount) -> QuerySet[Position]:
    return Position.objects.filter(account=account, status=PositionStatus.OPEN).order_by("symbol")


def closed_positions(account: TradingAccount) -> QuerySet[Position]:
    return Position.objects.filter(account=account, status=PositionStatus.CLOSED).order_by("-close_time")


def recent_signals(account: TradingAccount, limit: int = 50) -> QuerySet[Signal]:
    return Signal.objects.filter(account=account).order_by("-created_at", "-id")[:limit]


def recent_orders(account: TradingAccount, limit: int = 50) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-created_at", "-id")[:limit]


def recent_sync_logs(account: TradingAccount, limit: int = 20) -> QuerySet[SyncLog]:
    return SyncLog.objects.filter(account=account).order_by("-timestamp", "-id")[:limit]


def loss_window_start(account: TradingAccount, now: datetime | None = None) -> datetime:
    """The daily loss brake counts from 00:00 UTC, or from the last resume if that is later."""
    now = now or timezone.now()
    start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    return max(start, account.resumed_at) if account.resumed_at else start


def loss_today(account: TradingAccount, now: datetime | None = None) -> Decimal:
    """Realized PnL of positions closed since the window start plus unrealized PnL of open ones, as a
    loss (positive number; 0 when in profit)."""
    start = loss_window_start(account, now)
    realized = (Position.objects.filter(account=account, status=PositionStatus.CLOSED, close_time__gte=start)
                .aggregate(total=Sum("realized_pnl"))["total"] or Decimal(0))
    unrealized = (Position.objects.filter(account=account, status=PositionStatus.OPEN)
                  .aggregate(total=Sum("unrealized_pnl"))["total"] or Decimal(0))
    total = realized + unrealized
    return -total if total < 0 else Decimal(0)


def cumulative_pnl(account: TradingAccount) -> list[tuple[datetime, Decimal]]:
    """(close time, running realized PnL) of the account's closed positions, for the profit chart."""
    running = Decimal(0)
    points = []
    for close_time, pnl in closed_positions(account).order_by("close_time").values_list("close_time", "realized_pnl"):
        running += pnl
        points.append((close_time, running))
    return points
