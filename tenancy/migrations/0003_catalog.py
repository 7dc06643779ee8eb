"""System services, permissions and roles, from tenancy.catalog.

The catalog is additive and idempotent; after this first write a post_migrate
handler (tenancy.apps) keeps it in step with tenancy/catalog.py."""

from django.db import migrations


def forwards(apps, schema_editor):
    from tenancy.catalog import sync_system_catalog

    sync_system_catalog(apps)


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0002_authorization"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
