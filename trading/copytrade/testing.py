"""Running a copy-trade server inside a test or bench process: its own event loop in a thread."""

import asyncio
import threading

from django.db import connection

from .server import CopyTradeServer


def _close_db_connection(barrier: threading.Barrier) -> None:
    connection.close()
    barrier.wait(timeout=5)


class ServerThread:
    """`with ServerThread() as server:` → a CopyTradeServer on 127.0.0.1:<free port>, stopped on exit
    (its pool threads' database connections closed, so the test database can be dropped)."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self.server: CopyTradeServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="copytrade-test-server")

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        self.server = self.call(self._start())
        return self

    async def _start(self) -> CopyTradeServer:
        server = CopyTradeServer(host="127.0.0.1", port=0, **self.kwargs)
        await server.start()
        return server

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.server is None:
            return
        executor = self.server.executor
        threads = len(getattr(executor, "_threads", ())) or 1
        barrier = threading.Barrier(threads)
        futures = [executor.submit(_close_db_connection, barrier) for _ in range(threads)]
        for future in futures:
            future.result(timeout=10)
        self.call(self.server.stop())
        self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def __exit__(self, *exc) -> None:
        self.stop()
