"""The authorization catalog in code: staff flags, role templates, which flag
confers which permission, and how Django admin's model permissions map onto
our `resource.action` keys.

Permission, role and service *rows* are created by data migrations (frozen
copies of the lists there); this module holds what the code needs at run time.
A test checks that both agree.
"""

from collections.abc import Iterable, Mapping

# The boolean permission flags of staff profiles (tables `admins` / `supports`): each confers the permissions
# of FLAG_PERMISSIONS below.
ADMIN_FLAGS: tuple[str, ...] = (
    "can_manage_other_admins",
    "can_manage_supports",
    "can_manage_merchants",
    "can_manage_traders",
    "can_edit_system_settings",
    "can_edit_limits",
    "can_view_full_logs",
    "can_handle_appeals",
)
SUPPORT_FLAGS: tuple[str, ...] = (
    "can_edit_trader_settings",
    "can_manage_orders",
    "can_view_orders",
    "can_handle_appeals",
    "can_view_sensitive_data",
)
ALL_FLAGS: tuple[str, ...] = tuple(dict.fromkeys(ADMIN_FLAGS + SUPPORT_FLAGS))

SUPER_ADMIN_ROLE = "super_admin"
# The operator's own admin: a tenant role (every tenant-level permission in that operator's pages). Like every
# tenant role it does not open the Django admin, which needs a staff profile (Admins / Supports).
OPERATOR_ADMIN_ROLE = "admin"

# Role templates: picking one prefills these flags on a staff profile; the flags are then edited one by one.
ROLE_TEMPLATES: dict[str, frozenset[str]] = {
    "super_admin": frozenset(ADMIN_FLAGS),
    "admin_full": frozenset(ADMIN_FLAGS) - {"can_manage_other_admins"},
    "admin_limited": frozenset({"can_edit_limits", "can_view_full_logs", "can_handle_appeals"}),
    "support_trader_settings": frozenset({"can_edit_trader_settings", "can_view_orders"}),
    "support_orders": frozenset({"can_manage_orders", "can_handle_appeals", "can_view_orders"}),
    "support_readonly": frozenset({"can_view_orders"}),
}
ADMIN_TEMPLATES = ("super_admin", "admin_full", "admin_limited")
SUPPORT_TEMPLATES = ("support_trader_settings", "support_orders", "support_readonly")


def template_flags(role_key: str, flags: Iterable[str]) -> dict[str, bool]:
    """The template's value for each of `flags` (unknown template: all False)."""
    on = ROLE_TEMPLATES.get(role_key, frozenset())
    return {flag: flag in on for flag in flags}


# Every staff profile may read the audit entries of its own actions.
STAFF_BASE_PERMISSIONS = frozenset({"audit.view"})

_USER_ADMIN = ("users.view", "users.manage")
_TENANT_PEOPLE = ("memberships.view", "memberships.manage", "role_assignments.view", "role_assignments.manage")

FLAG_PERMISSIONS: dict[str, frozenset[str]] = {
    "can_manage_other_admins": frozenset({"staff.manage_admins", *_USER_ADMIN}),
    "can_manage_supports": frozenset({"staff.manage_supports", *_USER_ADMIN}),
    "can_manage_merchants": frozenset({"merchants.view", "merchants.manage", "stores.view", "stores.manage",
                                       "balances.view", *_USER_ADMIN, *_TENANT_PEOPLE}),
    "can_manage_traders": frozenset({"traders.view", "traders.manage", "trader_settings.edit", "requisites.view",
                                     "requisites.manage", "balances.view", *_USER_ADMIN, *_TENANT_PEOPLE}),
    "can_edit_system_settings": frozenset({"settings.edit", "tenants.view", "reference_data.manage",
                                           "exchange_rates.manage"}),
    "can_edit_limits": frozenset({"limits.edit", "merchants.view", "stores.view", "traders.view",
                                  "requisites.view"}),
    "can_view_full_logs": frozenset({"audit.view_full"}),
    "can_handle_appeals": frozenset({"appeals.handle", "orders.view"}),
    "can_edit_trader_settings": frozenset({"trader_settings.edit", "traders.view", "requisites.view",
                                           "requisites.manage", "limits.edit"}),
    "can_manage_orders": frozenset({"orders.view", "orders.manage"}),
    "can_view_orders": frozenset({"orders.view"}),
    "can_view_sensitive_data": frozenset({"requisites.view_sensitive"}),
}

# Roles only holders of these flags may hand out (besides a super admin).
ROLE_ASSIGNER_FLAGS: dict[str, str] = {
    "merchant": "can_manage_merchants",
    "trader": "can_manage_traders",
}


# Django admin asks `user.has_perm("<app>.<action>_<model>")`; these say which key answers.
MODEL_PERMISSIONS: dict[str, str] = {}


def register_model_permissions(model_label: str, *, view: str | None = None, add: str | None = None,
                               change: str | None = None, delete: str | None = None) -> None:
    """Map one model's Django permissions to keys, e.g.
    register_model_permissions("payments.merchant", view="merchants.view", change="merchants.manage").
    Unmapped Django permissions are refused for everyone but a super admin."""
    app_label, model_name = model_label.lower().split(".")
    for action, key in (("view", view), ("add", add), ("change", change), ("delete", delete)):
        if key:
            MODEL_PERMISSIONS[f"{app_label}.{action}_{model_name}"] = key


def register_many(mapping: Mapping[str, Mapping[str, str]]) -> None:
    for model_label, actions in mapping.items():
        register_model_permissions(model_label, **actions)


def _manage(view: str, manage: str) -> dict[str, str]:
    return {"view": view, "add": manage, "change": manage, "delete": manage}


register_many({
    "tenancy.tenant": _manage("tenants.view", "tenants.manage"),
    "tenancy.membership": _manage("memberships.view", "memberships.manage"),
    "tenancy.roleassignment": _manage("role_assignments.view", "role_assignments.manage"),
    "tenancy.role": _manage("role_assignments.view", "roles.manage"),
    "tenancy.rolepermission": _manage("role_assignments.view", "roles.manage"),
    "tenancy.permission": {"view": "role_assignments.view"},
    "tenancy.service": _manage("role_assignments.view", "roles.manage"),
    "tenancy.servicerole": _manage("service_roles.manage", "service_roles.manage"),
    "tenancy.adminprofile": _manage("staff.manage_admins", "staff.manage_admins"),
    "tenancy.supportprofile": _manage("staff.manage_supports", "staff.manage_supports"),
    "audit.auditlog": {"view": "audit.view"},
    "accounts.user": _manage("users.view", "users.manage"),
    "accounts.usersession": {"view": "users.view", "change": "users.manage", "delete": "users.manage"},
    "accounts.otpverification": {"view": "users.view"},
})
