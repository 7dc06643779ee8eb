"""`manage.py telegram_webhook --set|--delete`: point the bot's updates at this site's Telegram webhook
(SITE_URL + /hooks/telegram/<secret path>, with TELEGRAM_WEBHOOK_SECRET as Telegram's secret token)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading.services.telegram import webhook_url
from trading.telegram.client import BotApi, BotNotConfigured, TelegramError, TelegramUnavailable


class Command(BaseCommand):
    help = "Set or delete the Telegram bot's webhook."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--set", action="store_true")
        group.add_argument("--delete", action="store_true")

    def handle(self, *args, set: bool, delete: bool, **options):
        try:
            api = BotApi()
            if delete:
                api.delete_webhook()
                self.stdout.write("Webhook deleted.")
                return
            if not settings.TELEGRAM_WEBHOOK_SECRET:
                raise CommandError("Set TELEGRAM_WEBHOOK_SECRET first (README.md, section Settings).")
            api.set_webhook(webhook_url(), secret_token=settings.TELEGRAM_WEBHOOK_SECRET)
        except BotNotConfigured as exc:
            raise CommandError(str(exc)) from None
        except (TelegramError, TelegramUnavailable) as exc:
            raise CommandError(f"Telegram refused: {exc}") from None
        self.stdout.write("Webhook set (its URL holds a secret; not printed).")
