"""Trading in /metrics (core.metrics): signals accepted/duplicate/rejected, exchange errors, copy-trade
connections and fan-out latency."""

import threading
from types import SimpleNamespace

import ccxt
import pytest

from core.tests.metrics_support import counted
from trading.exchanges.client import ExchangeRefused, ExchangeUnavailable, Gateway

from .support import post_signal


@pytest.mark.django_db
def test_signals_are_counted_by_result_and_rejection_reason(client, trader, local_metrics,
                                                            django_capture_on_commit_callbacks):
    signal = {"symbol": "BTCUSDT", "signal": "buy", "price": "60000", "stop_price": "59000"}
    assert post_signal(client, trader, django_capture_on_commit_callbacks, **signal).status_code == 202
    assert post_signal(client, trader, django_capture_on_commit_callbacks, **signal).status_code == 200  # repeat
    wrong = client.post(f"/hooks/signals/{trader.webhook_token_encrypted}", data='{"passphrase": "nope"}',
                        content_type="application/json")
    unknown = client.post("/hooks/signals/not-a-token", data="{}", content_type="application/json")
    assert (wrong.status_code, unknown.status_code) == (403, 404)

    assert counted("p2p_trading_signals_total") == {
        (("reason", ""), ("result", "accepted")): 1,
        (("reason", ""), ("result", "duplicate")): 1,
        (("reason", "wrong_passphrase"), ("result", "rejected")): 1,
        (("reason", "unknown_webhook"), ("result", "rejected")): 1,
    }


class FlakyApi:
    """A ccxt client whose every call fails as told."""

    def __init__(self, error):
        self.error = error

    def fetch_balance(self):
        raise self.error


def test_exchange_errors_are_counted_per_try_by_exchange_and_kind(settings, local_metrics):
    settings.TRADING_EXCHANGE_RETRIES = 3
    settings.TRADING_EXCHANGE_RETRY_BASE_SECONDS = 0
    exchange = SimpleNamespace(name="Binance", ccxt_id="binanceusdm", pk=1)

    with pytest.raises(ExchangeUnavailable):
        Gateway(FlakyApi(ccxt.NetworkError("timed out")), threading.Lock(), exchange).call("fetch_balance")
    with pytest.raises(ExchangeRefused):
        Gateway(FlakyApi(ccxt.InsufficientFunds("no money")), threading.Lock(), exchange).call("fetch_balance")

    assert counted("p2p_trading_exchange_errors_total") == {
        (("exchange", "binanceusdm"), ("kind", "network")): 3,
        (("exchange", "binanceusdm"), ("kind", "refused")): 1,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copytrade_connections_and_fanout_are_measured(settings, tenant, local_metrics):
    from trading.copytrade.testing import ServerThread

    from .copytrade_support import connected_follower, connected_master, follower_in, master_in, read_until, run
    from .test_copytrade_server import OPEN

    settings.COPYTRADE_HEARTBEAT_SECONDS = 0.2  # the server reports its open connections every loop turn
    master = master_in(tenant)
    follower = follower_in(tenant, master)
    with ServerThread() as server:
        async def scenario():
            ea = await connected_follower(server.port, follower)
            await read_until(ea, "SNAPSHOT:END")
            m = await connected_master(server.port, master)
            assert await m.command(OPEN.format(t=5)) == "OK:OPEN:5:1"
            await read_until(ea, "SIGNAL:")
            open_now = {}
            for _ in range(100):  # the heartbeat loop reports within a turn; bounded wait
                open_now = counted("p2p_copytrade_connections")
                if open_now and list(open_now.values()) == [2]:
                    break
                import asyncio

                await asyncio.sleep(0.05)
            await m.close()
            await ea.close()
            return open_now

        open_now = run(scenario())
        server_id = server.server.server_id

    assert open_now == {(("server", server_id),): 2}
    events = counted("p2p_copytrade_connection_events_total")
    assert events[(("event", "opened"),)] == 2
    fanout = counted("p2p_copytrade_fanout_seconds_count")
    assert fanout == {(): 1}
