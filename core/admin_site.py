"""The Django admin site of the platform: branded, and its index shows the dashboards apps contribute.

Apps add a panel with `admin.site.add_dashboard(provider)` (payments does, in payments/admin/__init__.py):
`provider(request)` returns `(template name, context)` or None when the viewer has nothing to see there.
core knows no app; an app knows only this hook.
"""

from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class PlatformAdminSite(admin.AdminSite):
    site_header = "P2P Platform · back office"
    site_title = "P2P Platform back office"
    index_title = "Dashboard"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dashboards: list[Callable] = []

    def add_dashboard(self, provider: Callable) -> None:
        if provider not in self._dashboards:
            self._dashboards.append(provider)

    def index(self, request, extra_context=None):
        panels = []
        for provider in self._dashboards:
            panel = provider(request)
            if panel is not None:
                template, context = panel
                panels.append({"template": template, **context})
        return super().index(request, {"dashboard_panels": panels, **(extra_context or {})})


class PlatformAdminConfig(AdminConfig):
    default_site = "core.admin_site.PlatformAdminSite"
