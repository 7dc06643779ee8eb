from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_catalog(sender, using="default", apps=None, **kwargs):
    """Keep the system roles/permissions/services in step with tenancy.catalog (also after flushes)."""
    from django.apps import apps as global_apps
    from django.db import router

    apps = apps or global_apps
    from tenancy.catalog import sync_system_catalog

    try:
        Role = apps.get_model("tenancy", "Role")
    except LookupError:
        return  # tenancy's tables are not migrated in this database yet
    if not router.allow_migrate_model(using, Role):
        return
    sync_system_catalog(apps)


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenants and authorization"

    def ready(self) -> None:
        from tenancy import scoping  # noqa: F401  (connects the per-connection tenant setting)

        post_migrate.connect(_sync_catalog, sender=self, dispatch_uid="tenancy.sync_catalog")

        from django.conf import settings
        from django.db.models.signals import pre_delete, pre_save

        from tenancy.authz.user_rows import refuse_unsanctioned_staff_changes, refuse_unsanctioned_staff_deletes

        pre_save.connect(refuse_unsanctioned_staff_changes, sender=settings.AUTH_USER_MODEL,
                         dispatch_uid="tenancy.authz.user_rows")
        pre_delete.connect(refuse_unsanctioned_staff_deletes, sender=settings.AUTH_USER_MODEL,
                           dispatch_uid="tenancy.staff_guard_delete")
