"""The signal webhook: formats, passphrase, duplicates, bad bodies, and every rejection reason."""

import json
from decimal import Decimal

import pytest

from trading.models import AccountStatus, Order, Signal, SignalStatus, TradingAccount, TradingSettings

from .support import last_signal, post_signal


def url(account) -> str:
    return f"/hooks/signals/{account.webhook_token_encrypted}"


@pytest.mark.django_db
def test_octobot_key_value_lines_are_a_signal(client, trader, django_capture_on_commit_callbacks):
    body = (f"PASSPHRASE={trader.webhook_passphrase}\nSYMBOL=BTCUSDT\nSIGNAL=sell\nPRICE=60000\n"
            "STOP_PRICE=61000\nTAKE_PROFIT_PRICE=58000\nLEVERAGE=3\nORDER_TYPE=market\nTAG=octo\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(trader), data=body, content_type="text/plain")

    assert response.status_code == 202
    signal = Signal.objects.get(pk=response.json()["signal_id"])
    assert (signal.action, signal.stop_price, signal.leverage, signal.tag) == ("sell", Decimal("61000"), 3, "octo")
    assert signal.status == SignalStatus.ACCEPTED, signal.reason
    assert "passphrase" not in signal.payload


@pytest.mark.django_db
def test_wrong_passphrase_is_403_and_stores_nothing(client, trader):
    response = client.post(url(trader), data=json.dumps({"passphrase": "nope", "symbol": "BTCUSDT",
                                                         "signal": "buy"}), content_type="application/json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_passphrase"
    assert not Signal.objects.exists()


@pytest.mark.django_db
def test_unknown_token_is_404(client, trader):
    response = client.post("/hooks/signals/not-a-token", data="{}", content_type="application/json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_webhook"


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "status", "code"), [
    ("", 400, "bad_signal"),
    ("{not json", 400, "malformed_json"),
    ("[1, 2]", 400, "bad_signal"),
    ("just words", 400, "bad_signal"),
])
def test_bodies_that_are_not_signals_are_a_clear_4xx(client, trader, body, status, code):
    response = client.post(url(trader), data=body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert not Signal.objects.exists()


@pytest.mark.django_db
def test_invalid_fields_are_listed_and_nothing_is_stored(client, trader):
    body = {"passphrase": trader.webhook_passphrase, "symbol": "", "signal": "hold", "price": "abc",
            "leverage": "0"}
    response = client.post(url(trader), data=json.dumps(body), content_type="application/json")

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "validation_error"
    assert set(error["fields"]) == {"symbol", "signal", "price", "leverage"}
    assert not Signal.objects.exists()


@pytest.mark.django_db
def test_a_repeated_alert_id_is_a_duplicate_and_places_nothing(client, trader, fake_binance,
                                                               django_capture_on_commit_callbacks):
    fields = {"symbol": "BTCUSDT", "signal": "buy", "price": "60000", "stop_price": "59000", "alert_id": "a-1"}
    first = post_signal(client, trader, django_capture_on_commit_callbacks, **fields)
    second = post_signal(client, trader, django_capture_on_commit_callbacks, **{**fields, "price": "60001"})

    assert first.status_code == 202 and second.status_code == 200
    assert second.json() == {"signal_id": first.json()["signal_id"], "status": "accepted", "duplicate": True}
    assert Signal.objects.count() == 1 and Order.objects.filter(leg="entry").count() == 1


@pytest.mark.django_db
def test_the_same_body_within_the_window_is_a_duplicate_but_not_after(client, trader, settings,
                                                                      django_capture_on_commit_callbacks):
    fields = {"symbol": "BTCUSDT", "signal": "close"}
    first = post_signal(client, trader, django_capture_on_commit_callbacks, **fields)
    again = post_signal(client, trader, django_capture_on_commit_callbacks, **fields)
    settings.TRADING_SIGNAL_DUPLICATE_WINDOW_SECONDS = 0
    later = post_signal(client, trader, django_capture_on_commit_callbacks, **fields)

    assert (first.status_code, again.status_code, later.status_code) == (202, 200, 202)
    assert Signal.objects.count() == 2


def _reject(client, trader, captured, **fields) -> str:
    response = post_signal(client, trader, captured, **fields)
    assert response.status_code == 202, response.content
    signal = last_signal(trader)
    signal.refresh_from_db()
    assert signal.status == SignalStatus.REJECTED, signal.reason
    assert not Order.objects.filter(signal=signal).exists()
    return signal.reason


BUY = {"symbol": "BTCUSDT", "signal": "buy", "price": "60000", "stop_price": "59000"}


@pytest.mark.django_db
def test_rejection_no_stop_loss(client, trader, django_capture_on_commit_callbacks):
    reason = _reject(client, trader, django_capture_on_commit_callbacks, symbol="BTCUSDT", signal="buy")
    assert reason.startswith("No stop loss")


@pytest.mark.django_db
def test_rejection_unknown_symbol(client, trader, django_capture_on_commit_callbacks):
    reason = _reject(client, trader, django_capture_on_commit_callbacks, **{**BUY, "symbol": "NOPEUSDT"})
    assert reason.startswith("Unknown symbol NOPEUSDT")


@pytest.mark.django_db
def test_rejection_account_paused(client, trader, django_capture_on_commit_callbacks):
    TradingAccount.objects.filter(pk=trader.pk).update(status=AccountStatus.PAUSED, pause_reason="by hand")
    reason = _reject(client, trader, django_capture_on_commit_callbacks, **BUY)
    assert reason.startswith("Account paused")


@pytest.mark.django_db
def test_rejection_daily_loss_limit_pauses_the_account(client, trader, django_capture_on_commit_callbacks):
    from .factories import PositionFactory

    TradingSettings.objects.filter(user=trader.user).update(daily_loss_limit=Decimal("50"))
    PositionFactory(account=trader, unrealized_pnl=Decimal("-60"))

    reason = _reject(client, trader, django_capture_on_commit_callbacks, **{**BUY, "symbol": "ETHUSDT",
                                                                            "price": "3000", "stop_price": "2900"})

    assert reason.startswith("Daily loss limit reached")
    trader.refresh_from_db()
    assert trader.status == AccountStatus.PAUSED
    assert trader.notifications.filter(kind="account_paused").count() == 1


@pytest.mark.django_db
def test_rejection_leverage_outside_the_bounds(client, trader, django_capture_on_commit_callbacks):
    TradingSettings.objects.filter(user=trader.user).update(min_leverage=60, max_leverage=100)
    reason = _reject(client, trader, django_capture_on_commit_callbacks, **{**BUY, "symbol": "DOGEUSDT",
                                                                            "price": "0.15", "stop_price": "0.14"})
    assert reason.startswith("Leverage outside the bounds")


@pytest.mark.django_db
def test_rejection_size_below_the_market_minimum(client, trader, django_capture_on_commit_callbacks):
    TradingSettings.objects.filter(user=trader.user).update(risk_per_trade=Decimal("0.01"))
    reason = _reject(client, trader, django_capture_on_commit_callbacks, **BUY)
    assert reason.startswith("Size below the market minimum")


@pytest.mark.django_db
def test_rejection_exchange_error_when_the_exchange_is_down(client, trader, fake_binance, settings,
                                                            django_capture_on_commit_callbacks):
    settings.TRADING_EXCHANGE_RETRIES = 2
    fake_binance.stop()
    reason = _reject(client, trader, django_capture_on_commit_callbacks, **BUY)
    assert reason.startswith("Exchange error")
