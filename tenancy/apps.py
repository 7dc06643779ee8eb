from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenants and authorization"

    def ready(self) -> None:
        from tenancy import scoping  # noqa: F401  (connects the per-connection tenant setting)
