"""The trading service's user roles (admin, manager, trader) as tenant roles, with their permissions.

The roles and grants are frozen here as they were written (tenancy/catalog.py keeps the live catalog, and
its post_migrate handler adds what is new later), so this migration means the same whatever the app's
code becomes. Permissions are the trading service's, created by tenancy's catalog migration.
"""

from django.db import migrations

ROLES = [
    ("trading_admin", "Trading admin", "Every trading permission of the tenant."),
    ("trading_manager", "Trading manager", "Sees every trading account, signal, order and position of the tenant; "
     "manages signals and risk settings."),
    ("trading_trader", "Trading trader", "Trades on own accounts (signals, orders, settings)."),
]
GRANTS = {
    "trading_admin": ["trading_accounts.view", "trading_accounts.manage", "signals.view", "signals.manage",
                      "trading_orders.view", "trading_orders.manage", "positions.view", "trading_settings.manage",
                      "masters.follow"],
    "trading_manager": ["trading_accounts.view", "signals.view", "signals.manage", "trading_orders.view",
                        "positions.view", "trading_settings.manage"],
    "trading_trader": ["trading_accounts.view", "trading_accounts.manage", "signals.view", "signals.manage",
                       "trading_orders.view", "trading_orders.manage", "positions.view", "trading_settings.manage"],
}


def forwards(apps, schema_editor):
    Role = apps.get_model("tenancy", "Role")
    Permission = apps.get_model("tenancy", "Permission")
    RolePermission = apps.get_model("tenancy", "RolePermission")
    for key, name, description in ROLES:
        role, _ = Role.objects.get_or_create(key=key, defaults={"name": name, "description": description,
                                                                "applies_to": "all", "is_system": True})
        for permission in Permission.objects.filter(key__in=GRANTS[key]):
            RolePermission.objects.get_or_create(role=role, permission=permission)


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0001_initial"),
        ("tenancy", "0003_catalog"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
