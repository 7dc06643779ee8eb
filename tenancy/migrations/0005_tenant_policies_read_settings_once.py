"""Every tenant policy reads app.tenant_id and app.bypass_rls once per query, not once per row (tenancy.rls)."""

from django.db import migrations

from tenancy.rls import RefreshTenantPolicies


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0004_tenant_accepts_applications")]

    operations = [RefreshTenantPolicies()]
