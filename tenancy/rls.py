"""Row Level Security for tenant-scoped tables, applied by migrations.

Use in a migration after the table is created:

    from tenancy.rls import EnableTenantRLS
    operations = [..., EnableTenantRLS("incoming_orders")]

On PostgreSQL it enables and forces RLS and adds one policy: a row is visible
and writable only when its tenant_id equals `app.tenant_id`, or when
`app.bypass_rls` is 'on' (explicit platform-wide work). Elsewhere it does nothing.
"""

from django.db.migrations.operations.base import Operation

POLICY = "tenant_isolation"


class EnableTenantRLS(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str):
        self.table = table

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        # uuid = uuid (not tenant_id::text = …) so the tenant_id index stays usable; '' or unset → NULL → no row.
        condition = (
            "(current_setting('app.bypass_rls', true) = 'on' "
            "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)"
        )
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"CREATE POLICY {POLICY} ON {table} USING {condition} WITH CHECK {condition}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable tenant row level security on {self.table}"

    def deconstruct(self):
        return (self.__class__.__name__, [self.table], {})
