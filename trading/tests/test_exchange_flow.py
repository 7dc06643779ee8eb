"""Real ccxt (binanceusdm) against the local fake Binance: placement, retries, and what reconciliation sees."""

from decimal import Decimal

import pytest

from trading.models import (
    CloseReason,
    Fill,
    Notification,
    Order,
    OrderLeg,
    OrderStatus,
    Position,
    PositionStatus,
    SignalStatus,
    SyncLog,
)
from trading.services.reconciliation import reconcile_account

from .support import last_signal, post_signal

KEY = "fake-api-key-0001"


def open_long(client, trader, captured, **extra):
    fields = {"symbol": "BTCUSDT", "signal": "buy", "price": "60000", "stop_price": "59000",
              "take_profit_price": "62000", "leverage": "5", **extra}
    response = post_signal(client, trader, captured, **fields)
    assert response.status_code == 202, response.content
    return last_signal(trader)


@pytest.mark.django_db
def test_markets_precision_and_balance_through_ccxt(trader, fake_binance):
    from trading.exchanges.client import gateway_for

    gateway = gateway_for(trader)
    rules = gateway.market_rules(gateway.resolve_symbol("BINANCE:BTCUSDT.P"))

    assert rules.amount_step == Decimal("0.001") and rules.price_step == Decimal("0.1")
    assert rules.min_amount == Decimal("0.001") and rules.min_notional == Decimal("100")
    assert gateway.equity() == Decimal("10000")
    assert gateway.max_leverage("BTC/USDT:USDT") == 125


@pytest.mark.django_db
def test_markets_and_leverage_ceilings_are_fetched_once_and_not_rebuilt_per_call(trader, fake_binance):
    from trading.exchanges.client import gateway_for, gateway_for_credential
    from trading.selectors import active_credential

    gateway = gateway_for(trader)
    gateway.load_markets()
    assert gateway.max_leverage("BTC/USDT:USDT") == 125
    # Another client on the same exchange (another account's) is given the shared list once, then keeps it.
    other = gateway_for_credential(trader.exchange, active_credential(trader))
    other.load_markets()
    markets = other.api.markets
    other.load_markets()
    assert other.api.markets is markets
    assert other.max_leverage("BTC/USDT:USDT") == 125
    paths = [path for _method, path, _params in fake_binance.requests]
    assert paths.count("/fapi/v1/exchangeInfo") == 1 and paths.count("/fapi/v1/leverageBracket") == 1


@pytest.mark.django_db
def test_margin_mode_is_set_once_per_symbol_and_leverage_again_only_when_it_changes(trader, fake_binance):
    from trading.exchanges.client import gateway_for

    for leverage in (5, 5, 10):
        gateway_for(trader).prepare_market("BTC/USDT:USDT", leverage)

    paths = [path for _method, path, _params in fake_binance.requests]
    assert paths.count("/fapi/v1/marginType") == 1 and paths.count("/fapi/v1/leverage") == 2
    exchange_position = fake_binance.accounts[KEY].positions["BTCUSDT"]
    assert (exchange_position.leverage, exchange_position.margin_type) == (10, "isolated")


@pytest.mark.django_db
def test_a_buy_signal_places_a_risk_sized_entry_with_reduce_only_stop_and_take_profit(
        client, trader, fake_binance, django_capture_on_commit_callbacks):
    signal = open_long(client, trader, django_capture_on_commit_callbacks)

    signal.refresh_from_db()
    assert signal.status == SignalStatus.ACCEPTED, signal.reason
    # 10 000 × 1 % ÷ |60 000 − 59 000| = 0.1 BTC
    entry = Order.objects.get(signal=signal, leg=OrderLeg.ENTRY)
    assert (entry.status, entry.quantity, entry.filled_quantity) == (OrderStatus.FILLED, Decimal("0.1"),
                                                                     Decimal("0.1"))
    assert entry.client_order_id == f"p2p-{signal.pk}-entry"
    stop, take = (Order.objects.get(signal=signal, leg=leg) for leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT))
    assert stop.status == take.status == OrderStatus.OPEN and stop.reduce_only and take.reduce_only
    algo = {o["clientAlgoId"]: o for o in fake_binance.open_algo_orders_of(KEY)}
    assert algo[stop.client_order_id]["orderType"] == "STOP_MARKET" and algo[stop.client_order_id]["reduceOnly"]
    assert algo[take.client_order_id]["orderType"] == "TAKE_PROFIT_MARKET"
    position = Position.objects.get(account=trader, status=PositionStatus.OPEN)
    assert (position.side, position.quantity, position.leverage) == ("long", Decimal("0.1"), 5)
    exchange_position = fake_binance.accounts[KEY].positions["BTCUSDT"]
    assert (exchange_position.leverage, exchange_position.margin_type) == (5, "isolated")
    assert SyncLog.objects.filter(account=trader, trigger="after_placement").count() == 1
    assert Fill.objects.filter(account=trader, order=entry).count() == 1, SyncLog.objects.get(account=trader).details
    assert set(Notification.objects.filter(account=trader).values_list("kind", flat=True)) == {
        "signal_accepted", "order_filled"}


