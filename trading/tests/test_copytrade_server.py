"""The copy-trade server on real sockets on 127.0.0.1, with PostgreSQL and Redis.

The server runs in a thread of the test process (its own event loop and database connections), so the
tests commit (transactional database) and every assertion on rows reads what the server wrote.
"""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tenancy.scoping import dangerously_bypass_tenant_scope, tenant_context
from trading.copytrade.protocol import parse_signal
from trading.copytrade.testing import ServerThread
from trading.models import (
    CopiedTrade,
    CopiedTradeStatus,
    CopyDelivery,
    DeliveryStatus,
    EAConnection,
    LotMode,
    MasterTrade,
    Notification,
    NotificationKind,
    TradingAccount,
)
from trading.services.accounts import rotate_api_key

from .copytrade_support import connected_follower, connected_master, follower_in, key_of, master_in, read_until, silent
from .copytrade_support import run as run_async
from .factories import TradingAccountFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OPEN = "OPEN:{t}:EURUSD:BUY:0.20:1.08500:1.08000:1.09500"


@pytest.fixture
def server(settings):
    settings.COPYTRADE_RESEND_SECONDS = 30  # live paths are tested on their own; the resend test lowers it
    with ServerThread() as running:
        yield running


def deliveries(**filters) -> list[CopyDelivery]:
    with dangerously_bypass_tenant_scope():
        return list(CopyDelivery.objects.filter(**filters).order_by("seq"))


