from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-wide pieces that belong to no domain: encryption, demo data, layout."""

    name = "config"
    verbose_name = "Platform"

    def ready(self) -> None:
        from .in_process_beat import maybe_start_in_process_beat

        maybe_start_in_process_beat()
