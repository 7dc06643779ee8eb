"""The system catalog — services, permissions, roles and their grants —
and the helper that writes it.

Migration 0003 writes it first; after that a `post_migrate` handler keeps the
database in step with this module on every `migrate` (and after test-database
flushes), adding what is new and never deleting. Functions here take an
`apps` registry (a migration's historical one, or the real one), so they work
in both places. Another app adding permission keys can list them in its own
data migration (depending on tenancy's latest) with `ensure_catalog`:

    def forwards(apps, schema_editor):
        ensure_catalog(apps, permissions=[("payouts.approve", "Approve payouts", "payments", False)],
                       grants={"admin": ["payouts.approve"]})
"""

from collections.abc import Iterable, Mapping


def ensure_catalog(
    apps,
    *,
    services: Iterable[tuple[str, str]] = (),
    permissions: Iterable[tuple[str, str, str, bool]] = (),
    roles: Iterable[tuple[str, str, str, str]] = (),
    grants: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Create what is missing; never deletes, and never undoes what staff edited in the admin.

    services: (name, description); permissions: (key, name, service, is_platform);
    roles: (key, name, description, applies_to) — created as system roles;
    grants: {role_key: [permission keys]} — given when the role or the permission is new here
    (so a permission a super admin took away from an existing role stays away).
    """
    Service = apps.get_model("tenancy", "Service")
    Permission = apps.get_model("tenancy", "Permission")
    Role = apps.get_model("tenancy", "Role")
    RolePermission = apps.get_model("tenancy", "RolePermission")

    for name, description in services:
        Service.objects.get_or_create(name=name, defaults={"description": description})
    new_permissions: set[str] = set()
    for key, name, service_name, is_platform in permissions:
        resource, action = key.split(".", 1)
        _permission, created = Permission.objects.update_or_create(key=key, defaults={
            "name": name, "resource": resource, "action": action, "is_platform": is_platform,
            "service": Service.objects.get(name=service_name) if service_name else None,
        })
        if created:
            new_permissions.add(key)
    new_roles: set[str] = set()
    for key, name, description, applies_to in roles:
        _role, created = Role.objects.get_or_create(key=key, defaults={
            "name": name, "description": description, "applies_to": applies_to, "is_system": True,
        })
        if created:
            new_roles.add(key)
    for role_key, keys in (grants or {}).items():
        role = Role.objects.get(key=role_key)
        wanted = list(keys) if role_key in new_roles else [key for key in keys if key in new_permissions]
        for permission in Permission.objects.filter(key__in=wanted):
            RolePermission.objects.get_or_create(role=role, permission=permission)


SERVICES = [
    ("accounts", "Identity, tenants, roles and staff"),
    ("payments", "P2P payment processing (JivaPay)"),
    ("trading", "Signal and copy trading"),
]

# key, name, service, is_platform (platform keys come only from staff flags or a super admin)
PERMISSIONS = [
    ("users.view", "View users", "accounts", False),
    ("users.manage", "Manage users", "accounts", False),
    ("tenants.view", "View tenants", "accounts", True),
    ("tenants.manage", "Create and change tenants", "accounts", True),
    ("memberships.view", "View tenant members", "accounts", False),
    ("memberships.manage", "Add and remove tenant members", "accounts", False),
    ("role_assignments.view", "View role assignments", "accounts", False),
    ("role_assignments.manage", "Assign and revoke tenant roles", "accounts", False),
    ("roles.manage", "Define roles and their permissions", "accounts", True),
    ("service_roles.manage", "Assign service roles", "accounts", True),
    ("staff.manage_admins", "Manage admins", "accounts", True),
    ("staff.manage_supports", "Manage supports", "accounts", True),
    ("audit.view", "View own audit entries", "accounts", True),
    ("audit.view_full", "View the full audit log", "accounts", True),
    ("settings.edit", "Edit system settings", "accounts", True),
    ("merchants.view", "View merchants", "payments", False),
    ("merchants.manage", "Manage merchants", "payments", False),
    ("stores.view", "View stores", "payments", False),
    ("stores.manage", "Manage stores and their keys", "payments", False),
    ("traders.view", "View traders", "payments", False),
    ("traders.manage", "Manage traders", "payments", False),
    ("trader_settings.edit", "Edit trader settings", "payments", False),
    ("requisites.view", "View requisites (masked)", "payments", False),
    ("requisites.manage", "Manage requisites", "payments", False),
    ("requisites.view_sensitive", "See whole requisite numbers", "payments", True),
    ("limits.edit", "Edit limits", "payments", False),
    ("orders.view", "View orders", "payments", False),
    ("orders.manage", "Change order status", "payments", False),
    ("appeals.handle", "Handle appeals", "payments", False),
    ("balances.view", "View balances", "payments", False),
    ("balances.withdraw", "Ask to withdraw or top up one's own balance", "payments", False),
    ("balances.manage", "Adjust balances", "payments", True),
    ("reference_data.manage", "Manage banks, methods and currencies", "payments", False),
    ("exchange_rates.manage", "Manage exchange rates", "payments", False),
    ("trading_accounts.view", "View trading accounts", "trading", False),
    ("trading_accounts.manage", "Manage trading accounts", "trading", False),
    ("signals.view", "View signals", "trading", False),
    ("signals.manage", "Send and manage signals", "trading", False),
    ("trading_orders.view", "View exchange orders", "trading", False),
    ("trading_orders.manage", "Place and cancel exchange orders", "trading", False),
    ("positions.view", "View positions", "trading", False),
    ("trading_settings.manage", "Manage risk settings", "trading", False),
    ("masters.follow", "Follow a master account", "trading", False),
]

# key, name, description, applies_to
ROLES = [
    ("super_admin", "Super admin", "Every flag; manages admins and supports.", "admin"),
    ("admin_full", "Admin (full)", "All admin flags but managing other admins.", "admin"),
    ("admin_limited", "Admin (limited)", "Limits, full logs and appeals.", "admin"),
    ("support_trader_settings", "Support (trader settings)", "Requisites, limits and statuses of traders.",
     "support"),
    ("support_orders", "Support (orders and appeals)", "Order status and appeals.", "support"),
    ("support_readonly", "Support (read only)", "Views orders only.", "support"),
    ("merchant", "Merchant", "Owns stores and their orders.", "all"),
    ("trader", "Trader", "Owns requisites and works the orders assigned to them.", "all"),
    ("admin", "Admin", "Every tenant-level permission.", "all"),
    ("user", "User", "A person who trades.", "all"),
    ("manager", "Manager", "Runs merchants, traders and orders.", "all"),
    ("moderator", "Moderator", "Orders, appeals and signals.", "all"),
    # The trading service's user roles, as tenant roles; named `trading_*` so they never mix with the P2P
    # `trader` above (a person who works payment orders on bank requisites).
    ("trading_admin", "Trading admin", "Every trading permission of the tenant.", "all"),
    ("trading_manager", "Trading manager", "Sees every trading account, signal, order and position of the tenant; "
     "manages signals and risk settings.", "all"),
    ("trading_trader", "Trading trader", "Trades on own accounts (signals, orders, settings).", "all"),
]

_TENANT_LEVEL = [key for key, _name, _service, platform in PERMISSIONS if not platform]

GRANTS = {
    "super_admin": [key for key, *_ in PERMISSIONS],
    "admin_full": ["users.view", "users.manage", "memberships.view", "memberships.manage", "role_assignments.view",
                   "role_assignments.manage", "merchants.view", "merchants.manage", "stores.view", "stores.manage",
                   "traders.view", "traders.manage", "trader_settings.edit", "requisites.view", "requisites.manage",
                   "balances.view", "reference_data.manage", "exchange_rates.manage", "limits.edit",
                   "appeals.handle", "orders.view"],
    "admin_limited": ["limits.edit", "merchants.view", "stores.view", "traders.view", "requisites.view",
                      "appeals.handle", "orders.view"],
    "support_trader_settings": ["trader_settings.edit", "traders.view", "requisites.view", "requisites.manage",
                                "limits.edit", "orders.view"],
    "support_orders": ["orders.view", "orders.manage", "appeals.handle"],
    "support_readonly": ["orders.view"],
    "merchant": ["merchants.view", "stores.view", "stores.manage", "orders.view", "balances.view",
                 "balances.withdraw"],
    "trader": ["traders.view", "requisites.view", "requisites.manage", "orders.view", "orders.manage",
               "balances.view", "balances.withdraw"],
    "admin": _TENANT_LEVEL,
    "manager": ["users.view", "memberships.view", "role_assignments.view", "merchants.view", "merchants.manage",
                "stores.view", "stores.manage", "traders.view", "traders.manage", "requisites.view",
                "requisites.manage", "orders.view", "orders.manage", "balances.view", "trading_accounts.view",
                "signals.view"],
    "moderator": ["users.view", "orders.view", "orders.manage", "appeals.handle", "trading_accounts.view",
                  "signals.view"],
    "user": ["trading_accounts.view", "trading_accounts.manage", "signals.view", "signals.manage",
             "trading_orders.view", "trading_orders.manage", "positions.view", "trading_settings.manage",
             "masters.follow"],
    "trading_admin": [key for key, _name, service, platform in PERMISSIONS if service == "trading" and not platform],
    "trading_manager": ["trading_accounts.view", "signals.view", "signals.manage", "trading_orders.view",
                        "positions.view", "trading_settings.manage"],
    "trading_trader": ["trading_accounts.view", "trading_accounts.manage", "signals.view", "signals.manage",
                       "trading_orders.view", "trading_orders.manage", "positions.view", "trading_settings.manage",
                       "masters.follow"],
}

# The roles of the `trading` service, for the service-role pickers and trading's data migration.
TRADING_ROLES = ("trading_admin", "trading_manager", "trading_trader")


def sync_system_catalog(apps) -> None:
    """Write the system catalog above (idempotent, additive)."""
    ensure_catalog(apps, services=SERVICES, permissions=PERMISSIONS, roles=ROLES, grants=GRANTS)
