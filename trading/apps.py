from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self):
        # Registers the tasks in every process (web too): services send them by name
        # (trading.services.messaging) and never import this module themselves.
        from trading import tasks  # noqa: F401

        # Copy-trade servers hear about key rotations and deactivations at once.
        from trading.copytrade import account_events  # noqa: F401

        # `make run`: a local stand-in for Telegram (prints the bot's messages) when configured.
        from trading.telegram.local_stand_in import maybe_start_local_telegram

        maybe_start_local_telegram()
