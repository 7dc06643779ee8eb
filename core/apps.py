from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure that belongs to no domain: encryption, errors, database fast paths, the demo seed."""

    name = "core"
    verbose_name = "Platform"
