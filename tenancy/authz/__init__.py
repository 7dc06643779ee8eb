"""Authorization: every rule of who may do what is in this package.

- here: `can(user, "resource.action", tenant=…, obj=…)`, the one entry point, with the staff flags
  (`has_flag`, `may_grant_flag`), the object rules and `may_act_on_account` (staff powers over people),
  and `require` (the services' check);
- `permissions`: the catalog in code — staff flags, role templates, which flag confers which permission,
  Django model permissions mapped onto our keys;
- `backend`: Django's `user.has_perm` answered by `can` (so admin, pages and API agree);
- `views`: `can` for views and the API (decorator, class-based-view mixin, DRF permission);
- `admin`: `can` and the tenant/people scoping for Django admin (ModelAdmin mixins);
- `user_rows`: guards on user rows that hold whatever page or admin saves them (staff standing changes only
  through the staff services; staff powers over an account follow `may_act_on_account`).

`can` in detail:

A user may do something when any of these grants it, and no object rule forbids it:
1. they are a super admin (an active Django superuser; services keep that in
   step with a `super_admin` admin profile) — everything, everywhere;
2. a staff flag of their admin/support profile (see
   `tenancy.authz.permissions.FLAG_PERMISSIONS`);
3. a role assigned to them in the tenant the question is about;
4. an active role of theirs in the service (payments, trading, accounts) the permission belongs to;
5. a django-guardian object permission on `obj`.

Tenant questions need membership: outside the tenants a user belongs to
(active ones) nothing is granted. The tenant is the `tenant` argument, else
`obj.tenant_id`, else the current tenant of the request/task. Platform
permissions (`Permission.is_platform`) come only from flags.

Everything the answers need is loaded once per user object and kept on it,
so a request (whose `request.user` lives for that request) asks the database
a handful of times however many checks its page makes. Services that change a
user's grants call `forget(user)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cache

from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied
from django.db.models import F

from tenancy.authz.permissions import ALL_FLAGS, FLAG_PERMISSIONS, MODEL_PERMISSIONS, STAFF_BASE_PERMISSIONS
from tenancy.scoping import current_tenant_id

_CACHE_ATTR = "_tenancy_authz"
_MISMATCH = object()


class _Grants:
    """What one user may do, loaded lazily and kept for the life of the user object."""

    def __init__(self, user):
        self.user = user
        self._profiles: tuple | None = None
        self._memberships: list | None = None
        self._tenant_keys: dict[uuid.UUID, frozenset[str]] = {}
        self._service_keys: frozenset[str] | None = None
        self._flag_keys: frozenset[str] | None = None
        self._checker = None

    # staff profiles
    def profiles(self) -> tuple:
        if self._profiles is None:
            from tenancy.models import AdminProfile, SupportProfile

            admin = AdminProfile.objects.select_related("role").filter(user_id=self.user.pk).first()
            support = None if admin else SupportProfile.objects.filter(user_id=self.user.pk).first()
            self._profiles = (admin, support)
        return self._profiles

    def flags(self) -> frozenset[str]:
        on: set[str] = set()
        for profile in self.profiles():
            if profile is not None:
                on.update(flag for flag, value in profile.flags().items() if value)
        return frozenset(on)

    def is_staff_profile(self) -> bool:
        return any(profile is not None for profile in self.profiles())

    def flag_keys(self) -> frozenset[str]:
        if self._flag_keys is None:
            keys: set[str] = set(STAFF_BASE_PERMISSIONS) if self.is_staff_profile() else set()
            for flag in self.flags():
                keys.update(FLAG_PERMISSIONS.get(flag, ()))
            self._flag_keys = frozenset(keys)
        return self._flag_keys

    # tenants
    def memberships(self) -> list:
        if self._memberships is None:
            from tenancy.models import Membership

            self._memberships = list(Membership.objects.filter(user_id=self.user.pk).select_related("tenant")
                                     .order_by("-is_default", "tenant__name"))
        return self._memberships

    def member_tenant_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(m.tenant_id for m in self.memberships() if m.tenant.is_active)

    def tenant_keys(self, tenant_id: uuid.UUID) -> frozenset[str]:
        if tenant_id not in self._tenant_keys:
            from tenancy.models import Permission

            self._tenant_keys[tenant_id] = frozenset(
                Permission.objects.filter(
                    is_platform=False,
                    role_permissions__role__assignments__user_id=self.user.pk,
                    role_permissions__role__assignments__tenant_id=tenant_id,
                ).values_list("key", flat=True).distinct()
            )
        return self._tenant_keys[tenant_id]

    def service_keys(self) -> frozenset[str]:
        if self._service_keys is None:
            from tenancy.models import Permission

            self._service_keys = frozenset(
                Permission.objects.filter(
                    is_platform=False,
                    service__is_active=True,
                    role_permissions__role__service_assignments__user_id=self.user.pk,
                    role_permissions__role__service_assignments__is_active=True,
                    role_permissions__role__service_assignments__service_id=F("service_id"),
                ).values_list("key", flat=True).distinct()
            )
        return self._service_keys

    # django-guardian
    def object_codenames(self, obj) -> set[str]:
        if self._checker is None:
            from guardian.core import ObjectPermissionChecker

            self._checker = ObjectPermissionChecker(self.user)
        return set(self._checker.get_perms(obj))


def _grants(user) -> _Grants:
    grants = getattr(user, _CACHE_ATTR, None)
    if grants is None:
        grants = _Grants(user)
        setattr(user, _CACHE_ATTR, grants)
    return grants


def forget(user) -> None:
    """Drop what is cached on this user object (after its grants changed)."""
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _is_active_user(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def is_super_admin(user) -> bool:
    return _is_active_user(user) and bool(user.is_superuser)


def has_flag(user, flag_name: str) -> bool:
    """True when the user's admin or support profile has the flag on, or they are a super admin."""
    if flag_name not in ALL_FLAGS:
        raise ValueError(f"Unknown staff flag {flag_name!r}; known: {', '.join(ALL_FLAGS)}")
    if not _is_active_user(user):
        return False
    if user.is_superuser:
        return True
    return flag_name in _grants(user).flags()


