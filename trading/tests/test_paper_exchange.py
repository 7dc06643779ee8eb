"""The paper exchange behind the real gateway: signals → orders → positions → reconciliation, no network.

Price steps last an hour here, so the clock never moves a price under a test; tests move the book with
`advance_book` (or tick with a later `now`) to the step the deterministic series reaches a level.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from trading.exchanges.client import gateway_for, reset_clients
from trading.exchanges.paper import PAPER_MARKETS, PriceSeries, advance_book, series, step_at
from trading.models import (
    CloseReason,
    ExchangeKind,
    Fill,
    Order,
    OrderLeg,
    OrderStatus,
    PaperExchangeState,
    Position,
    PositionStatus,
    SignalStatus,
    SyncLog,
)
from trading.services.paper import tick_paper_books
from trading.services.reconciliation import reconcile_account

from .factories import ExchangeFactory, TradingAccountFactory, TradingSettingsFactory
from .support import last_signal, post_signal

STEP_SECONDS = 3600


@pytest.fixture
def paper_account(in_tenant, settings):
    settings.TRADING_PAPER_STEP_SECONDS = STEP_SECONDS
    settings.TRADING_PAPER_SEED = "tests"
    settings.TRADING_PAPER_BALANCE = "10000"
    reset_clients()
    exchange = ExchangeFactory(name="Paper", kind=ExchangeKind.PAPER, ccxt_id="paper")
    account = TradingAccountFactory(exchange=exchange)
    TradingSettingsFactory(user=account.user, risk_per_trade=Decimal("1"), min_leverage=1, max_leverage=100)
    yield account
    reset_clients()


def now_price(symbol="BTCUSDT") -> Decimal:
    return series().price(symbol, step_at())


def book(account) -> dict:
    return PaperExchangeState.objects.get(account=account).state


def test_the_series_is_deterministic_near_its_base_and_on_the_tick():
    one, same, other = PriceSeries("a"), PriceSeries("a"), PriceSeries("b")
    steps = range(1_000_000, 1_000_000 + 3000, 7)

    for market_id, market in PAPER_MARKETS.items():
        prices = [one.price(market_id, step) for step in steps]
        assert prices == [same.price(market_id, step) for step in steps]
        assert prices != [other.price(market_id, step) for step in steps]
        assert all(abs(p / market.price - 1) < Decimal("0.06") and p % market.tick == 0 for p in prices)
        assert len(set(prices)) > 50  # it moves


@pytest.mark.django_db
def test_markets_precision_balance_and_price_through_the_gateway(paper_account):
    gateway = gateway_for(paper_account)
    symbol = gateway.resolve_symbol("BINANCE:BTCUSDT.P")
    rules = gateway.market_rules(symbol)

    assert symbol == "BTC/USDT:USDT" and gateway.resolve_symbol("XRPUSDT") is None
    assert (rules.amount_step, rules.price_step, rules.min_amount, rules.min_notional) == (
        Decimal("0.001"), Decimal("0.1"), Decimal("0.001"), Decimal("100"))
    assert gateway.max_leverage(symbol) == 125
    assert gateway.equity() == Decimal("10000")
    assert gateway.last_price(symbol) == now_price()
    assert book(paper_account)["step"] == step_at()


def open_long(client, account, captured, *, stop, take_profit=None, leverage="5", symbol="BTCUSDT", **extra):
    fields = {"symbol": symbol, "signal": "buy", "stop_price": str(stop), "leverage": leverage, **extra}
    if take_profit is not None:
        fields["take_profit_price"] = str(take_profit)
    response = post_signal(client, account, captured, **fields)
    assert response.status_code == 202, response.content
    signal = last_signal(account)
    assert signal.status == SignalStatus.ACCEPTED, signal.reason
    return signal


@pytest.mark.django_db
def test_a_webhook_signal_opens_a_risk_sized_position_with_stop_and_take_profit_on_the_paper_book(
        client, paper_account, django_capture_on_commit_callbacks):
    price = now_price()
    stop, take = price - Decimal("600"), price + Decimal("1200")

    signal = open_long(client, paper_account, django_capture_on_commit_callbacks, stop=stop, take_profit=take)

    entry = Order.objects.get(signal=signal, leg=OrderLeg.ENTRY)
    # 10 000 × 1 % ÷ 600 = 0.1666… → 0.166 (rounded down to the 0.001 step)
    assert (entry.status, entry.filled_quantity, entry.average_price) == (OrderStatus.FILLED, Decimal("0.166"),
                                                                          price)
    assert entry.fee == (price * Decimal("0.166") * Decimal("0.0004")).quantize(Decimal("0.00000001"))
    legs = {o.leg: o for o in Order.objects.filter(signal=signal)}
    assert legs[OrderLeg.STOP_LOSS].status == legs[OrderLeg.TAKE_PROFIT].status == OrderStatus.OPEN
    algos = {a["client_id"]: a for a in book(paper_account)["algos"].values()}
    assert algos[legs[OrderLeg.STOP_LOSS].client_order_id]["trigger"] == str(stop.normalize())
    assert algos[legs[OrderLeg.STOP_LOSS].client_order_id]["reduce_only"] is True
    position = Position.objects.get(account=paper_account, status=PositionStatus.OPEN)
    assert (position.side, position.quantity, position.leverage) == ("long", Decimal("0.166"), 5)
    assert book(paper_account)["positions"]["BTCUSDT"]["margin_type"] == "isolated"
    assert Fill.objects.filter(account=paper_account, order=entry).count() == 1
    assert SyncLog.objects.get(account=paper_account, trigger="after_placement").ok


@pytest.mark.django_db
def test_a_stop_reached_by_the_series_closes_the_position_at_the_next_sync(
        client, paper_account, django_capture_on_commit_callbacks):
    start, prices = step_at(), series()
    price = prices.price("BTCUSDT", start)
    lowest = min(prices.price("BTCUSDT", s) for s in range(start + 1, start + 3000))
    assert lowest < price
    hit = prices.first_step_reaching("BTCUSDT", start, lowest, rising=False)
    signal = open_long(client, paper_account, django_capture_on_commit_callbacks, stop=lowest,
                       take_profit=price * 2)
    position = Position.objects.get(signal=signal)

    fired = advance_book(paper_account, steps=hit - start)
    reconcile_account(account_id=paper_account.pk)

    assert fired == 1
    position.refresh_from_db()
    assert (position.status, position.close_reason, position.close_price) == (
        PositionStatus.CLOSED, CloseReason.STOP_LOSS, lowest)
    expected = (lowest - price) * position.quantity - position.fees
    assert position.realized_pnl == expected and position.realized_pnl < 0
    legs = {o.leg: o.status for o in Order.objects.filter(signal=signal)}
    assert legs[OrderLeg.STOP_LOSS] == OrderStatus.FILLED and legs[OrderLeg.TAKE_PROFIT] == OrderStatus.CANCELLED
    assert not [a for a in book(paper_account)["algos"].values() if a["status"] == "open"]
    assert Decimal(book(paper_account)["balance"]) == Decimal("10000") + position.realized_pnl


@pytest.mark.django_db
def test_the_beat_tick_fires_a_take_profit_when_the_clock_gets_there_and_queues_a_sync(
        client, paper_account, django_capture_on_commit_callbacks):
    start, prices = step_at(), series()
    price = prices.price("ETHUSDT", start)
    highest = max(prices.price("ETHUSDT", s) for s in range(start + 1, start + 3000))
    hit = prices.first_step_reaching("ETHUSDT", start, highest, rising=True)
    signal = open_long(client, paper_account, django_capture_on_commit_callbacks, symbol="ETHUSDT",
                       stop=price * Decimal("0.9"), take_profit=highest)

    assert tick_paper_books() == 0  # the clock has not moved: nothing fires
    with django_capture_on_commit_callbacks(execute=True):
        fired = tick_paper_books(now=timezone.now() + timedelta(seconds=(hit - start) * STEP_SECONDS))

    assert fired == 1
    position = Position.objects.get(signal=signal)
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.TAKE_PROFIT)
    assert position.realized_pnl > 0
    assert SyncLog.objects.filter(account=paper_account, trigger="paper_tick", changes__gt=0).exists()


@pytest.mark.django_db
def test_a_liquidation_on_the_paper_book_is_seen_by_reconciliation(
        client, paper_account, django_capture_on_commit_callbacks):
    start, prices = step_at(), series()
    price = prices.price("BTCUSDT", start)
    # 100x isolated: liquidated 0.6 % below the entry, long before a stop 5 % below.
    liquidation = (price * (1 - (Decimal(1) / 100 - Decimal("0.004")))).quantize(Decimal("0.1"))
    hit = prices.first_step_reaching("BTCUSDT", start, liquidation, rising=False, limit=20_000)
    assert hit is not None
    signal = open_long(client, paper_account, django_capture_on_commit_callbacks, stop=price * Decimal("0.95"),
                       leverage="100")

    advance_book(paper_account, steps=hit - start)
    reconcile_account(account_id=paper_account.pk)

    position = Position.objects.get(signal=signal)
    assert (position.status, position.close_reason, position.close_price) == (
        PositionStatus.CLOSED, CloseReason.LIQUIDATION, liquidation)
    # the exchange drops a liquidated position's stop, as Binance does
    assert Order.objects.get(signal=signal, leg=OrderLeg.STOP_LOSS).status == OrderStatus.EXPIRED


@pytest.mark.django_db
def test_a_close_signal_closes_reduce_only_and_cancels_the_protective_orders(
        client, paper_account, django_capture_on_commit_callbacks):
    price = now_price()
    open_long(client, paper_account, django_capture_on_commit_callbacks, stop=price - 500, take_profit=price + 500)
    advance_book(paper_account, steps=3)

    response = post_signal(client, paper_account, django_capture_on_commit_callbacks, symbol="BTCUSDT",
                           signal="close")

    assert response.status_code == 202
    signal = last_signal(paper_account)
    assert signal.status == SignalStatus.ACCEPTED, signal.reason
    close = Order.objects.get(signal=signal, leg=OrderLeg.CLOSE)
    assert close.reduce_only and close.status == OrderStatus.FILLED
    position = Position.objects.get(account=paper_account)
    closing_price = series().price("BTCUSDT", book(paper_account)["step"])
    assert (position.status, position.close_price) == (PositionStatus.CLOSED, closing_price)
    assert position.realized_pnl == (closing_price - price) * position.quantity - position.fees
    assert book(paper_account)["positions"]["BTCUSDT"]["amount"] == "0"
    assert not [a for a in book(paper_account)["algos"].values() if a["status"] == "open"]


@pytest.mark.django_db
def test_an_order_the_paper_margin_cannot_carry_is_refused_and_nothing_opens(
        client, paper_account, django_capture_on_commit_callbacks):
    price = now_price()
    # 10 % risk with a stop 1 tick away sizes far beyond 10 000 USDT of margin at 1x.
    from trading.services.accounts import update_settings

    update_settings(actor=None, user=paper_account.user, risk_per_trade=Decimal("10"), max_leverage=1)
    response = post_signal(client, paper_account, django_capture_on_commit_callbacks, symbol="BTCUSDT",
                           signal="buy", stop_price=str(price - Decimal("1")))

    assert response.status_code == 202
    signal = last_signal(paper_account)
    assert signal.status == SignalStatus.REJECTED and "margin is insufficient" in signal.reason
    assert not Position.objects.filter(account=paper_account).exists()
    assert Order.objects.get(signal=signal, leg=OrderLeg.ENTRY).status == OrderStatus.REJECTED
    assert book(paper_account)["balance"] == "10000"


@pytest.mark.django_db
def test_the_same_client_order_id_is_found_instead_of_placed_twice(paper_account):
    from trading.exchanges.client import PlacedOrder

    gateway = gateway_for(paper_account)
    order = Order(account=paper_account, symbol="BTC/USDT:USDT", side="buy", quantity=Decimal("0.01"),
                  leg=OrderLeg.ENTRY, client_order_id="p2p-999-entry")

    first = gateway.place(order)
    again = gateway.find_order(order)

    assert isinstance(first, PlacedOrder) and first.filled == Decimal("0.01")
    assert again.exchange_order_id == first.exchange_order_id
    with pytest.raises(Exception, match="duplicated"):
        gateway.api.create_order("BTC/USDT:USDT", "market", "buy", 0.01, None, {"clientOrderId": "p2p-999-entry"})
    assert len(book(paper_account)["trades"]) == 1
