"""The copy-trade line protocol: parsing what an EA sends and formatting what the server answers.

Pure functions, no I/O, so the server and the simulator share them and a property test can throw any
bytes at them. Every refusal is a `ProtocolError(code, message)` that the server answers as
`ERR:<code>:<message>`; nothing here raises anything else for any input.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_TICKET = 2**63 - 1
MAX_LOTS = Decimal("1000000")
MAX_PRICE = Decimal("1e15")
MAX_MONEY = Decimal("1e15")
SYMBOL_RE = re.compile(r"^[A-Za-z0-9._#+\-/]{1,32}\Z")
DECIMAL_RE = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,16})?\Z")
SIDES = ("BUY", "SELL")


class ProtocolError(Exception):
    """A line the server refuses; the connection stays (up to the error limit)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def line(self) -> str:
        return error_line(self.code, self.message)


@dataclass(frozen=True, slots=True)
class Auth:
    api_key: str


@dataclass(frozen=True, slots=True)
class Ping:
    balance: Decimal | None
    equity: Decimal | None


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class MasterEvent:
    """OPEN / MODIFY / CLOSE from a master. `profit` and `ratio` only mean something on CLOSE."""

    kind: str
    ticket: int
    symbol: str
    side: str
    lots: Decimal
    price: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    profit: Decimal = Decimal("0")
    ratio: Decimal = Decimal("1")

    @property
    def close_fingerprint(self) -> str:
        return f"{self.lots}:{self.price}:{self.profit}:{self.ratio}"[:120]


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    ticket: int
    profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Nack:
    seq: int
    reason: str


Command = Auth | Ping | Quit | MasterEvent | Ack | Nack


def error_line(code: str, message: str) -> str:
    return f"ERR:{code}:{_clean(message)}"


