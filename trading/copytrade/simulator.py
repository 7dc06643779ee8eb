"""An EA that speaks the copy-trade protocol, for the terminal (`manage.py ea_simulator`), tests and the bench.

A follower applies each SIGNAL once (it remembers the seqs it applied and the ticket it gave each, so a
signal sent again is answered with the same ACK and not traded twice) and answers with tickets of its own;
a master runs a script of protocol lines.
"""

import asyncio
import itertools
import ssl
import time
from dataclasses import dataclass, field
from decimal import Decimal

from .protocol import Signal, number, parse_signal

_tickets = itertools.count(900_000)


@dataclass
class Position:
    ticket: int
    master_ticket: int
    symbol: str
    side: str
    lots: Decimal
    sl: Decimal
    tp: Decimal


@dataclass
class EAClient:
    host: str
    port: int
    api_key: str
    tls: bool = False
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    lines: list[str] = field(default_factory=list)

    async def connect(self) -> str:
        context = None
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=context, limit=1 << 20)
        await self.send(f"AUTH:{self.api_key}")
        return await self.read()

    async def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()

    async def read(self, timeout: float = 10) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        if not raw:
            raise ConnectionError("closed by the server")
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass


@dataclass
class FollowerEA(EAClient):
    """Applies SIGNALs once each; `applied` maps seq → the ticket it answered with (kept across reconnects,
    as a real EA keeps it in a file)."""

    applied: dict[int, int] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    positions: dict[int, Position] = field(default_factory=dict)
    received_at: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    refuse_symbols: set[str] = field(default_factory=set)
    balance: Decimal = Decimal("10000")
    equity: Decimal = Decimal("10000")
    auto_ack: bool = True

    def apply(self, signal: Signal) -> str:
        """The answer to one SIGNAL; trades only the first time its seq is seen."""
        if signal.seq in self.applied:
            self.duplicates += 1
            return f"ACK:{signal.seq}:{self.applied[signal.seq]}"
        if signal.symbol in self.refuse_symbols:
            self.applied[signal.seq] = 0
            return f"NACK:{signal.seq}:symbol {signal.symbol} not offered by this broker"
        ticket, profit = 0, None
        if signal.kind == "OPEN":
            ticket = next(_tickets)
            self.positions[signal.master_ticket] = Position(ticket, signal.master_ticket, signal.symbol, signal.side,
                                                            signal.lots, signal.stop_loss, signal.take_profit)
        elif signal.kind == "MODIFY":
            position = self.positions.get(signal.master_ticket)
            if position:
                position.sl, position.tp, ticket = signal.stop_loss, signal.take_profit, position.ticket
        elif signal.kind == "CLOSE":
            position = self.positions.get(signal.master_ticket)
            if position:
                ticket = position.ticket
                position.lots -= signal.lots
                profit = Decimal("1.50") * signal.lots * 100
                if signal.ratio >= 1 or position.lots <= 0:
                    del self.positions[signal.master_ticket]
        self.applied[signal.seq] = ticket
        return f"ACK:{signal.seq}:{ticket}" + (f":{number(profit)}" if profit is not None else "")

    async def run(self, *, stop: asyncio.Event | None = None, heartbeat: float = 5.0) -> None:
        """Read and answer until the connection ends (or `stop` is set)."""
        next_ping = time.monotonic() + heartbeat
        while stop is None or not stop.is_set():
            try:
                line = await self.read(timeout=max(0.05, next_ping - time.monotonic()))
            except TimeoutError:
                await self.send(f"PING:{number(self.balance)}:{number(self.equity)}")
                next_ping = time.monotonic() + heartbeat
                continue
            if line.startswith("SIGNAL:"):
                signal = parse_signal(line)
                self.received_at.setdefault(signal.seq, time.time())
                self.signals.append(signal)
                if self.auto_ack:
                    await self.send(self.apply(signal))


@dataclass
class MasterEA(EAClient):
    async def command(self, line: str, timeout: float = 10) -> str:
        """Send one OPEN/MODIFY/CLOSE and wait for its OK (or ERR)."""
        await self.send(line)
        while True:
            answer = await self.read(timeout)
            if answer.startswith(("OK:", "ERR:")):
                return answer

    async def run_script(self, script: list[str], *, echo=print) -> None:
        """Lines of the protocol, plus `sleep <seconds>` and `ping <balance> <equity>`."""
        for raw in script:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("sleep "):
                await asyncio.sleep(float(line.split()[1]))
                continue
            if line.startswith("ping "):
                _, balance, equity = line.split()
                await self.send(f"PING:{balance}:{equity}")
                echo(f"> PING  < {await self.read()}")
                continue
            echo(f"> {line}")
            echo(f"< {await self.command(line)}")


DEFAULT_MASTER_SCRIPT = [
    "ping 10000 10000",
    "OPEN:{t}:EURUSD:BUY:0.10:1.08500:1.08000:1.09500",
    "sleep 2",
    "MODIFY:{t}:EURUSD:BUY:0.10:1.08500:1.08200:1.09500",
    "sleep 2",
    "CLOSE:{t}:EURUSD:BUY:0.05:1.08800:15.00:0.5",
    "sleep 2",
    "CLOSE:{t}:EURUSD:BUY:0.05:1.08900:20.00:1",
]
