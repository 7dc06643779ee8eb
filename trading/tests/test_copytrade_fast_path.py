"""The fast path of the copy-trade hot path writes exactly what the plain path writes."""

from decimal import Decimal

import pytest

from trading.copytrade import services
from trading.copytrade.protocol import Ack, parse_line
from trading.models import CopyDelivery, CopySettings

from .factories import MasterAccountFactory, TradingAccountFactory

pytestmark = pytest.mark.postgres  # the fast path is PostgreSQL's

FIELDS = ("follower_id", "kind", "symbol", "side", "lots", "price", "stop_loss", "take_profit", "ratio", "status",
          "reason", "follower_ticket")


def _run(settings, *, fast: bool, ticket: int, master, followers) -> list[tuple]:
    settings.COPYTRADE_SQL_FAST_PATH = fast
    identity = services.Identity(master.pk, master.tenant_id, "master", master.name, "")
    result = services.record_master_event(identity, parse_line(f"OPEN:{ticket}:EURUSD:SELL:0.30:1.1:1.2:1.0"))
    first = result.deliveries[0]
    services.store_answers([services.Answer(first.follower_id, master.tenant_id, Ack(first.seq, 555))])
    rows = CopyDelivery.objects.filter(master_trade__ticket=ticket).order_by("seq")
    assert [d.seq for d in result.deliveries] == [r.seq for r in rows if r.status != "skipped"]
    return [tuple(getattr(r, f) for f in FIELDS) for r in rows]


def test_fast_and_plain_paths_write_the_same_rows(in_tenant, settings):
    master = MasterAccountFactory()
    followers = [TradingAccountFactory(following=master) for _ in range(4)]
    CopySettings.objects.create(account=followers[1], reverse=True, lot_value=Decimal("2"), symbol_suffix=".x")
    CopySettings.objects.create(account=followers[2], lot_mode="fixed", lot_value=Decimal("0.001"))  # skipped

    fast = _run(settings, fast=True, ticket=1, master=master, followers=followers)
    plain = _run(settings, fast=False, ticket=2, master=master, followers=followers)

    assert fast == plain
    assert [row[-3] for row in fast].count("skipped") == 1 and fast[0][-3] == "acked" and fast[0][-1] == 555


@pytest.mark.django_db
def test_the_demo_seeds_a_master_two_followers_and_a_history_once():
    from io import StringIO

    from django.core.management import call_command

    from tenancy.scoping import dangerously_bypass_tenant_scope
    from trading.models import CopiedTrade, MasterTrade, TradingAccount

    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)  # again: nothing doubled
    with dangerously_bypass_tenant_scope():
        master = TradingAccount.objects.get(name="Gold Master")
        assert master.followers.count() == 2
        assert MasterTrade.objects.filter(master=master).count() == 6
        assert CopiedTrade.objects.filter(master_trade__master=master).count() == 12
    assert "master   key sk_live_" in out.getvalue()


@pytest.mark.django_db
def test_array_literals_read_back_as_the_values_they_carry():
    """The fast path sends each column as one text array: quotes, backslashes, commas, braces, NULLs,
    decimals and aware datetimes must come back exactly."""
    from datetime import UTC, datetime

    from django.db import connection

    from trading.copytrade.fast_insert import array_literal

    texts = ['say "hi"', "back\\slash", "a,b", "{braces}", "", None, "NULL", "ünï"]
    numbers = [Decimal("0.10"), Decimal("1E+2"), None, Decimal("-3.5")]
    times = [datetime(2026, 12, 7, 2, 30, 1, 123456, tzinfo=UTC), None]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::varchar[], %s::numeric[], %s::timestamptz[]",
                       [array_literal(texts), array_literal(numbers), array_literal(times)])
        assert cursor.fetchone() == (texts, numbers, times)
