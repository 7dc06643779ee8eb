"""Which staff flags (on Admin and Support profiles) allow which payments actions.

Admin and services ask here, so a rule holds whichever path is taken; the
answer itself comes from tenancy.authz.has_flag (profiles, super admin).
"""

from django.core.exceptions import PermissionDenied

from tenancy.authz import has_flag

# Who may change what (any one flag of the tuple is enough).
EDIT_LIMITS = ("can_edit_limits",)
EDIT_REQUISITE_LIMITS = ("can_edit_limits", "can_edit_trader_settings")
EDIT_TRADER_SETTINGS = ("can_edit_trader_settings", "can_manage_traders")
MANAGE_TRADERS = ("can_manage_traders",)
MANAGE_MERCHANTS = ("can_manage_merchants",)
# Admin profiles have no order flags; handling appeals is how admins work with orders.
VIEW_ORDERS = ("can_view_orders", "can_manage_orders", "can_handle_appeals")
MANAGE_ORDERS = ("can_manage_orders",)
HANDLE_APPEALS = ("can_handle_appeals",)
VIEW_SENSITIVE = ("can_view_sensitive_data",)
EDIT_REFERENCE_DATA = ("can_edit_system_settings",)

# Flags that give a staff member any business in the payments admin at all.
ANY_PAYMENTS_FLAG = tuple(dict.fromkeys(
    EDIT_REQUISITE_LIMITS + EDIT_TRADER_SETTINGS + MANAGE_MERCHANTS + VIEW_ORDERS + VIEW_SENSITIVE
    + EDIT_REFERENCE_DATA
))


def has_any_flag(user, flags: tuple[str, ...]) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return any(has_flag(user, flag) for flag in flags)


def require_any_flag(user, flags: tuple[str, ...], *, action: str) -> None:
    """Raise PermissionDenied unless `user` holds one of `flags`."""
    if not has_any_flag(user, flags):
        raise PermissionDenied(f"Not allowed to {action}: needs {' or '.join(flags)}.")
