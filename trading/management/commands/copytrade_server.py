"""`manage.py copytrade_server --host 0.0.0.0 --port 7001 [--tls-cert cert.pem --tls-key key.pem]`."""

import asyncio
import resource
import signal
import ssl

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading.copytrade.server import CopyTradeServer


def raise_fd_limit() -> int:
    """Thousands of EAs need thousands of descriptors: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Command(BaseCommand):
    help = "Serve the copy-trade line protocol to MetaTrader EAs (docs/copytrade-protocol.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=7001)
        parser.add_argument("--tls-cert", default="")
        parser.add_argument("--tls-key", default="")
        parser.add_argument("--server-id", default="", help="Name in the Redis registry (default: host-pid-random).")

    def handle(self, *args, **options):
        context = None
        if options["tls_cert"] or options["tls_key"]:
            if not (options["tls_cert"] and options["tls_key"]):
                raise CommandError("--tls-cert and --tls-key go together.")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(options["tls_cert"], options["tls_key"])
        # A long-running protocol server has no use for Django's debug query log: with DEBUG on, every
        # statement would be formatted and kept (a third of the hot path's time on a big fan-out).
        settings.DEBUG = False
        limit = raise_fd_limit()
        try:
            import uvloop
        except ImportError:
            uvloop = None
        server = CopyTradeServer(host=options["host"], port=options["port"], ssl_context=context,
                                 server_id=options["server_id"] or None)

        async def main():
            await server.start()
            self.stdout.write(f"copytrade server {server.server_id} listening on {server.host}:{server.port} "
                              f"(TLS {'on' if context else 'off'}, {limit} descriptors, "
                              f"Redis {'on' if server.bus else 'off'})", ending="\n")
            self.stdout.flush()
            # SIGTERM (systemd, honcho, docker stop) and Ctrl+C: close the connections cleanly (each EA's
            # account marked offline) instead of dying mid-write.
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stopping.set)
            try:
                await stopping.wait()
            finally:
                await server.stop()
            self.stdout.write(f"copytrade server {server.server_id} stopped", ending="\n")

        try:
            if uvloop is not None:
                uvloop.run(main())
            else:
                asyncio.run(main())
        except KeyboardInterrupt:
            pass
