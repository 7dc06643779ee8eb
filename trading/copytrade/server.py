"""The asyncio copy-trade server: one process holds thousands of EA connections.

Each connection is an `asyncio.Protocol` (no stream objects: a few hundred bytes each). Lines are handled
in order per connection; whatever touches the database runs in the server's thread pool (short
transactions in `services`), the event loop never waits on PostgreSQL. The hot path of a master's OPEN is
one pool call (store trade + deliveries), then writes to local followers and one Redis message per other
process, then `OK` to the master. ACK/NACKs and heartbeats are written in batches by background loops.
"""

import asyncio
import functools
import logging
import os
import socket
import ssl as ssl_module
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from core import metrics

from . import services
from .bus import Bus
from .protocol import Ack, Auth, MasterEvent, Nack, Ping, ProtocolError, Quit, error_line, parse_line

log = logging.getLogger(__name__)

SENT_MEMORY = 4096  # seqs a follower connection remembers having sent (never sent twice on it)


def _db_call(fn, *args, **kwargs):
    """Run a service in a pool thread; a connection the database dropped is replaced once."""
    try:
        return fn(*args, **kwargs)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        close_old_connections()
        return fn(*args, **kwargs)


class Connection(asyncio.Protocol):
    def __init__(self, server: "CopyTradeServer"):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.buffer = bytearray()
        self.discarding = False
        self.identity: services.Identity | None = None
        self.token = uuid.uuid4().hex[:12]
        self.errors = 0
        self.last_rx = time.monotonic()
        self.lines: deque[str] = deque()
        self.worker: asyncio.Task | None = None
        self.auth_timer: asyncio.TimerHandle | None = None
        self.closed = False
        # Follower state: seqs this connection has been sent (not sent twice), and live lines held back
        # while the catch-up is being sent so that order is kept.
        self.sent: set[int] = set()
        self.catching_up = False
        self.held: list[tuple[int, str]] = []

    # -- transport callbacks ---------------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""
        self.server.all_connections.add(self)
        metrics.count("p2p_copytrade_connection_events_total", event="opened")
        self.auth_timer = asyncio.get_running_loop().call_later(self.server.auth_timeout, self._auth_timed_out)

    def connection_lost(self, exc):
        self.closed = True
        self.server.all_connections.discard(self)
        metrics.count("p2p_copytrade_connection_events_total", event="closed")
        if self.auth_timer:
            self.auth_timer.cancel()
        if self.worker and not self.worker.done():
            self.worker.cancel()
        if self.identity is not None:
            self.server.forget(self)

    def data_received(self, data: bytes):
        self.last_rx = time.monotonic()
        self.buffer += data
        limit = self.server.max_line_bytes
        while not self.closed:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > limit:
                    self.buffer.clear()
                    if not self.discarding:
                        self.discarding = True
                        self.error("LINE_TOO_LONG", f"lines are at most {limit} bytes")
                break
            raw = bytes(self.buffer[:end])
            del self.buffer[:end + 1]
            if self.discarding:  # the tail of an oversized line
                self.discarding = False
                continue
            if len(raw) > limit:
                self.error("LINE_TOO_LONG", f"lines are at most {limit} bytes")
                continue
            try:
                line = raw.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                self.error("BAD_LINE", "lines are UTF-8")
                continue
            if line.strip():
                self.lines.append(line)
        if len(self.lines) > 1000 and self.transport is not None:
            self.transport.pause_reading()  # resumed once the worker has caught up
        self._kick()

    def eof_received(self):
        return False

    # -- output ----------------------------------------------------------------------------------------
    def send(self, line: str) -> None:
        if not self.closed and self.transport is not None and not self.transport.is_closing():
            self.transport.write(line.encode("utf-8") + b"\n")

    def error(self, code: str, message: str) -> None:
        self.errors += 1
        self.send(error_line(code, message))
        if self.errors >= self.server.max_errors:
            self.close_with("TOO_MANY_ERRORS", "closing the connection")

    def close_with(self, code: str, message: str) -> None:
        self.send(error_line(code, message))
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def deliver(self, seq: int, line: str) -> None:
        """A SIGNAL for this follower (live, from this process or through Redis)."""
        if seq in self.sent or self.closed:
            return
        if self.catching_up:
            self.held.append((seq, line))
            return
        self.sent.add(seq)
        self.send(line)

    def _auth_timed_out(self):
        if self.identity is None and not self.closed:
            self.close_with("AUTH", "timeout: AUTH must come first")

    # -- line handling ---------------------------------------------------------------------------------
    def _kick(self) -> None:
        if self.lines and (self.worker is None or self.worker.done()):
            self.worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.lines and not self.closed:
            if len(self.lines) < 100 and self.transport is not None and not self.transport.is_reading():
                self.transport.resume_reading()
            line = self.lines.popleft()
            try:
                await self._handle(line)
            except ProtocolError as exc:
                self.error(exc.code, exc.message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("copytrade: failed on a line from %s", self.peer)
                self.error("SERVER", "internal error; try again")

    async def _handle(self, line: str) -> None:
        command = parse_line(line)
        if self.identity is None:
            if not isinstance(command, Auth):
                self.close_with("AUTH", "AUTH:<api_key> must come first")
                return
            await self._auth(command)
            return
        if isinstance(command, Ping):
            self.server.heartbeat(self, command)
            self.send(f"PONG:{int(time.time() * 1000)}")
        elif isinstance(command, Quit):
            self.send("BYE")
            self.close()
        elif isinstance(command, Auth):
            raise ProtocolError("AUTH", "already authenticated")
        elif isinstance(command, MasterEvent):
            if self.identity.role != "master":
                raise ProtocolError("ROLE", f"{command.kind} is for master accounts")
            await self._master_event(command)
        elif isinstance(command, Ack | Nack):
            if self.identity.role != "follower":
                raise ProtocolError("ROLE", "ACK/NACK are for follower accounts")
            self.server.answer(self, command)

    async def _auth(self, command: Auth) -> None:
        outcome = await self.server.run_db(services.authenticate, command.api_key)
        if isinstance(outcome, str):
            self.close_with("AUTH", outcome)
            return
        if self.closed:
            return
        self.identity = outcome
        if self.auth_timer:
            self.auth_timer.cancel()
        await self.server.adopt(self)
        self.send(f"OK:AUTH:{outcome.account_id}:{outcome.role}")
        if outcome.role == "follower":
            await self.catch_up(snapshot=True)

    async def catch_up(self, *, snapshot: bool) -> None:
        """Send what is pending in order, then the live lines that came meanwhile (never one twice)."""
        self.catching_up = True
        try:
            lines, snapshot_lines = await self.server.run_db(services.catch_up, self.identity,
                                                             already_sent=frozenset(self.sent), snapshot=snapshot)
            for item in lines:
                if item.seq not in self.sent:
                    self.sent.add(item.seq)
                    self.send(item.line)
            for line in snapshot_lines:
                self.send(line)
        finally:
            self.catching_up = False
            held, self.held = sorted(self.held), []
            for seq, line in held:
                self.deliver(seq, line)

    async def _master_event(self, event: MasterEvent) -> None:
        started = time.perf_counter()
        result = await self.server.run_db(services.record_master_event, self.identity, event)
        stored = time.perf_counter()
        await self.server.dispatch(result.deliveries)
        metrics.observe("p2p_copytrade_fanout_seconds", time.perf_counter() - started)
        self.send(f"OK:{event.kind}:{event.ticket}:{len(result.deliveries)}")
        log.debug("copytrade: %s %s → %d deliveries: stored in %.1f ms, sent/published in %.1f ms",
                  event.kind, event.ticket, len(result.deliveries), (stored - started) * 1000,
                  (time.perf_counter() - stored) * 1000)


class CopyTradeServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl_module.SSLContext | None = None,
                 redis_url: str | None = None, server_id: str | None = None):
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.redis_url = settings.COPYTRADE_REDIS_URL if redis_url is None else redis_url
        self.server_id = server_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.max_line_bytes = settings.COPYTRADE_MAX_LINE_BYTES
        self.auth_timeout = settings.COPYTRADE_AUTH_TIMEOUT_SECONDS
        self.heartbeat_seconds = settings.COPYTRADE_HEARTBEAT_SECONDS
        self.max_errors = settings.COPYTRADE_MAX_ERRORS
        self.executor = ThreadPoolExecutor(max_workers=settings.COPYTRADE_DB_THREADS,
                                           thread_name_prefix="copytrade-db")
        self.all_connections: set[Connection] = set()
        self.accounts: dict[int, Connection] = {}
        self.bus: Bus | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task] = []
        self._answers: list[tuple[Connection, services.Answer]] = []
        self._answers_ready = asyncio.Event()
        self._beats: dict = {}
        self._cleanups: set[asyncio.Task] = set()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.redis_url:
            self.bus = Bus(self.redis_url, self.server_id, on_lines=self._remote_lines, on_control=self._control)
            await self.bus.start()
        self._server = await loop.create_server(lambda: Connection(self), self.host, self.port, ssl=self.ssl_context,
                                                backlog=4096, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        for coro in (self._answer_loop(), self._heartbeat_loop(), self._silence_loop(), self._recheck_loop(),
                     self._resend_loop()):
            self._tasks.append(asyncio.create_task(coro))
        log.info("copytrade server %s listening on %s:%s", self.server_id, self.host, self.port)

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        for conn in list(self.all_connections):
            conn.close()
        await asyncio.sleep(0)  # let the transports report their closing (connection_lost)
        await asyncio.gather(*self._cleanups, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush_answers()
        if self.bus:
            await self.bus.stop()
        self.executor.shutdown(wait=True)

    def run_db(self, fn, *args, **kwargs):
        return asyncio.get_running_loop().run_in_executor(self.executor,
                                                          functools.partial(_db_call, fn, *args, **kwargs))

    # -- connections -----------------------------------------------------------------------------------
    async def adopt(self, conn: Connection) -> None:
        """One EA per account: a new AUTH replaces an older connection of the same account (here)."""
        identity = conn.identity
        old = self.accounts.get(identity.account_id)
        if old is not None and old is not conn:
            old.close_with("AUTH", "replaced by a newer connection of this account")
        self.accounts[identity.account_id] = conn
        if self.bus:
            await self.bus.register(identity.account_id, conn.token)
        await self.run_db(services.connection_opened, identity, server_id=self.server_id, remote_addr=conn.peer)

    def forget(self, conn: Connection) -> None:
        identity = conn.identity
        if self.accounts.get(identity.account_id) is conn:
            del self.accounts[identity.account_id]
            loop = asyncio.get_running_loop()
            if self.bus:
                self._track(loop.create_task(self.bus.forget(identity.account_id, conn.token)))
            self._track(loop.create_task(self._closed_in_db(identity)))

    def _track(self, task: asyncio.Task) -> None:
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def _closed_in_db(self, identity) -> None:
        try:
            await self.run_db(services.connection_closed, identity, server_id=self.server_id)
        except Exception:  # noqa: BLE001
            log.exception("copytrade: could not mark %s offline", identity.account_id)

    def cut_off(self, account_id: int, reason: str) -> None:
        conn = self.accounts.get(account_id)
        if conn is not None:
            conn.close_with("AUTH", reason)

    # -- delivery --------------------------------------------------------------------------------------
    async def dispatch(self, deliveries: list[services.Outgoing]) -> None:
        remote = []
        for item in deliveries:
            conn = self.accounts.get(item.follower_id)
            if conn is not None:
                conn.deliver(item.seq, item.line)
            else:
                remote.append(item)
        if self.bus and remote:
            await self.bus.send_remote(remote)

    def _remote_lines(self, payload: str) -> None:
        for entry in payload.split("\n"):
            follower_id, _, rest = entry.partition("\t")
            seq, _, line = rest.partition("\t")
            if not follower_id.isdigit() or not seq.isdigit():
                continue
            conn = self.accounts.get(int(follower_id))
            if conn is not None:
                conn.deliver(int(seq), line)

    def _control(self, payload: str) -> None:
        if payload.isdigit() and int(payload) in self.accounts:
            asyncio.get_running_loop().create_task(self._recheck([self.accounts[int(payload)]]))

    async def _recheck(self, conns: list[Connection]) -> None:
        conns = [c for c in conns if c.identity is not None and not c.closed]
        if not conns:
            return
        valid = await self.run_db(services.still_valid, [c.identity for c in conns])
        for conn in conns:
            if conn.identity.account_id not in valid:
                conn.close_with("AUTH", "revoked: the key was rotated or the account deactivated")

    # -- answers and heartbeats (batched) --------------------------------------------------------------
    def answer(self, conn: Connection, message: Ack | Nack) -> None:
        self._answers.append((conn, services.Answer(conn.identity.account_id, conn.identity.tenant_id, message)))
        self._answers_ready.set()

    async def _answer_loop(self) -> None:
        while True:
            await self._answers_ready.wait()
            await self._flush_answers()

    async def _flush_answers(self) -> None:
        self._answers_ready.clear()
        batch, self._answers = self._answers, []
        if not batch:
            return
        try:
            unknown = set(await self.run_db(services.store_answers, [answer for _, answer in batch]))
        except Exception:  # noqa: BLE001 - keep them for the next pass rather than lose them
            log.exception("copytrade: storing %d answers failed; retrying", len(batch))
            self._answers = batch + self._answers
            self._answers_ready.set()
            await asyncio.sleep(0.5)
            return
        for conn, answer in batch:
            key = (answer.follower_id, answer.message.seq)
            if key in unknown:
                conn.error("NOT_FOUND", f"seq {answer.message.seq} is not a delivery of this account")
        # `sent` is kept even for acknowledged seqs (a resend pass may have read them as pending just before
        # the ACK was written); only a long-lived connection's oldest half is dropped, long acknowledged.
        for conn in {conn for conn, _ in batch}:
            if len(conn.sent) > SENT_MEMORY:
                conn.sent = set(sorted(conn.sent)[len(conn.sent) // 2:])

    def heartbeat(self, conn: Connection, ping: Ping) -> None:
        identity = conn.identity
        self._beats[identity.account_id] = (identity.tenant_id, ping.balance, ping.equity, timezone.now())

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.heartbeat_seconds))
            # Open connections per server for /metrics; gone a minute after the server is.
            metrics.gauge("p2p_copytrade_connections", len(self.all_connections), ttl=60, server=self.server_id)
            beats, self._beats = self._beats, {}
            if beats:
                try:
                    await self.run_db(services.store_heartbeats, beats)
                except Exception:  # noqa: BLE001
                    log.exception("copytrade: storing heartbeats failed")

    async def _silence_loop(self) -> None:
        """A connection silent for three heartbeats is closed."""
        while True:
            await asyncio.sleep(self.heartbeat_seconds / 2)
            limit = time.monotonic() - 3 * self.heartbeat_seconds
            for conn in list(self.all_connections):
                if conn.last_rx < limit:
                    conn.close_with("TIMEOUT", "no heartbeat for three intervals")

    async def _recheck_loop(self) -> None:
        """Catches key rotations and deactivations whose Redis notice was lost (or made with no Redis)."""
        while True:
            await asyncio.sleep(settings.COPYTRADE_RECHECK_SECONDS)
            try:
                if self.bus and self.bus.unregistered:
                    await self.bus.register_again({a: c.token for a, c in self.accounts.items() if not c.closed})
                await self._recheck(list(self.accounts.values()))
            except Exception:  # noqa: BLE001
                log.exception("copytrade: re-check failed")

    async def _resend_loop(self) -> None:
        """Sends connected followers whatever is pending and they have not had on this connection: the
        deliveries a dead process stored but never published, or a lost Redis message."""
        while True:
            await asyncio.sleep(settings.COPYTRADE_RESEND_SECONDS)
            try:
                followers = [c for c in self.accounts.values() if c.identity.role == "follower" and not c.closed]
                pending = await self.run_db(services.pending_seqs, [c.identity.account_id for c in followers],
                                            older_than_seconds=settings.COPYTRADE_RESEND_SECONDS)
                for conn in followers:
                    unsent = pending.get(conn.identity.account_id, set()) - conn.sent
                    if unsent and not conn.catching_up and not conn.closed:
                        await conn.catch_up(snapshot=False)
            except Exception:  # noqa: BLE001
                log.exception("copytrade: resend pass failed")
