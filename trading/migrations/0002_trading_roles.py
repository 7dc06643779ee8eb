"""Seed 000's user roles (Admin, Manager, Trader) as tenant roles of the trading service."""

from django.db import migrations

from tenancy.catalog import GRANTS, PERMISSIONS, ROLES, SERVICES, TRADING_ROLES, ensure_catalog


def forwards(apps, schema_editor):
    ensure_catalog(
        apps,
        services=[service for service in SERVICES if service[0] == "trading"],
        permissions=[permission for permission in PERMISSIONS if permission[2] == "trading"],
        roles=[role for role in ROLES if role[0] in TRADING_ROLES],
        grants={key: GRANTS[key] for key in TRADING_ROLES},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0001_initial"),
        ("tenancy", "0003_catalog"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
