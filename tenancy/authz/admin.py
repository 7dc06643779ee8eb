"""Mixins that make a ModelAdmin ask `tenancy.authz` about the object at hand.

Django's ModelAdmin asks `user.has_perm("app.change_model")` without the
object, so object rules (no staff power over one's own account, over a super
admin, over an admin without can_manage_other_admins, …) would never run.
`ObjectPermissionAdminMixin` passes the object along; use it on every admin
whose rows are people or their powers (accounts.User included).
"""

from django.contrib.auth import get_permission_codename
from django.db.models import Q
from django.db.models.functions import Lower

from tenancy import authz
from tenancy.selectors import users_in_reach


class ObjectPermissionAdminMixin:
    def _has(self, request, action: str, obj=None) -> bool:
        codename = get_permission_codename(action, self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}", obj)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._has(request, "view", obj) or self._has(request, "change", obj)

    def has_add_permission(self, request) -> bool:
        return self._has(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._has(request, "change", obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._has(request, "delete", obj)


class CurrentTenantAdminMixin:
    """Rows with a `tenant`: a super admin sees all; other staff only the current tenant's."""

    tenant_field = "tenant"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if authz.is_super_admin(request.user):
            return queryset
        tenant = getattr(request, "tenant", None)
        return queryset.filter(**{f"{self.tenant_field}_id": tenant.pk}) if tenant else queryset.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.tenant_field and not authz.is_super_admin(request.user):
            from tenancy.models import Tenant

            tenant = getattr(request, "tenant", None)
            kwargs["queryset"] = Tenant.objects.filter(pk=tenant.pk) if tenant else Tenant.objects.none()
            kwargs["initial"] = tenant.pk if tenant else None
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class UsersInReachAdminMixin:
    """Rows about a person (`user_field`): staff see only those of `tenancy.selectors.users_in_reach`."""

    user_field = "user"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        reach = users_in_reach(request.user)
        if reach is None:
            return queryset
        return queryset.filter(**{f"{self.user_field}__in": reach.values("pk")})


class FailedAttemptsInReachAdminMixin:
    """Failed tries are keyed by subject — an email (login), a phone (codes) or a user id (MFA) — not by
    user: staff see the subjects of people in reach; tries against unknown subjects only a super admin."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        reach = users_in_reach(request.user)
        if reach is None:
            return queryset
        ids = [str(pk) for pk in reach.values_list("pk", flat=True)]
        return queryset.filter(Q(subject__in=reach.annotate(lowered=Lower("email")).values("lowered"))
                               | Q(subject__in=reach.exclude(phone=None).values("phone"))
                               | Q(subject__in=ids))
