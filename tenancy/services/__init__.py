"""Writes of tenancy: tenants, memberships, roles, service roles, object permissions, staff.

Each function is one action: it checks that the acting user may do it (when
an actor is given — no actor means the platform itself: migrations, demo,
management commands), writes in one transaction and records the audit entry.
A refusal is `django.core.exceptions.PermissionDenied`; bad input is
`django.core.exceptions.ValidationError`.
"""

from tenancy.services.memberships import add_membership, remove_membership, set_default_membership
from tenancy.services.roles import (
    assign_role,
    check_can_assign_role,
    grant_object_permission,
    remove_service_role,
    revoke_object_permission,
    revoke_role,
    set_service_role,
)
from tenancy.services.staff import (
    check_can_grant_flags,
    check_can_manage_admins,
    check_can_manage_supports,
    create_admin_profile,
    create_super_admin,
    create_support_profile,
    delete_admin_profile,
    delete_support_profile,
    grantable_flags,
    update_admin_profile,
    update_support_profile,
)
from tenancy.services.tenants import create_tenant, delete_tenant, platform_wide_access, update_tenant

__all__ = [
    "add_membership", "remove_membership", "set_default_membership",
    "assign_role", "check_can_assign_role", "grant_object_permission", "remove_service_role",
    "revoke_object_permission", "revoke_role", "set_service_role",
    "check_can_grant_flags", "check_can_manage_admins", "check_can_manage_supports", "grantable_flags",
    "create_admin_profile", "create_super_admin",
    "create_support_profile", "delete_admin_profile", "delete_support_profile", "update_admin_profile",
    "update_support_profile",
    "create_tenant", "delete_tenant", "platform_wide_access", "update_tenant",
]
