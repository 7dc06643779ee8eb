from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure that belongs to no domain: encryption, errors, database fast paths, the demo seed."""

    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from .in_process_beat import maybe_start_in_process_beat

        maybe_start_in_process_beat()
