"""PostgreSQL Row Level Security: raw SQL that lacks the right tenant sees nothing.

The tables are found, not listed: every concrete subclass of TenantScopedModel,
and every table with a tenant_id column (which must be protected or named in
the allowlist below, with the reason). Run as CI does, as a role that is not
a superuser and has no BYPASSRLS; if the connection is privileged anyway, the
checks switch to such a role for the test's transaction.
"""

import uuid

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from tenancy.models import Tenant
from tenancy.rls import EnableTenantRLS
from tenancy.scoping import TenantScopedModel, dangerously_bypass_tenant_scope, tenant_context
from tenancy.tests import rls_rows
from tenancy.tests.factories import TenantFactory

pytestmark = pytest.mark.postgres

# Tables with a tenant_id that are deliberately NOT under RLS, and why.
ALLOWLIST = {
    # Memberships say which tenant a request may enter, so they are read before any tenant is set.
    "user_tenants": "membership lookup precedes the tenant",
    # Authorization reads a user's roles across their tenants (switcher, can()); writes go through services.
    "user_role_assignments": "authorization reads across the user's tenants",
    # A user's device logins (accounts); the column records where the login happened.
    "sessions": "identity rows, one user's devices",
    # The platform-wide audit trail: visibility is by staff flag (can_view_full_logs); append-only by trigger.
    "audit_logs": "platform-wide trail",
    # Applications to join an operator (accounts): made by people who belong to no tenant yet and read by them
    # across operators; staff see only their current tenant's (the admin filters by it).
    "operator_applications": "applicants are not members of the tenant yet",
}


def scoped_models() -> list:
    return [model for model in apps.get_models()
            if issubclass(model, TenantScopedModel) and model._meta.managed and not model._meta.proxy]


