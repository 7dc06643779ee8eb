"""`manage.py telegram_poll`: answer the bot's messages by long polling (getUpdates), for local use where
Telegram cannot reach a webhook. Each update is confirmed (the next call's offset) once it is answered."""

import time

from django.core.management.base import BaseCommand, CommandError

from trading.telegram.client import BotApi, BotNotConfigured, TelegramError, TelegramRetryAfter, TelegramUnavailable
from trading.telegram.commands import answer_updates


class Command(BaseCommand):
    help = "Answer the Telegram bot's messages by long polling (getUpdates)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=int, default=30, help="Long-polling wait per call, seconds.")
        parser.add_argument("--once", action="store_true", help="One getUpdates call, then stop (tests, cron).")
        parser.add_argument("--delete-webhook", action="store_true",
                            help="Remove the bot's webhook first (Telegram refuses getUpdates while one is set).")

    def handle(self, *args, timeout: int, once: bool, delete_webhook: bool, **options):
        try:
            api = BotApi()
        except BotNotConfigured as exc:
            raise CommandError(f"{exc} See README.md, section Settings.") from None
        if delete_webhook:
            api.delete_webhook()
        me = api.get_me()
        self.stdout.write(f"Polling as @{me.get('username')} (Ctrl-C to stop)")
        offset = None
        while True:
            try:
                updates = api.get_updates(offset=offset, timeout=0 if once else timeout)
            except TelegramRetryAfter as exc:
                time.sleep(exc.retry_after)
                continue
            except TelegramUnavailable as exc:
                self.stderr.write(f"Telegram did not answer ({exc}); trying again in 3 s")
                time.sleep(3)
                continue
            except TelegramError as exc:
                raise CommandError(str(exc)) from None
            offset = answer_updates(updates, api=api) or offset
            if once:
                if offset is not None:
                    api.get_updates(offset=offset, timeout=0)  # confirm what we answered
                self.stdout.write(f"{len(updates)} update(s) answered")
                return