def may_grant_flag(user, flag_name: str) -> bool:
    """Nobody hands out a staff power they lack: a flag may be switched on, on any profile, by someone who
    holds it or holds every permission it confers (an admin with can_handle_appeals holds orders.view, so
    may give a support can_view_orders; nobody but a super admin holds requisites.view_sensitive)."""
    if has_flag(user, flag_name):
        return True
    return _is_active_user(user) and FLAG_PERMISSIONS.get(flag_name, frozenset()) <= _grants(user).flag_keys()


def has_staff_profile(user) -> bool:
    if not _is_active_user(user):
        return False
    return bool(user.is_superuser) or _grants(user).is_staff_profile()


def admin_profile(user):
    return _grants(user).profiles()[0] if _is_active_user(user) else None


def support_profile(user):
    return _grants(user).profiles()[1] if _is_active_user(user) else None


def member_tenant_ids(user) -> frozenset[uuid.UUID]:
    """Active tenants the user belongs to (cached with the user's other grants)."""
    return _grants(user).member_tenant_ids() if _is_active_user(user) else frozenset()


def memberships(user) -> list:
    """The user's memberships (with tenants), default first; cached."""
    return _grants(user).memberships() if _is_active_user(user) else []


@cache
def _django_app_labels() -> frozenset[str]:
    return frozenset(config.label for config in django_apps.get_app_configs())


def _resolve_key(perm: str) -> tuple[str | None, bool]:
    """(our key, is a Django model permission). Django permissions map through the registry."""
    prefix = perm.split(".", 1)[0]
    if prefix in _django_app_labels():
        return MODEL_PERMISSIONS.get(perm), True
    return perm, False


def _tenant_of(tenant, obj):
    explicit = uuid.UUID(str(getattr(tenant, "pk", tenant))) if tenant else None
    from_obj = None
    if obj is not None:
        from tenancy.models import Tenant

        raw = obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)
        from_obj = uuid.UUID(str(raw)) if raw else None
    if explicit and from_obj and explicit != from_obj:
        return _MISMATCH
    return explicit or from_obj or current_tenant_id()


def _guardian_names(perm: str, key: str | None, is_django: bool, obj) -> set[str]:
    if is_django:
        return {perm.split(".", 1)[1]}
    resource, _, action = (key or perm).partition(".")
    names = {f"{resource}_{action}"}
    django_action = {"view": "view", "manage": "change", "edit": "change", "add": "add", "delete": "delete"}.get(action)
    if django_action:
        names.add(f"{django_action}_{obj._meta.model_name}")
    return names


