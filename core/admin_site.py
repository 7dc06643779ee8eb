"""The Django admin site of the platform: branded, its index shows the dashboards apps contribute, and a
signed-in person it does not let in is told why instead of being shown a bare login form.

Apps add a panel with `admin.site.add_dashboard(provider)` (payments does, in payments/admin/__init__.py):
`provider(request)` returns `(template name, context)` or None when the viewer has nothing to see there.
Likewise `admin.site.add_refusal_note(provider)` (tenancy does, in tenancy/admin.py) adds a note to the page a
signed-in person without staff access gets at the admin's login (where the admin sends whoever it refuses).
core knows no app; an app knows only these hooks. Who may enter is Django's `has_permission` as before.
"""

from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.decorators import login_not_required
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

STAFF_ONLY_TEMPLATE = "admin/staff_only.html"


class PlatformAdminSite(admin.AdminSite):
    site_header = "P2P Platform · back office"
    site_title = "P2P Platform back office"
    index_title = "Dashboard"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dashboards: list[Callable] = []
        self._refusal_notes: list[Callable] = []

    def add_dashboard(self, provider: Callable) -> None:
        if provider not in self._dashboards:
            self._dashboards.append(provider)

    def add_refusal_note(self, provider: Callable) -> None:
        if provider not in self._refusal_notes:
            self._refusal_notes.append(provider)

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """A signed-in person who may not enter (the admin redirects them here) sees a page of the site saying
        why and what to ask for; Django would show the login form again with a one-line refusal. Posting the
        form (signing in as someone else) works as before."""
        user = request.user
        if request.method == "GET" and user.is_authenticated and not self.has_permission(request):
            return self.staff_only(request)
        return super().login(request, extra_context)

    def staff_only(self, request):
        notes = []
        for provider in self._refusal_notes:
            note = provider(request)
            if note is not None:
                template, context = note
                notes.append({"template": template, **context})
        return TemplateResponse(request, STAFF_ONLY_TEMPLATE, {"notes": notes, "site_header": self.site_header},
                                status=403)

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
