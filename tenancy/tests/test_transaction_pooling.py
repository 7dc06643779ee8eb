"""PgBouncer in transaction mode (DATABASE_TRANSACTION_POOLING, docs/operations.md): the tenant setting travels
inside each transaction and nothing of it outlives the transaction on the server connection, which a pooler
hands to its next client."""

import pytest
from django.db import connection, transaction

from payments.models import Bank
from tenancy.scoping import tenant_context

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pooled():
    connection.ensure_connection()
    # a clean server connection, as a pooler with server_reset_query hands out
    connection.connection.execute(
        "SELECT set_config('app.tenant_id', '', false), set_config('app.bypass_rls', 'off', false)")
    setattr(connection, "_tenancy_sent_settings", None)
    connection.settings_dict["TRANSACTION_POOLING"] = True
    try:
        yield
    finally:
        connection.settings_dict.pop("TRANSACTION_POOLING", None)


def left_on_the_server_connection() -> str:
    """What the server connection carries between statements (read past the tenant wrapper)."""
    return connection.connection.execute("SELECT current_setting('app.tenant_id', true)").fetchone()[0] or ""


def banks_seen_by_rls() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM banks")
        return cursor.fetchone()[0]


def test_autocommit_statements_carry_their_tenant_and_leave_nothing_behind(pooled, two_tenants):
    first, second = two_tenants

    with tenant_context(first):
        assert banks_seen_by_rls() == 2 and Bank.objects.count() == 2
        assert left_on_the_server_connection() == ""
    with tenant_context(second):
        assert banks_seen_by_rls() == 2
        assert set(Bank.objects.values_list("tenant_id", flat=True)) == {second.pk}
    assert banks_seen_by_rls() == 0  # no tenant: row-level security shows nothing
    assert left_on_the_server_connection() == ""


def test_an_atomic_block_sends_its_tenant_once_and_it_ends_with_the_block(pooled, two_tenants):
    first, _ = two_tenants

    with tenant_context(first), transaction.atomic():
        assert banks_seen_by_rls() == 2
        assert left_on_the_server_connection() == str(first.pk)  # inside the transaction
        with transaction.atomic():
            assert Bank.objects.count() == 2
    assert left_on_the_server_connection() == ""


def test_without_pooling_the_setting_stays_on_the_connection(two_tenants):
    """The session-level default (a Django connection keeps its server connection): the value stays, and is
    sent again only when the tenant changes."""
    first, _ = two_tenants

    with tenant_context(first):
        assert banks_seen_by_rls() == 2
    assert left_on_the_server_connection() == str(first.pk)
