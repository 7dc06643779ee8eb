"""Reads: a user's permissions in a tenant, a tenant's users with their roles, a permission check, and which
tenant a user acts in."""

import uuid

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet

from tenancy import authz
from tenancy.models import Membership, Permission, RoleAssignment, Tenant


def permissions_of_user_in_tenant(*, user, tenant) -> QuerySet[Permission]:
    """Every permission of a user in a tenant: DISTINCT p.key, p.name, p.resource, p.action over the
    user's role assignments in the tenant."""
    return (
        Permission.objects.filter(
            role_permissions__role__assignments__user=user,
            role_permissions__role__assignments__tenant=tenant,
        )
        .distinct()
        .order_by("key")
    )


def tenant_users_with_roles(*, tenant) -> QuerySet:
    """Every user of a tenant: active users who are members of the tenant, one row per
    role they hold there, with `role_name`."""
    return (
        get_user_model().objects.filter(
            status="active",
            memberships__tenant=tenant,
            role_assignments__tenant=tenant,
        )
        .annotate(role_name=F("role_assignments__role__name"), role_key=F("role_assignments__role__key"))
        .order_by("email", "role_name")
    )


def operator_roles(user) -> list[RoleAssignment]:
    """The tenant roles a user holds in the operators they belong to (active ones), with role and tenant."""
    return list(RoleAssignment.objects.filter(user_id=user.pk, tenant_id__in=authz.member_tenant_ids(user))
                .select_related("role", "tenant").order_by("tenant__name", "role__name"))


def user_has_permission(*, user, tenant, perm_key: str) -> bool:
    """Does the user hold the permission in the tenant: EXISTS over the user's role assignments in the tenant."""
    return Permission.objects.filter(
        key=perm_key,
        role_permissions__role__assignments__user=user,
        role_permissions__role__assignments__tenant=tenant,
    ).exists()


def switchable_tenants(user) -> list[Tenant]:
    """Tenants the user may act in: their active memberships; a super admin, every active tenant."""
    if authz.is_super_admin(user):
        return list(Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("name"))
    return [m.tenant for m in authz.memberships(user) if m.tenant.is_active]


def tenant_for_user(user, tenant_id) -> Tenant | None:
    """The tenant if the user may act in it (a member, or a super admin), else None."""
    try:
        wanted = uuid.UUID(str(tenant_id))
    except (TypeError, ValueError):
        return None
    for membership in authz.memberships(user):
        if membership.tenant_id == wanted:
            return membership.tenant if membership.tenant.is_active else None
    if authz.is_super_admin(user):
        return Tenant.objects.filter(pk=wanted, status=Tenant.Status.ACTIVE).first()
    return None


def default_tenant(user) -> Tenant | None:
    """The default membership's tenant, else the first active one (memberships come default first)."""
    for membership in authz.memberships(user):
        if membership.tenant.is_active:
            return membership.tenant
    return None


def membership_of(*, user, tenant) -> Membership | None:
    return Membership.objects.filter(user=user, tenant=tenant).first()


def users_in_reach(actor) -> QuerySet | None:
    """The people whose rows (sessions, codes, staff profiles, …) `actor` may see as staff: users who share
    an active tenant with them, never a super admin. `None` for a super admin: everyone.

    Staff work inside their tenants; a row about a person outside them (their IP, phone, devices) is
    another operator's business, and a super admin's account is out of reach of everyone but a super admin.
    """
    if authz.is_super_admin(actor):
        return None
    shared = Membership.objects.filter(tenant_id__in=authz.member_tenant_ids(actor)).values("user_id")
    return get_user_model().objects.filter(pk__in=shared, is_superuser=False)


def in_reach(actor, user) -> bool:
    """Is `user` one of `users_in_reach(actor)`?"""
    reach = users_in_reach(actor)
    return reach is None or (user is not None and reach.filter(pk=user.pk).exists())
