"""Row Level Security for tenant-scoped tables, applied by migrations.

Use in a migration after the table is created:

    from tenancy.rls import EnableTenantRLS
    operations = [..., EnableTenantRLS("incoming_orders")]

On PostgreSQL it enables and forces RLS and adds one policy: a row is visible
and writable only when its tenant_id equals `app.tenant_id`, or when
`app.bypass_rls` is 'on' (explicit platform-wide work). Elsewhere it does nothing.

The settings are read in sub-selects, so PostgreSQL reads each once per query (an InitPlan) instead of
calling `current_setting` for every row it looks at: a scan of 100 000 orders spends half its time less
(bench/pages.py). `RefreshTenantPolicies` rewrites the policy of every table that has one (migration
tenancy 0005), for databases made before that.
"""

from django.db.migrations.operations.base import Operation

POLICY = "tenant_isolation"

# uuid = uuid (not tenant_id::text = …) so the tenant_id index stays usable; '' or unset → NULL → no row.
CONDITION = (
    "((SELECT current_setting('app.bypass_rls', true)) = 'on' "
    "OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))"
)


def create_policy(schema_editor, quoted_table: str) -> None:
    schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quoted_table}")
    schema_editor.execute(f"CREATE POLICY {POLICY} ON {quoted_table} USING {CONDITION} WITH CHECK {CONDITION}")


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
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        create_policy(schema_editor, table)

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


class RefreshTenantPolicies(Operation):
    """Rewrite the tenant policy of every table that has one, with the current CONDITION."""

    reversible = True
    reduces_to_sql = False

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT schemaname, tablename FROM pg_policies WHERE policyname = %s", [POLICY])
            tables = cursor.fetchall()
        for schema, table in tables:
            create_policy(schema_editor, f"{schema_editor.quote_name(schema)}.{schema_editor.quote_name(table)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass  # the older condition allowed the same rows; keeping the faster one is harmless

    def describe(self):
        return "Rewrite every tenant policy with the current condition"
