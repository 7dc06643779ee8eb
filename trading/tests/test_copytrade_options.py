"""The follower options and the line parser, as pure functions."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.copytrade import options
from trading.copytrade.protocol import (
    Ack,
    MasterEvent,
    Nack,
    Ping,
    ProtocolError,
    parse_line,
    parse_signal,
    signal_line,
)
from trading.models import CopySettings, LotMode

D = Decimal


def order(settings: CopySettings, **kwargs):
    values = {"symbol": "EURUSD", "side": "BUY", "lots": D("0.30"), "stop_loss": D("1.08"), "take_profit": D("1.10"),
              "follower_equity": D("5000"), "master_equity": D("10000")} | kwargs
    return options.follower_open(settings, **values)


def test_lot_modes():
    assert order(CopySettings(lot_mode=LotMode.FIXED, lot_value=D("0.07"))).lots == D("0.07")
    assert order(CopySettings(lot_mode=LotMode.MULTIPLIER, lot_value=D("2"))).lots == D("0.60")
    # equity ratio: 0.30 × 5000 / 10000 = 0.15
    assert order(CopySettings(lot_mode=LotMode.EQUITY_RATIO, lot_value=D("1"))).lots == D("0.15")
    skipped = order(CopySettings(lot_mode=LotMode.EQUITY_RATIO), follower_equity=None)
    assert isinstance(skipped, options.Skip) and "equity" in skipped.reason


def test_lots_round_down_to_the_step_cap_at_the_maximum_and_skip_below_the_minimum():
    assert order(CopySettings(lot_value=D("0.333"))).lots == D("0.09")  # 0.0999 → 0.09
    assert order(CopySettings(lot_value=D("1000"), max_lots=D("5"))).lots == D("5")
    tiny = order(CopySettings(lot_value=D("0.01")))
    assert isinstance(tiny, options.Skip) and "minimum" in tiny.reason and not tiny.filtered


def test_symbol_prefix_suffix_and_explicit_mapping():
    settings = CopySettings(symbol_prefix="m.", symbol_suffix=".pro", symbol_map={"XAUUSD": "GOLD"})
    assert order(settings).symbol == "m.EURUSD.pro"
    assert order(settings, symbol="XAUUSD").symbol == "GOLD"


def test_reverse_flips_the_side_and_swaps_stop_and_target():
    copy = order(CopySettings(reverse=True))
    assert (copy.side, copy.stop_loss, copy.take_profit) == ("SELL", D("1.10"), D("1.08"))
    assert order(CopySettings(reverse=True), side="SELL").side == "BUY"


def test_allow_and_block_lists():
    blocked = order(CopySettings(blocked_symbols=["EURUSD"]))
    assert isinstance(blocked, options.Skip) and blocked.filtered
    assert isinstance(order(CopySettings(allowed_symbols=["GBPUSD"])), options.Skip)
    assert order(CopySettings(allowed_symbols=["EURUSD"])).symbol == "EURUSD"


def test_the_parser_reads_each_command():
    assert parse_line("OPEN:7:EURUSD:buy:0.1:1.085:0:1.09") == MasterEvent(
        "OPEN", 7, "EURUSD", "BUY", D("0.1"), D("1.085"), None, D("1.09"))
    close = parse_line("CLOSE:7:EURUSD:BUY:0.05:1.09:12.5:0.5")
    assert (close.kind, close.profit, close.ratio) == ("CLOSE", D("12.5"), D("0.5"))
    assert parse_line("ACK:12:345:-3.2") == Ack(12, 345, D("-3.2"))
    assert parse_line("NACK:12:no money: margin") == Nack(12, "no money: margin")
    assert parse_line("PING:100.5:99") == Ping(D("100.5"), D("99"))


@pytest.mark.parametrize(("line", "code"), [
    ("HELLO", "UNKNOWN_COMMAND"), ("OPEN:1:EURUSD:BUY:0.1", "BAD_FIELD"), ("OPEN:x:EURUSD:BUY:0.1:1:0:0", "BAD_FIELD"),
    ("OPEN:1:EUR USD:BUY:0.1:1:0:0", "BAD_FIELD"), ("OPEN:1:EURUSD:LONG:0.1:1:0:0", "BAD_FIELD"),
    ("OPEN:1:EURUSD:BUY:0:1:0:0", "BAD_FIELD"), ("OPEN:1:EURUSD:BUY:1e3:1:0:0", "BAD_FIELD"),
    ("OPEN:1:EURUSD:BUY:NaN:1:0:0", "BAD_FIELD"), ("OPEN:1:EURUSD:BUY:1_0:1:0:0", "BAD_FIELD"),
    ("CLOSE:1:EURUSD:BUY:0.1:1:0:1.5", "BAD_FIELD"), ("ACK:0:1", "BAD_FIELD"), ("ACK:-1:1", "BAD_FIELD"),
    ("OPEN:99999999999999999999:EURUSD:BUY:0.1:1:0:0", "BAD_FIELD"), ("AUTH:", "AUTH"),
])
def test_the_parser_refuses_malformed_lines_with_a_code(line, code):
    with pytest.raises(ProtocolError) as refused:
        parse_line(line)
    assert refused.value.code == code
    assert "\n" not in refused.value.line()


@given(st.text(max_size=300))
def test_no_line_makes_the_parser_raise_anything_but_a_protocol_error(line):
    try:
        parse_line(line)
    except ProtocolError as exc:
        assert exc.line().startswith("ERR:") and "\n" not in exc.line() and "\r" not in exc.line()


def test_a_signal_line_reads_back():
    line = signal_line(seq=5, ts_ms=1700000000000, kind="OPEN", master_ticket=9, follower_ticket=None,
                       symbol="EURUSD", side="SELL", lots=D("0.10000000"), price=D("1.0850000"), stop_loss=None,
                       take_profit=D("1.07"), ratio=D("1"))
    assert line == "SIGNAL:5:1700000000000:OPEN:9:0:EURUSD:SELL:0.1:1.085:0:1.07:1"
    signal = parse_signal(line)
    assert (signal.seq, signal.lots, signal.stop_loss) == (5, D("0.1"), D("0"))
