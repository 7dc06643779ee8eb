"""Reads of the copy-trading pages (seed 001): a person's accounts, a master's followers with their EA
connection, a follower's copied trades, cumulative profit, listed masters. Scoped by the tenant managers."""

from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from trading.models import (
    AccountRole,
    CopiedTrade,
    CopiedTradeStatus,
    CopySettings,
    EAConnection,
    MasterTrade,
    MasterTradeStatus,
    TradingAccount,
)


def accounts_of(user) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.filter(user=user).select_related("following").order_by("name", "id")


def connection_of(account: TradingAccount) -> dict:
    """The EA's state for a badge: live (heard from within three heartbeats), its last heartbeat, equity."""
    row = EAConnection.objects.filter(account=account).first()
    live = bool(row and row.is_live(heartbeat_seconds=settings.COPYTRADE_HEARTBEAT_SECONDS))
    return {"live": live, "row": row}


def followers_of(master: TradingAccount) -> list[TradingAccount]:
    followers = list(TradingAccount.objects.filter(following=master).order_by("name", "id"))
    connections = {row.account_id: row for row in EAConnection.objects.filter(account__in=followers)}
    heartbeat = settings.COPYTRADE_HEARTBEAT_SECONDS
    for follower in followers:
        row = connections.get(follower.pk)
        follower.ea_live = bool(row and row.is_live(heartbeat_seconds=heartbeat))
        follower.ea_row = row
    return followers


def open_copies(follower: TradingAccount) -> QuerySet[CopiedTrade]:
    return CopiedTrade.objects.filter(follower=follower, status=CopiedTradeStatus.OPEN).select_related(
        "master_trade").order_by("-opened_at", "-id")


def closed_copies(follower: TradingAccount, limit: int = 50) -> QuerySet[CopiedTrade]:
    return CopiedTrade.objects.filter(follower=follower).exclude(status=CopiedTradeStatus.OPEN).select_related(
        "master_trade").order_by("-closed_at", "-id")[:limit]


def open_master_trades(master: TradingAccount) -> QuerySet[MasterTrade]:
    return MasterTrade.objects.filter(master=master, status=MasterTradeStatus.OPEN).order_by("-opened_at")


def cumulative_profit(account: TradingAccount) -> list[tuple]:
    """(closed at, running profit) after each closed trade: the master's own trades, or the follower's copies."""
    if account.role == AccountRole.MASTER:
        rows = MasterTrade.objects.filter(master=account, status=MasterTradeStatus.CLOSED)
    else:
        rows = CopiedTrade.objects.filter(follower=account, status=CopiedTradeStatus.CLOSED)
    total, points = Decimal("0"), []
    for closed_at, profit in rows.exclude(closed_at=None).order_by("closed_at", "id").values_list("closed_at",
                                                                                                    "profit"):
        total += profit
        points.append((closed_at, total))
    return points


def copy_settings_of(account: TradingAccount) -> CopySettings:
    return CopySettings.objects.filter(account=account).first() or CopySettings(account=account)


def listed_masters(query: str = "") -> QuerySet[TradingAccount]:
    masters = TradingAccount.objects.filter(role=AccountRole.MASTER, is_active=True,
                                            copy_settings__listed=True).select_related("user")
    if query:
        masters = masters.filter(name__icontains=query.strip())
    return masters.order_by("name", "id")
