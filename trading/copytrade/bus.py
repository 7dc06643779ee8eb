"""Fan-out across server processes through Redis.

Names start with `copytrade:<database name>` (see `namespace`).

- A registry hash `copytrade:where` says which process holds each connected EA (`<server_id>/<serial>`).
  A process writes it after AUTH and before its catch-up query, and removes only its own entry
  (compare-and-delete), so a reconnect to another process is never undone by the old one.
- Each process listens on `copytrade:srv:<server_id>`; a master's process sends each other process one
  message with the lines of that process's followers: `<follower_id>\\t<seq>\\t<line>` per line.
- `copytrade:control` carries account ids whose key, role or active flag changed: the process holding
  that EA checks it at once and cuts it off when it may no longer connect.

Redis is a fast path only: every delivery is in the database first, and each process re-sends what its
connected followers have pending (see `CopyTradeServer._resend_loop`), so a lost message or a dead
process delays a signal, never loses it.
"""

import asyncio
import logging

import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)

_clients: dict = {}
_POOL_SIZE = 32

_FORGET = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


def namespace() -> str:
    """Keys and channels carry the database name: servers of two databases on one Redis never mix."""
    from django.db import connection

    return f"copytrade:{connection.settings_dict['NAME']}"


def server_channel(server_id: str) -> str:
    return f"{namespace()}:srv:{server_id}"


def control_channel() -> str:
    return f"{namespace()}:control"


def publish_account_changed(account_id: int) -> None:
    """From Django (after commit): tell every server to re-check this account's EA connection."""
    url = settings.COPYTRADE_REDIS_URL
    if not url:
        return
    import redis

    try:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.publish(control_channel(), str(account_id))
    except redis.RedisError as exc:  # the servers' periodic re-check still finds it within seconds
        log.warning("copytrade: could not publish the change of account %s: %s", account_id, exc)


class Bus:
    def __init__(self, url: str, server_id: str, *, on_lines, on_control):
        self.url = url
        self.server_id = server_id
        self.on_lines = on_lines
        self.on_control = on_control
        self.prefix = namespace()
        self.where = f"{self.prefix}:where"
        self.control = control_channel()
        self.channel = server_channel(server_id)
        # A blocking pool: a burst of connects (thousands of AUTHs at once) waits for a free Redis connection
        # instead of failing with "Too many connections" and leaving those followers unregistered.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=_POOL_SIZE, timeout=5,
                                                        socket_connect_timeout=2, health_check_interval=10)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.unregistered: dict[int, str] = {}
        self._forget = self.redis.register_script(_FORGET)
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="copytrade-bus")
        try:
            await asyncio.wait_for(self.ready.wait(), timeout=5)
        except TimeoutError:
            log.warning("copytrade: Redis bus not ready; serving this process's connections only for now")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.redis.aclose()

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, self.control)
                self.ready.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    data = message["data"].decode("utf-8", "replace")
                    if message["channel"] == self.control.encode():
                        self.on_control(data)
                    else:
                        self.on_lines(data)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: retry; the resend loop covers the gap
                self.ready.clear()
                log.warning("copytrade: Redis bus lost (%s); reconnecting", exc)
                await pubsub.aclose()
                await asyncio.sleep(1)

    async def register(self, account_id: int, token: str) -> None:
        try:
            await self.redis.hset(self.where, str(account_id), f"{self.server_id}/{token}")
            self.unregistered.pop(account_id, None)
        except Exception as exc:  # noqa: BLE001
            self.unregistered[account_id] = token
            log.warning("copytrade: could not register account %s (retried): %s", account_id, exc)

    async def register_again(self, held: dict[int, str]) -> None:
        """Retry the registrations that failed, for the EAs still held here (`held`: account id → serial).
        HSETNX: an entry another process wrote meanwhile (the EA moved there) is left alone."""
        retry = {account_id: token for account_id, token in self.unregistered.items() if held.get(account_id) == token}
        self.unregistered = {}
        if not retry:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for account_id, token in retry.items():
                    pipe.hsetnx(self.where, str(account_id), f"{self.server_id}/{token}")
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            self.unregistered.update(retry)
            log.warning("copytrade: registering %d accounts again failed: %s", len(retry), exc)

    async def forget(self, account_id: int, token: str) -> None:
        try:
            await self._forget(keys=[self.where], args=[str(account_id), f"{self.server_id}/{token}"])
        except Exception as exc:  # noqa: BLE001
            log.warning("copytrade: could not unregister account %s: %s", account_id, exc)

    async def send_remote(self, items: list) -> None:
        """Hand the lines of followers held by other processes to those processes (one message each)."""
        if not items:
            return
        try:
            places = await self.redis.hmget(self.where, [str(item.follower_id) for item in items])
        except Exception as exc:  # noqa: BLE001
            log.warning("copytrade: registry unavailable (%s); the resend loop will deliver", exc)
            return
        by_server: dict[str, list[str]] = {}
        for item, place in zip(items, places, strict=True):
            if not place:
                continue  # offline: it gets the delivery when it connects
            server_id = place.decode().rpartition("/")[0]
            if server_id == self.server_id:
                continue
            by_server.setdefault(server_id, []).append(f"{item.follower_id}\t{item.seq}\t{item.line}")
        if not by_server:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for server_id, lines in by_server.items():
                    pipe.publish(f"{self.prefix}:srv:{server_id}", "\n".join(lines))
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            log.warning("copytrade: publish failed (%s); the resend loop will deliver", exc)
