"""`manage.py ea_simulator --api-key sk_live_… --role master|follower [--host --port --script file]`:
an EA from the terminal. A master runs a script of protocol lines (default: open, modify, half close,
close); a follower prints each SIGNAL and answers ACK with a ticket of its own."""

import asyncio
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trading.copytrade.simulator import DEFAULT_MASTER_SCRIPT, FollowerEA, MasterEA


class Command(BaseCommand):
    help = "Speak the copy-trade protocol as a master or follower EA."

    def add_arguments(self, parser):
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--role", choices=["master", "follower"], required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=7001)
        parser.add_argument("--tls", action="store_true", help="Connect over TLS (certificate not verified).")
        parser.add_argument("--script", default="", help="Master: a file of protocol lines, `sleep <s>`, "
                                                         "`ping <balance> <equity>`; {t} is a fresh ticket.")
        parser.add_argument("--equity", default="10000", help="Balance and equity sent in heartbeats.")
        parser.add_argument("--seconds", type=float, default=0, help="Follower: stop after this long (0: never).")

    def handle(self, *args, **options):
        try:
            asyncio.run(self._run(options))
        except KeyboardInterrupt:
            pass
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise CommandError(f"connection: {exc}") from exc

    async def _run(self, options):
        out = self.stdout
        if options["role"] == "master":
            ea = MasterEA(options["host"], options["port"], options["api_key"], tls=options["tls"])
        else:
            from decimal import Decimal

            equity = Decimal(options["equity"])
            ea = FollowerEA(options["host"], options["port"], options["api_key"], tls=options["tls"],
                            balance=equity, equity=equity)
        answer = await ea.connect()
        out.write(f"< {answer}")
        if not answer.startswith("OK:AUTH:"):
            raise CommandError(answer)
        if options["role"] == "master":
            script = (Path(options["script"]).read_text().splitlines() if options["script"]
                      else DEFAULT_MASTER_SCRIPT)
            ticket = str(int(time.time()))
            await ea.run_script([line.replace("{t}", ticket) for line in script], echo=out.write)
            await ea.close()
            return
        stop = asyncio.Event()
        if options["seconds"]:
            asyncio.get_running_loop().call_later(options["seconds"], stop.set)
        original_read = ea.read

        async def read_and_echo(timeout: float = 10):
            line = await original_read(timeout)
            out.write(f"< {line}")
            return line

        original_send = ea.send

        async def send_and_echo(line: str):
            out.write(f"> {line}")
            await original_send(line)

        ea.read, ea.send = read_and_echo, send_and_echo
        try:
            await ea.run(stop=stop, heartbeat=5.0)
        except ConnectionError as exc:
            out.write(f"connection closed: {exc}")
        await ea.close()
