"""`manage.py seed_demo`'s trading part: a paper account with open positions, a closed trade and a sync log,
made through the real pipeline; idempotent; its printed webhook URL takes a TradingView-style POST."""

import io
import json
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from trading.exchanges.client import reset_clients
from trading.models import (
    ExchangeKind,
    Order,
    OrderLeg,
    OrderStatus,
    Position,
    PositionStatus,
    Signal,
    SignalStatus,
    SyncLog,
    TradingAccount,
)


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_trades_on_the_paper_exchange_and_prints_a_working_webhook(client,
                                                                           django_capture_on_commit_callbacks):
    reset_clients()
    first = seed()
    tenant = Tenant.objects.get(name="Demo Operator")
    with tenant_context(tenant):
        signals_after_first = Signal.objects.filter(account__user__email="signals@demo.local").count()
    second = seed()

    with tenant_context(tenant):
        account = TradingAccount.objects.get(user__email="signals@demo.local")
        assert account.exchange.kind == ExchangeKind.PAPER
        # 4 signals, or 5 when the price series is flat at the hour the demo runs and the trade is closed by a
        # close signal instead of its take-profit; the second run adds none
        assert Signal.objects.filter(account=account).count() == signals_after_first in (4, 5)
        assert Position.objects.filter(account=account, status=PositionStatus.OPEN).count() == 2
        closed = Position.objects.get(account=account, status=PositionStatus.CLOSED)
        assert closed.close_reason in ("take_profit", "signal") and closed.realized_pnl != 0
        assert Signal.objects.filter(account=account, status=SignalStatus.REJECTED,
                                     reason__startswith="No stop loss").exists()
        assert SyncLog.objects.filter(account=account, ok=True, changes__gt=0).exists()
    assert "signals@demo.local" in first and "signals@demo.local" in second
    url = re.search(r"webhook URL\s+(\S+)", second).group(1)
    assert url == re.search(r"webhook URL\s+(\S+)", first).group(1)  # the same URL every run
    body = json.loads(re.search(r"-d '(\{.*\})'", second).group(1))

    # when: the printed curl line's body is posted to the printed URL, as TradingView would
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(urlsplit(url).path, data=json.dumps(body),
                               content_type="application/json")

    # then: an order on the paper exchange, sized from risk, and an open ETH position
    assert response.status_code == 202, response.content
    with tenant_context(tenant):
        signal = Signal.objects.get(pk=response.json()["signal_id"])
        assert signal.status == SignalStatus.ACCEPTED, signal.reason
        entry = Order.objects.get(signal=signal, leg=OrderLeg.ENTRY)
        assert entry.status == OrderStatus.FILLED and entry.filled_quantity > 0
        assert Position.objects.filter(account=account, symbol="ETH/USDT:USDT", status=PositionStatus.OPEN).exists()