def rows(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_app_role_cannot_bypass_rls(db):
    """CI connects as p2p_app: no superuser, no BYPASSRLS, so the policies bind the app itself."""
    if settings.DATABASES["default"]["USER"] != "p2p_app":
        pytest.skip("not connected as the CI app role p2p_app")
    ((superuser, bypass),) = rows("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert (superuser, bypass) == (False, False)


def test_the_scoped_models_are_found():
    tables = {model._meta.db_table for model in scoped_models()}

    assert tables, "no tenant-scoped model found"
    assert not tables & set(ALLOWLIST), "a tenant-scoped table cannot be allowlisted"


@pytest.mark.django_db
def test_every_scoped_table_has_forced_rls_and_the_tenant_policy():
    for model in scoped_models():
        table = model._meta.db_table
        flags = rows("SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                     "WHERE oid = to_regclass(%s)", [table])
        assert flags == [(True, True)], f"{table}: RLS enabled/forced = {flags}"
        policies = rows("SELECT qual, with_check FROM pg_policies WHERE schemaname = current_schema() "
                        "AND tablename = %s", [table])
        assert len(policies) == 1, f"{table}: expected exactly one policy, found {policies}"
        qual, with_check = policies[0]
        for expression in (qual, with_check):
            assert "current_setting('app.tenant_id'" in expression and "tenant_id" in expression, (table, expression)


@pytest.mark.django_db
def test_no_table_with_a_tenant_id_escapes_rls_unless_allowlisted():
    tables = rows("""
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE a.attname = 'tenant_id' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
          AND n.nspname = current_schema()""")
    unprotected = {name for name, enabled, forced in tables if not (enabled and forced)}

    assert unprotected - set(ALLOWLIST) == set(), "tenant_id tables without RLS and not allowlisted"
    assert set(ALLOWLIST) <= {name for name, *_ in tables}, "the allowlist names a table that is gone"
    assert {model._meta.db_table for model in scoped_models()} <= {name for name, *_ in tables}


@pytest.mark.django_db
def test_raw_sql_sees_no_other_tenants_rows_in_any_scoped_table(rls_subject):
    tenant_a = TenantFactory(name="RLS A")
    tenant_b = TenantFactory(name="RLS B")
    models = scoped_models()
    with dangerously_bypass_tenant_scope(), tenant_context(tenant_b):
        samples = {model: rls_rows.build(model, tenant_b) for model in models}

    for model, sample in samples.items():
        table = connection.ops.quote_name(model._meta.db_table)
        owner = str(sample.tenant_id)
        if owner == str(tenant_a.pk):
            continue  # a factory put it in A; B's other rows cover the table
        count_owner = f"SELECT count(*) FROM {table} WHERE tenant_id::text = %s"

        with tenant_context(None):  # no tenant setting at all
            assert rows(f"SELECT count(*) FROM {table}") == [(0,)], f"{table} visible with no tenant ({rls_subject})"
        with tenant_context(tenant_a):  # tenant A's setting
            assert rows(count_owner, [owner]) == [(0,)], f"{table}: A sees another tenant's rows"
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id::text = %s", [owner])
                assert cursor.rowcount == 0, f"{table}: A can update another tenant's rows"
                cursor.execute(f"DELETE FROM {table} WHERE tenant_id::text = %s", [owner])
                assert cursor.rowcount == 0, f"{table}: A can delete another tenant's rows"
        with tenant_context(owner):  # the owner still sees it: the test is not vacuous
            assert rows(count_owner, [owner])[0][0] >= 1, f"{table}: the owning tenant cannot see its row"


@pytest.fixture
def probe_table(db):
    """A tenant-scoped table made inside the test, protected by the same migration operation."""
    table = f"rls_probe_{uuid.uuid4().hex[:8]}"
    with connection.schema_editor() as editor:
        editor.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, tenant_id uuid NOT NULL, note text)")
        EnableTenantRLS(table).database_forwards("tenancy", editor, None, None)
    return table


@pytest.mark.django_db
def test_the_mechanism_on_a_table_made_in_the_test(probe_table, rls_subject):
    a, b = uuid.uuid4(), uuid.uuid4()
    assert rows("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
                [probe_table]) == [(True, True)]
    with dangerously_bypass_tenant_scope():
        rows(f"INSERT INTO {probe_table} (tenant_id, note) VALUES (%s, 'a'), (%s, 'b') RETURNING id", [a, b])

    with tenant_context(None):
        assert rows(f"SELECT note FROM {probe_table}") == []
    with tenant_context(a):
        assert rows(f"SELECT note FROM {probe_table}") == [("a",)]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {probe_table} SET note = 'x' WHERE tenant_id = %s", [b])
            assert cursor.rowcount == 0
    with tenant_context(b):
        assert rows(f"SELECT note FROM {probe_table}") == [("b",)]
    with dangerously_bypass_tenant_scope():
        assert sorted(rows(f"SELECT note FROM {probe_table}")) == [("a",), ("b",)]


@pytest.mark.django_db
def test_a_tenant_cannot_write_rows_into_another(probe_table, rls_subject):
    a, b = uuid.uuid4(), uuid.uuid4()

    with tenant_context(a):
        rows(f"INSERT INTO {probe_table} (tenant_id, note) VALUES (%s, 'mine') RETURNING id", [a])
        with pytest.raises(Exception, match="row-level security"), connection.cursor() as cursor:
            from django.db import transaction

            with transaction.atomic():
                cursor.execute(f"INSERT INTO {probe_table} (tenant_id, note) VALUES (%s, 'theirs')", [b])
        with pytest.raises(Exception, match="row-level security"), connection.cursor() as cursor:
            from django.db import transaction

            with transaction.atomic():
                cursor.execute(f"UPDATE {probe_table} SET tenant_id = %s", [b])


@pytest.mark.django_db(transaction=True)
def test_a_fresh_connection_that_never_set_a_tenant_sees_nothing():
    """current_setting('app.tenant_id', true) is NULL on a connection that never set it."""
    tenant = Tenant.objects.create(name="Committed")
    table = f"rls_probe_{uuid.uuid4().hex[:8]}"
    with connection.schema_editor() as editor:
        editor.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, tenant_id uuid NOT NULL)")
        EnableTenantRLS(table).database_forwards("tenancy", editor, None, None)
    try:
        with dangerously_bypass_tenant_scope():
            rows(f"INSERT INTO {table} (tenant_id) VALUES (%s) RETURNING id", [tenant.pk])
        params = connection.get_connection_params()
        with psycopg.connect(**params) as raw:
            ((superuser, bypass),) = raw.execute(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchall()
            if superuser or bypass:
                pytest.skip("connected as a privileged role; run as p2p_app like CI")
            assert raw.execute("SELECT current_setting('app.tenant_id', true)").fetchone() == (None,)
            assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
            raw.execute("SELECT set_config('app.tenant_id', %s, false)", [str(tenant.pk)])
            assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    finally:
        with connection.schema_editor() as editor:
            editor.execute(f"DROP TABLE {table}")


@pytest.mark.django_db
def test_the_setting_follows_the_context_and_is_reset_after_a_request(client):
    from accounts.tests.factories import web_login
    from tenancy.tests.factories import make_member

    tenant = TenantFactory()
    web_login(client, make_member(tenant))

    def setting():
        return rows("SELECT current_setting('app.tenant_id', true), current_setting('app.bypass_rls', true)")[0]

    with tenant_context(tenant):
        assert setting() == (str(tenant.pk), "off")
        with dangerously_bypass_tenant_scope():
            assert setting() == (str(tenant.pk), "on")
    assert setting()[0] in ("", None)

    assert client.get("/tenancy/").status_code == 200
    assert setting()[0] in ("", None)  # the request's tenant did not stay on the connection


def _setting() -> str | None:
    return rows("SELECT current_setting('app.tenant_id', true)")[0][0]


@pytest.mark.django_db
def test_the_setting_is_sent_only_when_the_context_changes():
    """Statements in the same context send nothing more; a change is sent before the next statement."""
    first, second = TenantFactory(), TenantFactory()
    with tenant_context(first):
        assert _setting() == str(first.pk)
        # write behind the wrapper's back: if it re-sent the same value each time, this would be overwritten
        connection.connection.execute("SELECT set_config('app.tenant_id', 'untouched', false)")
        assert _setting() == "untouched"
    with tenant_context(second):
        assert _setting() == str(second.pk)


@pytest.mark.django_db
def test_a_setting_undone_by_a_rolled_back_block_is_sent_again():
    """PostgreSQL rolls set_config back with its savepoint; the next statement must not trust the old send."""
    tenant = TenantFactory()
    assert _setting() in ("", None)
    with tenant_context(tenant):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert _setting() == str(tenant.pk)  # sent inside the savepoint
            raise RuntimeError("roll the savepoint back")
        assert _setting() == str(tenant.pk)


@pytest.mark.django_db
def test_a_failed_statement_in_a_savepoint_rolls_back_cleanly_and_the_outer_context_returns():
    """An error after a context change inside a savepoint: the rollback to the savepoint runs (the aborted
    transaction takes no set_config first), the error is the statement's own, and the outer transaction
    goes on in its own tenant."""
    outer, inner = TenantFactory(), TenantFactory()
    with tenant_context(outer):
        assert _setting() == str(outer.pk)
        with pytest.raises(DatabaseError, match="division by zero"), transaction.atomic(), tenant_context(inner):
            rows("SELECT 1/0")  # set_config(inner) goes first, then the statement fails
        assert _setting() == str(outer.pk)


@pytest.mark.django_db(transaction=True)
def test_a_setting_sent_in_autocommit_stays_trusted_and_a_new_connection_starts_clean():
    tenant = TenantFactory()
    with tenant_context(tenant):
        assert _setting() == str(tenant.pk)
        connection.connection.execute("SELECT set_config('app.tenant_id', 'untouched', false)")
        assert _setting() == "untouched"
    connection.close()
    with tenant_context(tenant):
        assert _setting() == str(tenant.pk)
    assert _setting() in ("", None)
