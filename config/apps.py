from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-wide pieces that belong to no domain: encryption, demo data, layout."""

    name = "config"
    verbose_name = "Platform"