def can(user, perm_key: str, *, tenant=None, obj=None) -> bool:
    """May `user` do `perm_key` (`resource.action`, or a Django `app.codename`)? See the module docstring."""
    if not _is_active_user(user):
        return False
    if user.is_superuser:
        return True
    key, is_django = _resolve_key(perm_key)
    grants = _grants(user)
    tenant_id = _tenant_of(tenant, obj)
    if tenant_id is _MISMATCH:
        return False
    if tenant_id is not None and tenant_id not in grants.member_tenant_ids():
        return False

    granted = key is not None and (
        key in grants.flag_keys()
        or key in grants.service_keys()
        or (tenant_id is not None and key in grants.tenant_keys(tenant_id))
    )
    if obj is not None and getattr(obj, "pk", None) is not None:
        if not granted:
            granted = bool(_guardian_names(perm_key, key, is_django, obj) & grants.object_codenames(obj))
        rule = OBJECT_RULES.get(key or "")
        if granted and rule is not None:
            granted = rule(user, obj)
    return granted


# Object rules: extra conditions on particular objects, whatever granted the key.

def _staff_kind(user) -> str | None:
    from tenancy.models import AdminProfile, SupportProfile

    if user.is_superuser:
        return "super_admin"
    if AdminProfile.objects.filter(user_id=user.pk).exists():
        return "admin"
    if SupportProfile.objects.filter(user_id=user.pk).exists():
        return "support"
    return None


def may_act_on_account(actor, target, *, newcomers: bool = False) -> bool:
    """May `actor` use staff powers on `target`'s account? A super admin on anyone's; nobody else on their
    own (that is what the profile pages are for) or a super admin's, and only on people who share an active
    tenant with them — with `newcomers`, also on someone who belongs to no tenant yet (being brought into
    one). On top of that, an admin's account needs can_manage_other_admins and a support's
    can_manage_supports."""
    if not _is_active_user(actor):
        return False
    if actor.is_superuser:
        return True
    if target.pk == actor.pk:
        return False
    kind = _staff_kind(target)
    if kind == "super_admin":
        return False
    if not (_shares_a_tenant(actor, target) or (newcomers and not _is_member_anywhere(target))):
        return False
    if kind == "admin":
        return has_flag(actor, "can_manage_other_admins")
    if kind == "support":
        return has_flag(actor, "can_manage_supports")
    return True


def _shares_a_tenant(actor, target) -> bool:
    from tenancy.models import Membership

    return Membership.objects.filter(user_id=target.pk, tenant_id__in=member_tenant_ids(actor)).exists()


def _is_member_anywhere(user) -> bool:
    from tenancy.models import Membership

    return Membership.objects.filter(user_id=user.pk).exists()


def _target_user(obj):
    user_model = django_apps.get_model("accounts", "User")
    target = obj if isinstance(obj, user_model) else getattr(obj, "user", None)
    return target if isinstance(target, user_model) else None


def _user_rule(actor, obj) -> bool:
    target = _target_user(obj)
    return True if target is None else may_act_on_account(actor, target)


def _user_view_rule(actor, obj) -> bool:
    target = _target_user(obj)
    return target is None or target.pk == actor.pk or may_act_on_account(actor, target)


def _staff_profile_rule(actor, obj) -> bool:
    target = getattr(obj, "user", None)
    if target is None:
        return True
    if target.pk == actor.pk or target.is_superuser:
        return False
    return not (getattr(obj, "role", None) is not None and obj.role.key == "super_admin")


OBJECT_RULES: dict[str, Callable] = {
    "users.view": _user_view_rule,
    "users.manage": _user_rule,
    "staff.manage_admins": _staff_profile_rule,
    "staff.manage_supports": _staff_profile_rule,
}



def require(actor, perm_key: str, *, tenant=None, obj=None, message: str = "") -> None:
    """The services' check. No actor: the platform itself. Otherwise the actor must be allowed, or
    PermissionDenied."""
    if actor is None:
        return
    if not can(actor, perm_key, tenant=tenant, obj=obj):
        raise PermissionDenied(message or f"You may not do {perm_key} here.")