@pytest.mark.django_db
def test_the_pass_after_a_fully_answered_placement_only_fetches_that_symbols_fills(
        client, trader, fake_binance, django_capture_on_commit_callbacks):
    signal = open_long(client, trader, django_capture_on_commit_callbacks)

    paths = [path for _method, path, _params in fake_binance.requests]
    log = SyncLog.objects.get(account=trader, trigger="after_placement")
    assert log.ok and log.details["found"]["scope"] == f"placement of signal {signal.pk}"
    assert paths.count("/fapi/v1/userTrades") == 1
    assert {"/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders", "/fapi/v3/positionRisk"}.isdisjoint(paths)
    entry = Order.objects.get(signal=signal, leg=OrderLeg.ENTRY)
    assert entry.fills.get().fee > 0


@pytest.mark.django_db
def test_the_pass_after_a_placement_with_an_order_left_pending_is_a_full_pass(trader, fake_binance):
    from trading.tests.factories import SignalFactory

    signal = SignalFactory(account=trader, user=trader.user, symbol="BTCUSDT", status=SignalStatus.ACCEPTED)
    Order.objects.create(account=trader, user=trader.user, signal=signal, leg=OrderLeg.ENTRY, symbol="BTC/USDT:USDT",
                         side="buy", type="market", quantity=Decimal("0.1"), client_order_id=f"p2p-{signal.pk}-entry",
                         tenant_id=trader.tenant_id)

    log = reconcile_account(account_id=trader.pk, trigger="after_placement", signal_id=signal.pk)

    assert "scope" not in log.details["found"] and "open_orders" in log.details["found"]
    assert "/fapi/v1/openOrders" in [path for _method, path, _params in fake_binance.requests]


@pytest.mark.django_db
def test_a_lost_answer_is_retried_without_placing_twice(client, trader, fake_binance,
                                                        django_capture_on_commit_callbacks):
    fake_binance.lose_answers("/fapi/v1/order", 1)

    signal = open_long(client, trader, django_capture_on_commit_callbacks)

    signal.refresh_from_db()
    assert signal.status == SignalStatus.ACCEPTED, signal.reason
    assert len(fake_binance.orders_with_client_id(KEY, f"p2p-{signal.pk}-entry")) == 1
    assert fake_binance.accounts[KEY].positions["BTCUSDT"].amount == Decimal("0.1")
    posts = [r for r in fake_binance.requests if r[:2] == ("POST", "/fapi/v1/order")]
    assert len(posts) == 1  # the retry asked for the order by its client id instead of posting again
    assert Order.objects.get(signal=signal, leg=OrderLeg.ENTRY).attempts == 1


@pytest.mark.django_db
def test_a_stop_that_fills_on_the_exchange_closes_the_position_at_the_next_sync(
        client, trader, fake_binance, django_capture_on_commit_callbacks):
    signal = open_long(client, trader, django_capture_on_commit_callbacks)

    fake_binance.set_price("BTCUSDT", "58900")
    log = reconcile_account(account_id=trader.pk)

    position = Position.objects.get(signal=signal)
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.STOP_LOSS)
    assert position.close_price == Decimal("59000")
    # loss at the stop ≈ the 1 % risked (100 USDT) plus fees
    assert Decimal("-105") < position.realized_pnl < Decimal("-100")
    take = Order.objects.get(signal=signal, leg=OrderLeg.TAKE_PROFIT)
    assert take.status == OrderStatus.CANCELLED and fake_binance.open_algo_orders_of(KEY) == []
    assert log.ok and log.changes >= 2
    assert Notification.objects.filter(account=trader, kind="position_closed").count() == 1
    again = reconcile_account(account_id=trader.pk)
    assert again.changes == 0, again.details  # nothing applied twice