def wait_for(predicate, timeout: float = 5.0):
    """Poll the database until `predicate()` is truthy (a correctness deadline, not a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with dangerously_bypass_tenant_scope():
            value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


async def answers_stored(follower) -> None:
    """Wait until the server has written every answer of `follower` (answers are stored in batches)."""
    from trading.models import CopyDelivery

    stored = await asyncio.to_thread(wait_for, lambda: not CopyDelivery.objects.filter(
        follower_id=follower.pk, status="pending").exists(), 20.0)
    assert stored, "the follower's answers were not stored"


# --- authentication -------------------------------------------------------------------------------------------

def test_a_line_before_auth_closes_the_connection(server):
    async def scenario():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"OPEN:1:EURUSD:BUY:1:1:0:0\n")
        assert (await asyncio.wait_for(reader.readline(), 5)) == b"ERR:AUTH:AUTH:<api_key> must come first\n"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    run_async(scenario())


def test_auth_answers_account_and_role_and_refuses_a_wrong_key(server, tenant):
    master = master_in(tenant)
    from trading.copytrade.simulator import EAClient

    async def scenario():
        ok = EAClient("127.0.0.1", server.port, key_of(master))
        assert await ok.connect() == f"OK:AUTH:{master.pk}:master"
        await ok.send("PING")
        assert (await ok.read()).startswith("PONG:")
        wrong = EAClient("127.0.0.1", server.port, key_of(master)[:-2] + "zz")
        assert await wrong.connect() == "ERR:AUTH:invalid api key"
        with pytest.raises(ConnectionError):
            await wrong.read(timeout=2)
        await ok.close()

    run_async(scenario())


def test_auth_timeout_closes_the_connection(settings, tenant):
    settings.COPYTRADE_AUTH_TIMEOUT_SECONDS = 0.3
    with ServerThread() as server:
        async def scenario():
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            line = await asyncio.wait_for(reader.readline(), 5)
            assert line.startswith(b"ERR:AUTH:timeout")
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
            writer.close()

        run_async(scenario())


def test_a_rotated_key_is_cut_off_at_once_and_refused_after(server, tenant):
    follower = follower_in(tenant, master_in(tenant))
    old_key = key_of(follower)

    async def scenario():
        ea = await connected_follower(server.port, follower)
        await read_until(ea, "SNAPSHOT:END")
        await asyncio.to_thread(_rotate, follower)
        assert (await ea.read(timeout=3)).startswith("ERR:AUTH:revoked")
        with pytest.raises(ConnectionError):
            await ea.read(timeout=3)
        from trading.copytrade.simulator import EAClient

        again = EAClient("127.0.0.1", server.port, old_key)
        assert await again.connect() == "ERR:AUTH:invalid api key"

    run_async(scenario())


def _rotate(account):
    with tenant_context(account.tenant_id):
        rotate_api_key(actor=None, account=account)


def _deactivate(account):
    with tenant_context(account.tenant_id):
        account.is_active = False
        account.save(update_fields=["is_active", "updated_at"])


def test_a_deactivated_account_is_cut_off_and_an_inactive_one_cannot_connect(server, tenant):
    follower = follower_in(tenant, master_in(tenant))

    async def scenario():
        ea = await connected_follower(server.port, follower)
        await read_until(ea, "SNAPSHOT:END")
        await asyncio.to_thread(_deactivate, follower)
        assert (await ea.read(timeout=3)).startswith("ERR:AUTH:revoked")
        from trading.copytrade.simulator import EAClient

        assert await EAClient("127.0.0.1", server.port, key_of(follower)).connect() == "ERR:AUTH:account is inactive"

    run_async(scenario())


def test_silence_for_three_heartbeats_closes_the_connection(settings, tenant):
    settings.COPYTRADE_HEARTBEAT_SECONDS = 0.2
    master = master_in(tenant)
    with ServerThread() as server:
        async def scenario():
            ea = await connected_master(server.port, master)
            assert (await ea.read(timeout=5)) == "ERR:TIMEOUT:no heartbeat for three intervals"
            with pytest.raises(ConnectionError):
                await ea.read(timeout=3)

        run_async(scenario())


# --- routing ---------------------------------------------------------------------------------------------------

def test_pubsub_reaches_every_active_follower_and_nobody_else(server, tenant):
    master = master_in(tenant)
    followers = [follower_in(tenant, master) for _ in range(2)]
    inactive = follower_in(tenant, master)
    with tenant_context(tenant):
        TradingAccount.objects.filter(pk=inactive.pk).update(is_active=False)
    stranger = follower_in(tenant, master_in(tenant))

    async def scenario():
        eas = [await connected_follower(server.port, f) for f in followers]
        other = await connected_follower(server.port, stranger)
        for ea in [*eas, other]:
            await read_until(ea, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        assert await m.command(OPEN.format(t=11)) == "OK:OPEN:11:2"
        for ea in eas:
            signal = parse_signal(await read_until(ea, "SIGNAL:"))
            assert (signal.kind, signal.master_ticket, signal.symbol, signal.side, signal.lots) == (
                "OPEN", 11, "EURUSD", "BUY", Decimal("0.2"))
        assert await silent(other) == []

    run_async(scenario())
    assert {d.follower_id for d in deliveries()} == {f.pk for f in followers}


def test_1to1_reaches_the_partner_only_and_record_reaches_nobody(server, tenant):
    master = master_in(tenant)
    partner = follower_in(tenant, None)
    plain_follower = follower_in(tenant, master)
    with tenant_context(tenant):
        TradingAccount.objects.filter(pk=master.pk).update(copy_mode="1TO1", partner=partner)

    async def scenario():
        p = await connected_follower(server.port, partner)
        f = await connected_follower(server.port, plain_follower)
        for ea in (p, f):
            await read_until(ea, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        assert await m.command(OPEN.format(t=21)) == "OK:OPEN:21:1"
        assert parse_signal(await read_until(p, "SIGNAL:")).master_ticket == 21
        assert await silent(f) == []
        await asyncio.to_thread(_set_mode, master, "RECORD")
        assert await m.command(OPEN.format(t=22)) == "OK:OPEN:22:0"
        assert await silent(p) == [] and await silent(f) == []

    run_async(scenario())
    with dangerously_bypass_tenant_scope():
        assert set(MasterTrade.objects.values_list("ticket", flat=True)) == {21, 22}  # RECORD still stores
    assert [d.follower_id for d in deliveries()] == [partner.pk]


def _set_mode(master, mode):
    with tenant_context(master.tenant_id):
        TradingAccount.objects.filter(pk=master.pk).update(copy_mode=mode)


def test_the_follower_options_shape_what_it_receives(server, tenant):
    master = master_in(tenant)
    mapped = follower_in(tenant, master, options={"lot_mode": LotMode.MULTIPLIER, "lot_value": Decimal("0.5"),
                                                  "symbol_suffix": ".m", "reverse": True})
    ratio = follower_in(tenant, master, options={"lot_mode": LotMode.EQUITY_RATIO, "symbol_map": {"EURUSD": "EU50"}})
    blocked = follower_in(tenant, master, options={"blocked_symbols": ["EURUSD"]})

    async def scenario():
        a = await connected_follower(server.port, mapped)
        b = await connected_follower(server.port, ratio)
        c = await connected_follower(server.port, blocked)
        for ea in (a, b, c):
            await read_until(ea, "SNAPSHOT:END")
        await b.send("PING:2000:2500")
        await read_until(b, "PONG:")
        m = await connected_master(server.port, master)
        await m.send("PING:10000:10000")
        await read_until(m, "PONG:")
        await asyncio.sleep(1.5)  # heartbeats are written in batches every second
        await m.command(OPEN.format(t=31))
        first = parse_signal(await read_until(a, "SIGNAL:"))
        assert (first.symbol, first.side, first.lots, first.stop_loss, first.take_profit) == (
            "EURUSD.m", "SELL", Decimal("0.1"), Decimal("1.095"), Decimal("1.08"))
        second = parse_signal(await read_until(b, "SIGNAL:"))
        assert (second.symbol, second.side, second.lots) == ("EU50", "BUY", Decimal("0.05"))  # 0.2 × 2500/10000
        assert await silent(c) == []

    run_async(scenario())


# --- acknowledgements, pairs, notifications -----------------------------------------------------------------------

async def opened_then_half_closed(server, master, follower, *, ticket: int):
    """The master opens `ticket`, the follower applies it, the master closes half: the half close as sent."""
    f = await connected_follower(server.port, follower)
    await read_until(f, "SNAPSHOT:END")
    m = await connected_master(server.port, master)
    await m.command(OPEN.format(t=ticket))
    opened = parse_signal(await read_until(f, "SIGNAL:"))
    await f.send(f.apply(opened))
    await answers_stored(follower)
    await m.command(f"CLOSE:{ticket}:EURUSD:BUY:0.10:1.09:20:0.5")
    return f, m, opened, parse_signal(await read_until(f, "SIGNAL:"))


def test_ack_pairs_the_tickets_and_a_close_adds_up_the_profit(server, tenant):
    master = master_in(tenant)
    follower = follower_in(tenant, master)

    async def scenario():
        f, m, opened, half = await opened_then_half_closed(server, master, follower, ticket=41)
        assert (half.kind, half.ratio, half.lots, half.follower_ticket) == (
            "CLOSE", Decimal("0.5"), Decimal("0.1"), f.applied[opened.seq])
        await f.send(f.apply(half))
        await m.command("CLOSE:41:EURUSD:BUY:0.10:1.09:20:0.5")  # the master re-sends: not a second close
        await m.command("CLOSE:41:EURUSD:BUY:0.10:1.095:25:1")
        rest = parse_signal(await read_until(f, "SIGNAL:"))
        assert (rest.ratio, rest.lots) == (Decimal("1"), Decimal("0.1"))
        await f.send(f.apply(rest))
        assert await silent(f) == []
        return f.applied[opened.seq]

    ticket = run_async(scenario())
    pair = wait_for(lambda: CopiedTrade.objects.filter(status=CopiedTradeStatus.CLOSED).first())
    assert pair.follower_ticket == ticket and pair.profit == Decimal("30")  # 15 + 15 from the simulator
    with dangerously_bypass_tenant_scope():
        trade = MasterTrade.objects.get(ticket=41)
        assert (trade.status, trade.profit, trade.lots) == ("closed", Decimal("45"), 0)
        notices = list(Notification.objects.filter(kind=NotificationKind.TRADE_COPIED))
    assert len(notices) == 1 and notices[0].user_id == follower.user_id and str(ticket) in notices[0].text



def test_a_close_counts_the_earlier_close_the_follower_has_not_answered_yet(server, tenant):
    """The master closes half, then the rest, before the follower's EA answered the half: the rest is the
    0.1 lots its ticket will have left, not the 0.2 it had (MetaTrader refuses to close more than is open)."""
    master = master_in(tenant)
    follower = follower_in(tenant, master)

    async def scenario():
        f, m, _opened, half = await opened_then_half_closed(server, master, follower, ticket=42)
        await m.command("CLOSE:42:EURUSD:BUY:0.10:1.095:25:1")
        rest = parse_signal(await read_until(f, "SIGNAL:"))
        await f.send(f.apply(half))
        await f.send(f.apply(rest))
        await answers_stored(follower)
        return half, rest

    half, rest = run_async(scenario())
    assert (half.lots, rest.lots, rest.ratio) == (Decimal("0.1"), Decimal("0.1"), Decimal("1"))
    pair = wait_for(lambda: CopiedTrade.objects.filter(status=CopiedTradeStatus.CLOSED).first())
    assert pair.lots == 0

def test_a_nack_is_stored_with_its_reason_and_another_accounts_seq_changes_nothing(server, tenant):
    master = master_in(tenant)
    follower, other = follower_in(tenant, master), follower_in(tenant, master)

    async def scenario():
        f = await connected_follower(server.port, follower, refuse_symbols={"EURUSD"})
        o = await connected_follower(server.port, other)
        for ea in (f, o):
            await read_until(ea, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        await m.command(OPEN.format(t=51))
        mine = parse_signal(await read_until(f, "SIGNAL:"))
        theirs = parse_signal(await read_until(o, "SIGNAL:"))
        await f.send(f.apply(mine))
        await f.send(f"ACK:{theirs.seq}:777")
        assert (await read_until(f, "ERR:")).startswith("ERR:NOT_FOUND:")
        return theirs.seq

    their_seq = run_async(scenario())
    assert wait_for(lambda: CopyDelivery.objects.filter(status=DeliveryStatus.NACKED).exists())
    (theirs,) = deliveries(seq=their_seq)
    assert theirs.status == DeliveryStatus.PENDING and theirs.follower_ticket is None
    with dangerously_bypass_tenant_scope():
        assert CopiedTrade.objects.get(follower_id=follower.pk).status == CopiedTradeStatus.FAILED


# --- malformed input -------------------------------------------------------------------------------------------

def test_malformed_and_oversized_lines_get_errors_and_the_connection_stays_up_to_the_limit(settings, tenant):
    settings.COPYTRADE_MAX_LINE_BYTES = 64
    settings.COPYTRADE_MAX_ERRORS = 4
    master = master_in(tenant)
    with ServerThread() as server:
        async def scenario():
            m = await connected_master(server.port, master)
            await m.send("X" * 500)
            assert await m.read() == "ERR:LINE_TOO_LONG:lines are at most 64 bytes"
            m.writer.write(b"\xff\xfe\n")
            assert await m.read() == "ERR:BAD_LINE:lines are UTF-8"
            await m.send("ACK:1:2")
            assert (await m.read()).startswith("ERR:ROLE:")
            await m.send("PING")
            assert (await m.read()).startswith("PONG:")  # still served
            await m.send("OPEN:1")
            assert (await m.read()).startswith("ERR:BAD_FIELD:")
            assert await m.read() == "ERR:TOO_MANY_ERRORS:closing the connection"
            with pytest.raises(ConnectionError):
                await m.read(timeout=3)

        run_async(scenario())


@pytest.fixture
def fuzz_world(settings, tenant, other_tenant):
    """A follower in tenant A to fuzz with, and a master in tenant B whose trade A must never see."""
    settings.COPYTRADE_MAX_ERRORS = 1000
    secret_master = master_in(other_tenant)
    follower_in(other_tenant, secret_master)
    target = follower_in(tenant, master_in(tenant))
    with ServerThread() as server:
        async def seed():
            m = await connected_master(server.port, secret_master)
            await m.command("OPEN:424242:SECRETSYM:BUY:1:2:0:0")
            await m.close()

        run_async(seed())
        yield server, target


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(
    st.text(max_size=80).map(lambda s: s.replace("\n", " ")),
    st.sampled_from(["ACK", "NACK", "OPEN", "CLOSE", "MODIFY", "PING", "AUTH", "SIGNAL"]).flatmap(
        lambda verb: st.lists(st.text(alphabet="0123456789.-:abcXYZ", max_size=8), max_size=9).map(
            lambda parts: ":".join([verb, *parts])))), min_size=1, max_size=8))
def test_no_input_crashes_the_server_or_shows_another_accounts_data(fuzz_world, lines):
    server, target = fuzz_world

    async def scenario():
        ea = await connected_follower(server.port, target)
        for line in lines:
            ea.writer.write(line.encode("utf-8", "surrogatepass") + b"\n")
        await ea.send("PING")
        answers = [await ea.read(timeout=5)]
        while not answers[-1].startswith("PONG:"):
            answers.append(await ea.read(timeout=5))
        await ea.close()
        return answers

    answers = run_async(scenario())
    assert all(a.startswith(("ERR:", "PONG:", "SNAPSHOT:", "OK:AUTH:")) for a in answers), answers
    assert not any("SECRETSYM" in a or "424242" in a for a in answers)


# --- nothing missed ----------------------------------------------------------------------------------------------

def test_reconnect_catches_up_in_order_with_no_trade_applied_twice(server, tenant):
    master = master_in(tenant)
    follower = follower_in(tenant, master)
    from trading.copytrade.simulator import FollowerEA

    async def scenario():
        ea = await connected_follower(server.port, follower)
        await read_until(ea, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        await m.command(OPEN.format(t=61))
        first = parse_signal(await read_until(ea, "SIGNAL:"))
        ea.apply(first)  # traded, but the connection drops before its ACK goes out
        await ea.close()
        await m.command("MODIFY:61:EURUSD:BUY:0.20:1.08500:1.08300:1.09500")
        await m.command(OPEN.format(t=62))
        back = FollowerEA("127.0.0.1", server.port, key_of(follower), applied=ea.applied, positions=ea.positions)
        assert (await back.connect()).startswith("OK:AUTH:")
        caught = []
        while True:
            line = await back.read()
            if line.startswith("SIGNAL:"):
                caught.append(parse_signal(line))
                await back.send(back.apply(caught[-1]))
            if line == "SNAPSHOT:END":
                break
        assert [(s.kind, s.master_ticket) for s in caught] == [("OPEN", 61), ("MODIFY", 61), ("OPEN", 62)]
        assert [s.seq for s in caught] == sorted(s.seq for s in caught) and caught[0].seq == first.seq
        assert back.duplicates == 1 and len(back.positions) == 2  # the re-sent OPEN was not traded again
        await answers_stored(follower)
        await back.close()
        third = await connected_follower(server.port, follower)
        snapshot = [line for line in await silent(third, 0.5) if line.startswith("SIGNAL:")]
        assert snapshot == []  # all acknowledged: nothing is sent again

    run_async(scenario())
    assert wait_for(lambda: CopyDelivery.objects.filter(status="acked").count() == 3)


def test_an_open_older_than_the_maximum_delay_is_skipped_with_a_reason(server, tenant):
    master = master_in(tenant)
    follower = follower_in(tenant, master, options={"max_delay_seconds": 5})

    async def scenario():
        m = await connected_master(server.port, master)
        await m.command(OPEN.format(t=71))
        await m.command(OPEN.format(t=72))

    run_async(scenario())
    with dangerously_bypass_tenant_scope():
        MasterTrade.objects.filter(ticket=71).update(opened_at=timezone.now() - timedelta(seconds=60))

    async def reconnect():
        ea = await connected_follower(server.port, follower)
        lines = await silent(ea, 0.5)
        return [parse_signal(line).master_ticket for line in lines if line.startswith("SIGNAL:")]

    assert run_async(reconnect()) == [72]
    (stale,) = deliveries(master_trade__ticket=71)
    assert stale.status == DeliveryStatus.SKIPPED and "maximum signal delay" in stale.reason


def test_restart_keeps_the_pairs_and_the_close_reaches_the_paired_ticket(settings, tenant):
    settings.COPYTRADE_RESEND_SECONDS = 30
    master = master_in(tenant)
    follower = follower_in(tenant, master)
    with ServerThread() as first:
        async def before():
            f = await connected_follower(first.port, follower)
            await read_until(f, "SNAPSHOT:END")
            m = await connected_master(first.port, master)
            await m.command(OPEN.format(t=81))
            signal = parse_signal(await read_until(f, "SIGNAL:"))
            await f.send(f.apply(signal))
            await answers_stored(follower)
            return f.applied[signal.seq]

        ticket = run_async(before())
    with ServerThread() as second:
        async def after():
            f = await connected_follower(second.port, follower)
            lines = []
            while (line := await f.read()) != "SNAPSHOT:END":
                lines.append(line)
            assert lines == ["SNAPSHOT:BEGIN:1", f"SNAPSHOT:TRADE:81:{ticket}:EURUSD:BUY:0.2:1.085:1.08:1.095"]
            m = await connected_master(second.port, master)
            await m.command("CLOSE:81:EURUSD:BUY:0.20:1.09:30:1")
            close = parse_signal(await read_until(f, "SIGNAL:"))
            assert (close.kind, close.follower_ticket) == ("CLOSE", ticket)

        run_async(after())


def test_cross_tenant_followers_get_nothing(server, tenant, other_tenant):
    master = master_in(tenant)
    intruder = follower_in(other_tenant, None)
    with dangerously_bypass_tenant_scope():  # a forged link across tenants, as a bug or an attacker might make
        TradingAccount.objects.filter(pk=intruder.pk).update(following_id=master.pk)
    own = follower_in(tenant, master)

    async def scenario():
        i = await connected_follower(server.port, intruder)
        o = await connected_follower(server.port, own)
        snapshot = [line async for line in _until_end(i)]
        assert snapshot == ["SNAPSHOT:BEGIN:0"]
        await read_until(o, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        assert await m.command(OPEN.format(t=91)) == "OK:OPEN:91:1"
        await read_until(o, "SIGNAL:")
        assert await silent(i) == []

    run_async(scenario())
    assert [d.follower_id for d in deliveries()] == [own.pk]


async def _until_end(ea):
    while (line := await ea.read()) != "SNAPSHOT:END":
        yield line


def test_connection_state_and_heartbeats_are_stored(server, tenant):
    follower = follower_in(tenant, master_in(tenant))

    async def scenario():
        f = await connected_follower(server.port, follower)
        await f.send("PING:1234.5:1200.25")
        await read_until(f, "PONG:")
        await asyncio.sleep(1.3)
        await f.close()

    run_async(scenario())
    state = wait_for(lambda: EAConnection.objects.filter(account_id=follower.pk, connected=False).first())
    assert (state.balance, state.equity) == (Decimal("1234.5"), Decimal("1200.25"))


def test_two_servers_fan_out_through_redis(settings, tenant):
    settings.COPYTRADE_RESEND_SECONDS = 60  # so only Redis can carry the signal in time
    master = master_in(tenant)
    followers = [follower_in(tenant, master) for _ in range(3)]
    with ServerThread() as a, ServerThread() as b:
        async def scenario():
            eas = [await connected_follower(b.port, f) for f in followers[:2]]
            eas.append(await connected_follower(a.port, followers[2]))
            for ea in eas:
                await read_until(ea, "SNAPSHOT:END")
            m = await connected_master(a.port, master)
            assert await m.command(OPEN.format(t=101)) == "OK:OPEN:101:3"
            for ea in eas:
                assert parse_signal(await read_until(ea, "SIGNAL:", timeout=5)).master_ticket == 101

        run_async(scenario())


def test_a_burst_of_connects_larger_than_the_redis_pool_registers_every_follower(settings, tenant, monkeypatch):
    """Thousands of EAs reconnect at once after a restart: every one must be findable through Redis at once,
    not left to the resend loop seconds later (a too-small non-blocking pool used to drop registrations)."""
    from trading.copytrade import bus

    monkeypatch.setattr(bus, "_POOL_SIZE", 3)
    settings.COPYTRADE_RESEND_SECONDS = 60  # so only Redis can carry the signal in time
    master = master_in(tenant)
    followers = [follower_in(tenant, master) for _ in range(24)]
    with ServerThread() as a, ServerThread() as b:
        async def scenario():
            eas = await asyncio.gather(*(connected_follower(b.port, f) for f in followers))
            for ea in eas:
                await read_until(ea, "SNAPSHOT:END")
            m = await connected_master(a.port, master)
            assert await m.command(OPEN.format(t=102)) == f"OK:OPEN:102:{len(followers)}"
            for ea in eas:
                assert parse_signal(await read_until(ea, "SIGNAL:", timeout=5)).master_ticket == 102

        run_async(scenario())


def test_a_failed_registration_is_retried_without_taking_an_ea_that_moved(settings):
    """A Redis blip during AUTH: the registration is retried later, unless the EA has reconnected to another
    process meanwhile (that process's entry stands)."""
    from trading.copytrade.bus import Bus

    async def scenario():
        bus = Bus(settings.COPYTRADE_REDIS_URL, "srv-test", on_lines=lambda _: None, on_control=lambda _: None)
        try:
            await bus.redis.hdel(bus.where, "901", "902", "903")
            await bus.redis.hset(bus.where, "902", "srv-other/x")
            bus.unregistered = {901: "t1", 902: "t2", 903: "t3"}
            await bus.register_again({901: "t1", 902: "t2", 903: "newer"})
            return await bus.redis.hmget(bus.where, ["901", "902", "903"]), bus.unregistered
        finally:
            await bus.redis.hdel(bus.where, "901", "902", "903")
            await bus.redis.aclose()

    places, left = run_async(scenario())
    assert places == [b"srv-test/t1", b"srv-other/x", None] and left == {}


def test_the_resend_loop_delivers_what_no_live_path_carried(settings, tenant):
    """A delivery stored but never published (its server died between commit and publish) still arrives."""
    settings.COPYTRADE_RESEND_SECONDS = 0.3
    master = master_in(tenant)
    follower = follower_in(tenant, master)
    with ServerThread(redis_url="") as server:
        async def scenario():
            f = await connected_follower(server.port, follower)
            await read_until(f, "SNAPSHOT:END")
            await asyncio.to_thread(_store_behind_the_servers_back, master, follower)
            signal = parse_signal(await read_until(f, "SIGNAL:", timeout=5))
            assert (signal.kind, signal.master_ticket) == ("OPEN", 111)
            await f.send(f.apply(signal))
            assert [line for line in await silent(f, 1.0) if line.startswith("SIGNAL:")] == []  # not twice

        run_async(scenario())


def _store_behind_the_servers_back(master, follower):
    from trading.copytrade import services
    from trading.copytrade.protocol import parse_line

    identity = services.Identity(master.pk, master.tenant_id, "master", master.name, "")
    services.record_master_event(identity, parse_line(OPEN.format(t=111)))


def test_an_account_made_in_another_tenant_cannot_be_used_as_a_partner(server, tenant, other_tenant):
    with tenant_context(other_tenant):
        foreign = TradingAccountFactory()
    master = master_in(tenant)
    with dangerously_bypass_tenant_scope():
        TradingAccount.objects.filter(pk=master.pk).update(copy_mode="1TO1", partner_id=foreign.pk)

    async def scenario():
        f = await connected_follower(server.port, foreign)
        await read_until(f, "SNAPSHOT:END")
        m = await connected_master(server.port, master)
        assert await m.command(OPEN.format(t=121)) == "OK:OPEN:121:0"
        assert await silent(f) == []

    run_async(scenario())


def test_kill_9_of_a_server_process_loses_nothing(tenant):
    """Two `copytrade_server` processes; the one holding F1 is killed with SIGKILL while F1 holds a signal
    it has not acknowledged; a trade opens while F1 is away. F1 reconnects to the other process and gets
    both, the first one not applied twice."""
    from trading.copytrade.processes import ServerProcess
    from trading.copytrade.simulator import FollowerEA

    master = master_in(tenant)
    f1, f2 = follower_in(tenant, master), follower_in(tenant, master)
    with ServerProcess() as doomed, ServerProcess() as survivor:
        async def scenario():
            one = await connected_follower(doomed.port, f1)
            two = await connected_follower(survivor.port, f2)
            for ea in (one, two):
                await read_until(ea, "SNAPSHOT:END")
            m = await connected_master(survivor.port, master)
            assert await m.command(OPEN.format(t=201)) == "OK:OPEN:201:2"
            held = parse_signal(await read_until(one, "SIGNAL:"))
            one.apply(held)  # traded; the ACK never leaves
            await two.send(two.apply(parse_signal(await read_until(two, "SIGNAL:"))))
            await asyncio.to_thread(doomed.kill9)
            with pytest.raises(ConnectionError):
                await one.read(timeout=5)
            assert await m.command(OPEN.format(t=202)) == "OK:OPEN:202:2"
            await two.send(two.apply(parse_signal(await read_until(two, "SIGNAL:"))))
            back = FollowerEA("127.0.0.1", survivor.port, key_of(f1), applied=one.applied, positions=one.positions)
            assert (await back.connect()).startswith("OK:AUTH:")
            while (line := await back.read()) != "SNAPSHOT:END":
                if line.startswith("SIGNAL:"):
                    await back.send(back.apply(parse_signal(line)))
            assert sorted(back.positions) == [201, 202] and back.duplicates == 1
            await asyncio.sleep(0.5)

        run_async(scenario())
        assert wait_for(lambda: not CopyDelivery.objects.filter(status=DeliveryStatus.PENDING).exists())
    assert len(deliveries(status=DeliveryStatus.ACKED)) == 4
