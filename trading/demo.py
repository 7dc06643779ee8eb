"""Demo data for signal trading; called by `manage.py seed_demo` after tenancy.demo. Idempotent.

In the "Demo Operator" tenant: a trading user with the `trading_trader` role, a paper exchange, a demo account
on it with risk settings, and — the first time only — a few signals through the real pipeline (intake, then the
worker's service, then reconciliation): a trade closed by its take-profit (the paper book is moved ahead
until the series reaches it, so the closed trade has a real PnL), two open positions with stops and
take-profits, and a rejected signal with its reason. Every run prints the login, the webhook URL, its
passphrase, a ready TradingView message and a curl line that places an order on the paper exchange now.
"""

import json
from decimal import Decimal

from accounts.demo import ensure_user
from accounts.models import User
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from tenancy.services import assign_role
from trading import selectors
from trading.exchanges.paper import advance_book, open_book, series
from trading.models import AccountRole, Exchange, ExchangeKind, Signal, SignalSource, TradingAccount, TradingSettings
from trading.services.accounts import create_trading_account, update_settings
from trading.services.execution import process_signal
from trading.services.reconciliation import reconcile_account
from trading.services.signals import receive_signal
from trading.telegram.local_stand_in import link_demo_chat

DEMO_TENANT = "Demo Operator"
TRADER_EMAIL = "signals@demo.local"
ACCOUNT_NAME = "Demo paper account"
LOOK_AHEAD_STEPS = 40


def seed(out) -> None:
    tenant = Tenant.objects.get(name=DEMO_TENANT)
    superadmin = User.objects.filter(email__iexact="superadmin@demo.local").first()
    user = ensure_user(TRADER_EMAIL, "Sasha Signals")
    assign_role(tenant=tenant, user=user, role_key="trading_trader", actor=superadmin)
    with tenant_context(tenant):
        account = _account(user)
        if not Signal.objects.filter(account=account).exists():
            _trade(account)
        _print(account, out)
        link_demo_chat(user=user, chat_id=1001, out=out)


def _account(user) -> TradingAccount:
    exchange = Exchange.objects.filter(name="Paper exchange").first() or Exchange.objects.create(
        name="Paper exchange", kind=ExchangeKind.PAPER, ccxt_id="paper")
    account = TradingAccount.objects.filter(user=user, name=ACCOUNT_NAME).first()
    if account is None:
        account = create_trading_account(actor=user, user=user, name=ACCOUNT_NAME, role=AccountRole.MASTER,
                                         exchange=exchange)
    if not TradingSettings.objects.filter(user=user, account__isnull=True).exists():
        update_settings(actor=user, user=user, risk_per_trade=Decimal("1"), min_leverage=1, max_leverage=20,
                        require_stop_loss=True, max_open_positions=5, daily_loss_limit=Decimal("500"))
    return account


def _signal(account: TradingAccount, **fields) -> Signal:
    """Intake as the webhook does it, then the worker's service at once (seed_demo runs in one transaction,
    so the queued task would only start after it; when it does, it finds the signal done and does nothing)."""
    signal, _duplicate = receive_signal(account=account, fields=fields, source=SignalSource.DEMO)
    process_signal(signal_id=signal.pk)
    signal.refresh_from_db()
    return signal


def _price(account: TradingAccount, market_id: str) -> tuple[int, Decimal]:
    with open_book(account.pk, tenant_id=account.tenant_id) as book:
        return book.step, book.price(market_id)


def _trade(account: TradingAccount) -> None:
    prices = series()
    # 1. A long on ETH whose take-profit sits at the highest price of the next few steps; the book is moved
    #    there, the take-profit fills on the paper exchange, and a reconciliation pass closes the position.
    step, eth = _price(account, "ETHUSDT")
    ahead = [(prices.price("ETHUSDT", s), s) for s in range(step + 1, step + 1 + LOOK_AHEAD_STEPS)]
    high, high_step = max(ahead)
    if high > eth:
        _signal(account, symbol="ETHUSDT", action="buy", stop_price=str(eth * Decimal("0.97")),
                take_profit_price=str(high), leverage="5", alert_id="demo-1", tag="demo")
        advance_book(account, steps=high_step - step)
        reconcile_account(account_id=account.pk, trigger="demo")
    else:  # a flat stretch of the series: close by signal instead
        _signal(account, symbol="ETHUSDT", action="buy", stop_price=str(eth * Decimal("0.97")), leverage="5",
                alert_id="demo-1", tag="demo")
        advance_book(account, steps=LOOK_AHEAD_STEPS)
        _signal(account, symbol="ETHUSDT", action="close", alert_id="demo-1-close", tag="demo")
    # 2. Two positions that stay open, with their stops and take-profits on the paper exchange.
    _step, btc = _price(account, "BTCUSDT")
    _signal(account, symbol="BINANCE:BTCUSDT.P", action="buy", stop_price=str((btc * Decimal("0.98")).quantize(1)),
            take_profit_price=str((btc * Decimal("1.04")).quantize(1)), leverage="10", alert_id="demo-2",
            tag="demo")
    _step, sol = _price(account, "SOLUSDT")
    _signal(account, symbol="SOLUSDT", action="sell", stop_price=str(sol * Decimal("1.03")),
            take_profit_price=str(sol * Decimal("0.95")), leverage="3", alert_id="demo-3", tag="demo")
    # 3. A signal the account's settings refuse, to show a rejection reason.
    _signal(account, symbol="DOGEUSDT", action="buy", alert_id="demo-4", tag="demo")
    reconcile_account(account_id=account.pk, trigger="demo")


def _print(account: TradingAccount, out) -> None:
    url = selectors.webhook_url(account)
    _step, eth = _price(account, "ETHUSDT")
    example = {"passphrase": account.webhook_passphrase, "symbol": "ETHUSDT", "signal": "buy",
               "stop_price": str((eth * Decimal("0.98")).quantize(Decimal("0.01"))),
               "take_profit_price": str((eth * Decimal("1.05")).quantize(Decimal("0.01")))}
    positions = selectors.open_positions(account).count()
    closed = selectors.closed_positions(account).count()
    out(f"  {TRADER_EMAIL:<30} signal trader: “{account.name}” on the paper exchange "
        f"({positions} open position(s), {closed} closed)")
    out(f"  {'webhook URL':<30} {url}")
    out(f"  {'webhook passphrase':<30} {account.webhook_passphrase}")
    out(f"  {'TradingView message':<30} {selectors.tradingview_message(account)}")
    out(f"  {'try it (a buy on ETH)':<30} curl -X POST {url} -H 'Content-Type: application/json' "
        f"-d '{json.dumps(example)}'")
