"""Trading traders may follow masters (`masters.follow`): the copy-trading pages let a person follow a listed
master with its token, which the role lacked when it was first written."""

from django.db import migrations


def forwards(apps, schema_editor):
    Role = apps.get_model("tenancy", "Role")
    Permission = apps.get_model("tenancy", "Permission")
    RolePermission = apps.get_model("tenancy", "RolePermission")
    role = Role.objects.filter(key="trading_trader").first()
    permission = Permission.objects.filter(key="masters.follow").first()
    if role is not None and permission is not None:
        RolePermission.objects.get_or_create(role=role, permission=permission)


class Migration(migrations.Migration):
    dependencies = [("trading", "0004_copytrade")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