@pytest.mark.django_db
def test_a_liquidation_on_the_exchange_is_seen_by_reconciliation(client, trader, fake_binance,
                                                                 django_capture_on_commit_callbacks):
    signal = open_long(client, trader, django_capture_on_commit_callbacks, stop_price="50000",
                       take_profit_price="70000", leverage="10")
    assert Position.objects.get(signal=signal).leverage == 10

    fake_binance.set_price("BTCUSDT", "40000")  # below the isolated liquidation price (~54 240), above the stop
    reconcile_account(account_id=trader.pk)

    position = Position.objects.get(signal=signal)
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.LIQUIDATION)
    assert position.realized_pnl < 0


@pytest.mark.django_db
def test_a_manual_close_on_the_exchange_is_seen_and_its_orders_cancelled(client, trader, fake_binance,
                                                                         django_capture_on_commit_callbacks):
    signal = open_long(client, trader, django_capture_on_commit_callbacks)

    fake_binance.set_price("BTCUSDT", "61000")
    fake_binance.close_position_manually(KEY, "BTCUSDT")
    log = reconcile_account(account_id=trader.pk)

    position = Position.objects.get(signal=signal)
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.EXCHANGE)
    assert position.close_price == Decimal("61000") and position.realized_pnl > Decimal("90")
    assert fake_binance.open_algo_orders_of(KEY) == []
    assert any("closed on the exchange" in change for change in log.details["changed"])


@pytest.mark.django_db
def test_an_orphan_order_is_recorded_once(trader, fake_binance):
    placed = fake_binance.place_external_order(KEY, "ETHUSDT")

    first = reconcile_account(account_id=trader.pk)
    second = reconcile_account(account_id=trader.pk)

    orphan = Order.objects.get(account=trader, leg=OrderLeg.EXTERNAL)
    assert orphan.client_order_id == placed["clientOrderId"] and orphan.status == OrderStatus.OPEN
    assert first.details["found"]["orphan_orders"] == [placed["clientOrderId"]]
    assert second.changes == 0


@pytest.mark.django_db
def test_a_close_signal_closes_reduce_only_and_cancels_stop_and_take_profit(
        client, trader, fake_binance, django_capture_on_commit_callbacks):
    open_long(client, trader, django_capture_on_commit_callbacks)
    fake_binance.set_price("BTCUSDT", "60500")

    response = post_signal(client, trader, django_capture_on_commit_callbacks, symbol="BTCUSDT", signal="close")

    assert response.status_code == 202
    close = last_signal(trader)
    close.refresh_from_db()
    assert close.status == SignalStatus.ACCEPTED, close.reason
    order = Order.objects.get(signal=close, leg=OrderLeg.CLOSE)
    assert order.reduce_only and order.status == OrderStatus.FILLED
    position = Position.objects.get(account=trader)
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.SIGNAL)
    assert position.realized_pnl > Decimal("40")
    assert fake_binance.open_algo_orders_of(KEY) == []
    assert fake_binance.accounts[KEY].positions["BTCUSDT"].amount == 0


@pytest.mark.django_db
def test_an_exchange_error_lands_on_the_order_and_the_signal(client, trader, fake_binance,
                                                             django_capture_on_commit_callbacks):
    from trading.exchanges.client import gateway_for

    gateway_for(trader).load_markets()  # the platform caches the 0.001 step …
    fake_binance.markets["BTCUSDT"].step_size = Decimal("0.01")  # … the exchange now wants 0.01 steps

    signal = open_long(client, trader, django_capture_on_commit_callbacks, stop_price="59993")

    signal.refresh_from_db()
    assert signal.status == SignalStatus.REJECTED
    assert signal.reason.startswith("Exchange error:") and "Precision" in signal.reason
    entry = Order.objects.get(signal=signal, leg=OrderLeg.ENTRY)
    assert entry.status == OrderStatus.REJECTED and "Precision" in entry.error