def _clean(text: str) -> str:
    """One line of printable text: what goes back in ERR/NACK never breaks the framing."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]


def _int(value: str, name: str, *, low: int = 1, high: int = MAX_TICKET) -> int:
    if not value.isascii() or not value.isdigit():
        raise ProtocolError("BAD_FIELD", f"{name} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ProtocolError("BAD_FIELD", f"{name} out of range")
    return number


def _decimal(value: str, name: str, *, low: Decimal, high: Decimal, low_inclusive: bool = True) -> Decimal:
    if not DECIMAL_RE.match(value):
        raise ProtocolError("BAD_FIELD", f"{name} must be a plain decimal number like 1.25")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):  # not reachable after the pattern; kept as a guard
        raise ProtocolError("BAD_FIELD", f"{name} must be a decimal number") from None
    if number > high or number < low or (not low_inclusive and number == low):
        raise ProtocolError("BAD_FIELD", f"{name} out of range")
    return number


def _symbol(value: str) -> str:
    if not SYMBOL_RE.match(value):
        raise ProtocolError("BAD_FIELD", "symbol: 1-32 of A-Z a-z 0-9 . _ # + - /")
    return value


def _side(value: str) -> str:
    side = value.upper()
    if side not in SIDES:
        raise ProtocolError("BAD_FIELD", "side is BUY or SELL")
    return side


def _optional_price(value: str, name: str) -> Decimal | None:
    number = _decimal(value, name, low=Decimal(0), high=MAX_PRICE)
    return number or None


def parse_line(line: str) -> Command:
    """One line (without its newline) → a command. Role checks are the server's, not the parser's."""
    verb, _, rest = line.partition(":")
    verb = verb.strip().upper()
    if verb == "AUTH":
        if not rest or len(rest) > 128:
            raise ProtocolError("AUTH", "AUTH:<api_key>")
        return Auth(rest.strip())
    if verb == "PING":
        if not rest:
            return Ping(None, None)
        parts = rest.split(":")
        if len(parts) != 2:
            raise ProtocolError("BAD_FIELD", "PING or PING:<balance>:<equity>")
        return Ping(_decimal(parts[0], "balance", low=-MAX_MONEY, high=MAX_MONEY),
                    _decimal(parts[1], "equity", low=-MAX_MONEY, high=MAX_MONEY))
    if verb == "QUIT":
        return Quit()
    if verb in ("OPEN", "MODIFY"):
        parts = rest.split(":")
        if len(parts) != 7:
            raise ProtocolError("BAD_FIELD", f"{verb}:<ticket>:<symbol>:<side>:<lots>:<price>:<sl>:<tp>")
        return MasterEvent(kind=verb, ticket=_int(parts[0], "ticket"), symbol=_symbol(parts[1]),
                           side=_side(parts[2]),
                           lots=_decimal(parts[3], "lots", low=Decimal(0), high=MAX_LOTS, low_inclusive=False),
                           price=_decimal(parts[4], "price", low=Decimal(0), high=MAX_PRICE),
                           stop_loss=_optional_price(parts[5], "sl"), take_profit=_optional_price(parts[6], "tp"))
    if verb == "CLOSE":
        parts = rest.split(":")
        if len(parts) != 7:
            raise ProtocolError("BAD_FIELD", "CLOSE:<ticket>:<symbol>:<side>:<lots>:<price>:<profit>:<ratio>")
        return MasterEvent(kind="CLOSE", ticket=_int(parts[0], "ticket"), symbol=_symbol(parts[1]),
                           side=_side(parts[2]),
                           lots=_decimal(parts[3], "lots", low=Decimal(0), high=MAX_LOTS, low_inclusive=False),
                           price=_decimal(parts[4], "price", low=Decimal(0), high=MAX_PRICE),
                           profit=_decimal(parts[5], "profit", low=-MAX_MONEY, high=MAX_MONEY),
                           ratio=_decimal(parts[6], "ratio", low=Decimal(0), high=Decimal(1), low_inclusive=False))
    if verb == "ACK":
        parts = rest.split(":")
        if len(parts) not in (2, 3):
            raise ProtocolError("BAD_FIELD", "ACK:<seq>:<ticket> or ACK:<seq>:<ticket>:<profit>")
        profit = _decimal(parts[2], "profit", low=-MAX_MONEY, high=MAX_MONEY) if len(parts) == 3 else None
        return Ack(_int(parts[0], "seq"), _int(parts[1], "ticket", low=0), profit)
    if verb == "NACK":
        seq, _, reason = rest.partition(":")
        return Nack(_int(seq, "seq"), _clean(reason.strip()) or "refused")
    raise ProtocolError("UNKNOWN_COMMAND", "unknown command")


def number(value: Decimal | None) -> str:
    """A decimal as the protocol writes it: plain digits, no exponent, no trailing zeros; none → 0."""
    if value is None:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def signal_line(*, seq: int, ts_ms: int, kind: str, master_ticket: int, follower_ticket: int | None,
                symbol: str, side: str, lots: Decimal, price: Decimal, stop_loss: Decimal | None,
                take_profit: Decimal | None, ratio: Decimal) -> str:
    return (f"SIGNAL:{seq}:{ts_ms}:{kind}:{master_ticket}:{follower_ticket or 0}:{symbol}:{side}:{number(lots)}:"
            f"{number(price)}:{number(stop_loss)}:{number(take_profit)}:{number(ratio)}")


@dataclass(frozen=True, slots=True)
class Signal:
    """A SIGNAL line as the EA reads it (the simulator and the tests use this)."""

    seq: int
    ts_ms: int
    kind: str
    master_ticket: int
    follower_ticket: int
    symbol: str
    side: str
    lots: Decimal
    price: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    ratio: Decimal


def parse_signal(line: str) -> Signal:
    parts = line.split(":")
    if len(parts) != 13 or parts[0] != "SIGNAL":
        raise ProtocolError("BAD_FIELD", "not a SIGNAL line")
    return Signal(int(parts[1]), int(parts[2]), parts[3], int(parts[4]), int(parts[5]), parts[6], parts[7],
                  Decimal(parts[8]), Decimal(parts[9]), Decimal(parts[10]), Decimal(parts[11]), Decimal(parts[12]))
