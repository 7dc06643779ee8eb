from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments (P2P)"

    def ready(self) -> None:
        from . import signals

        signals.connect()
