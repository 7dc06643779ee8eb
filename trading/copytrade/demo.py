"""Copy-trading demo (called by `manage.py seed_demo`): a master with two followers in the demo tenant and a
history of closed copied trades, so both dashboards have a cumulative profit curve. Idempotent: the
accounts are found by name; the history is written once. Prints the keys to start EA simulators with."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.demo import ensure_user
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from trading.models import (
    CopiedTrade,
    CopiedTradeStatus,
    CopyDelivery,
    CopySettings,
    DeliveryKind,
    DeliveryStatus,
    MasterTrade,
    MasterTradeStatus,
    TradingAccount,
)
from trading.services.accounts import create_trading_account
from trading.telegram.local_stand_in import link_demo_chat

DEMO_TENANT = "Demo Operator"
HISTORY = [  # (symbol, side, lots, open, close, master profit)
    ("EURUSD", "BUY", "0.50", "1.08200", "1.08650", "225.00"),
    ("XAUUSD", "SELL", "0.20", "2391.50", "2384.10", "148.00"),
    ("GBPUSD", "BUY", "0.30", "1.27400", "1.27150", "-75.00"),
    ("EURUSD", "SELL", "0.40", "1.08900", "1.08500", "160.00"),
    ("USDJPY", "BUY", "0.25", "151.200", "151.900", "115.70"),
    ("XAUUSD", "BUY", "0.10", "2380.00", "2392.00", "120.00"),
]


def _account(user, name: str, role: str, **extra) -> TradingAccount:
    return (TradingAccount.objects.filter(user=user, name=name).first()
            or create_trading_account(actor=user, user=user, name=name, role=role, **extra))


def seed(out) -> None:
    tenant = Tenant.objects.filter(name=DEMO_TENANT).first()
    if tenant is None:
        return
    owner = ensure_user("copy@demo.local", "Casey Copier")
    with tenant_context(tenant):
        master = _account(owner, "Gold Master", "master")
        CopySettings.objects.get_or_create(account=master, defaults={"listed": True, "tenant_id": tenant.pk})
        followers = [_account(owner, "Follower Alpha", "follower", following=master),
                     _account(owner, "Follower Beta", "follower", following=master)]
        CopySettings.objects.get_or_create(account=followers[1], defaults={
            "lot_value": Decimal("0.5"), "symbol_suffix": ".m", "tenant_id": tenant.pk})
        if not MasterTrade.objects.filter(master=master).exists():
            _history(tenant, master, followers)
    out("  copy@demo.local               copy trading: /accounts (a master and two followers, closed trades)")
    out(f"    master   key {master.api_key_encrypted}")
    for follower in followers:
        out(f"    follower key {follower.api_key_encrypted}  ({follower.name})")
    with tenant_context(tenant):
        link_demo_chat(user=owner, chat_id=1002, out=out)


def _history(tenant, master, followers) -> None:
    start = timezone.now() - timedelta(days=len(HISTORY) + 1)
    for number, (symbol, side, lots, opened, closed, profit) in enumerate(HISTORY):
        opened_at = start + timedelta(days=number, hours=9)
        closed_at = opened_at + timedelta(hours=5)
        trade = MasterTrade.objects.create(
            master=master, ticket=70_000 + number, symbol=symbol, side=side, lots=0, initial_lots=Decimal(lots),
            open_price=Decimal(opened), close_price=Decimal(closed), status=MasterTradeStatus.CLOSED,
            opened_at=opened_at, closed_at=closed_at, profit=Decimal(profit), tenant_id=tenant.pk)
        for index, follower in enumerate(followers):
            share = Decimal(1) if index == 0 else Decimal("0.5")
            copy_symbol = symbol if index == 0 else f"{symbol}.m"
            for kind, at in ((DeliveryKind.OPEN, opened_at), (DeliveryKind.CLOSE, closed_at)):
                CopyDelivery.objects.create(
                    follower=follower, master_trade=trade, kind=kind, symbol=copy_symbol, side=side,
                    lots=Decimal(lots) * share, price=Decimal(opened if kind == DeliveryKind.OPEN else closed),
                    status=DeliveryStatus.ACKED, follower_ticket=80_000 + number * 10 + index, created_at=at,
                    acked_at=at, tenant_id=tenant.pk)
            CopiedTrade.objects.create(
                follower=follower, master_trade=trade, follower_ticket=80_000 + number * 10 + index,
                symbol=copy_symbol, side=side, lots=0, status=CopiedTradeStatus.CLOSED,
                profit=(Decimal(profit) * share).quantize(Decimal("0.01")), opened_at=opened_at, closed_at=closed_at,
                tenant_id=tenant.pk)
