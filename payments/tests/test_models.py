"""The tables as the product defines them: names, money precision, indexes, constraints, tenant scoping."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from payments.models import (
    BalanceStore,
    BalanceTrader,
    Bank,
    ExchangeRate,
    IncomingOrder,
    MerchantStore,
    OrderHistory,
    ReqTrader,
)
from payments.models.fields import CryptoAmountField, FiatAmountField
from tenancy.scoping import TenantScopedModel, TenantScopeError, tenant_context

from .factories import TraderFactory, make_assigned_order, make_incoming_order, make_requisite, make_store

SEED_TABLES = {
    "banks", "payment_methods", "fiat_currencies", "crypto_currencies", "countries", "time_zones",
    "exchange_rates", "avalible_bank_methods", "merchants", "merchant_stores", "traders", "owner_of_requisites",
    "req_traders", "full_requisites_settings", "incoming_orders", "order_history", "balance_stores",
    "balance_store_history", "balance_traders", "balance_trader_fiat_history", "balance_trader_crypto_history",
}
# Tables added for execution (issue 5: appeals and store callbacks).
EXECUTION_TABLES = {"order_appeals", "callback_events", "callback_attempts"}
STORE_API_TABLES = {"store_api_idempotency_keys"}  # payments/models/idempotency.py (store API, issue 4)
TRANSFER_TABLES = {"crypto_transfers"}  # payments/models/transfers.py (withdrawals and top-ups, issue 19)
ASSIGNMENT_TABLES = {"requisite_turnover"}  # each requisite's kept turnover (issue 21)
DASHBOARD_TABLES = {"merchant_day_figures", "trader_day_figures"}  # closed days kept for the dashboards (issue 19)


def payments_models():
    return list(apps.get_app_config("payments").get_models())


def test_every_seed_table_exists_and_is_tenant_scoped():
    models = payments_models()
    assert {m._meta.db_table for m in models} == (SEED_TABLES | EXECUTION_TABLES | STORE_API_TABLES | TRANSFER_TABLES
                                                  | ASSIGNMENT_TABLES | DASHBOARD_TABLES)
    assert all(issubclass(m, TenantScopedModel) for m in models)


def test_money_columns_have_the_seed_precision():
    for model in payments_models():
        for field in model._meta.fields:
            if isinstance(field, CryptoAmountField):
                assert (field.max_digits, field.decimal_places) == (20, 8), field
            elif isinstance(field, FiatAmountField):
                assert (field.max_digits, field.decimal_places) == (20, 2), field
    assert isinstance(ExchangeRate._meta.get_field("rate"), CryptoAmountField)
    assert isinstance(IncomingOrder._meta.get_field("total_fiat"), FiatAmountField)
    assert isinstance(IncomingOrder._meta.get_field("amount_currency"), CryptoAmountField)
    assert isinstance(OrderHistory._meta.get_field("trader_commission"), CryptoAmountField)


@pytest.mark.django_db
def test_seed_indexes_exist_in_the_database():
    def index_names(table):
        with connection.cursor() as cursor:
            return set(connection.introspection.get_constraints(cursor, table))

    assert {"ix_incoming_orders_status_created", "ix_incoming_orders_merchant_store",
            "ix_incoming_orders_client_id"} <= index_names("incoming_orders")
    assert "ix_order_history_client_id" in index_names("order_history")
    assert "ix_trader_priority_lookup" in index_names("traders")
    assert "ix_req_traders_lookup" in index_names("req_traders")


def test_manager_fails_closed_without_a_tenant(db):
    with pytest.raises(TenantScopeError):
        list(Bank.objects.all())


def test_reference_names_are_unique_per_tenant_not_globally(tenant, other_tenant):
    with tenant_context(tenant):
        Bank.objects.create(name="Kasikornbank")
        with pytest.raises(IntegrityError), transaction.atomic():
            Bank.objects.create(name="Kasikornbank")
    with tenant_context(other_tenant):
        Bank.objects.create(name="Kasikornbank")
        assert Bank.objects.count() == 1
    with tenant_context(tenant):
        assert Bank.objects.count() == 1


def test_statuses_are_checked_by_the_database(refs):
    store, _ = make_store(refs)
    order = make_incoming_order(store)
    with pytest.raises(IntegrityError), transaction.atomic():
        IncomingOrder.objects.filter(pk=order.pk).update(status="teleported")
    requisite = make_requisite(refs)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReqTrader.objects.filter(pk=requisite.pk).update(status="approved")  # the stored value is 'approve'
    assigned = make_assigned_order(store, requisite)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderHistory.objects.filter(pk=assigned.pk).update(status="done")
    for status in ("pending", "processing", "completed", "failed", "cancelled", "disputed", "expired"):
        OrderHistory.objects.filter(pk=assigned.pk).update(status=status)
    for status in ("new", "processing", "assigned", "failed", "retrying", "cancelled"):
        IncomingOrder.objects.filter(pk=order.pk).update(status=status)


def test_amounts_and_balances_cannot_go_below_zero(refs):
    store, _ = make_store(refs)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_incoming_order(store, total_fiat=Decimal("-1.00"))
    balance = BalanceStore.objects.get(store=store)
    with pytest.raises(IntegrityError), transaction.atomic():
        BalanceStore.objects.filter(pk=balance.pk).update(balance=Decimal("-0.00000001"))
    trader_balance = BalanceTrader.objects.create(trader=TraderFactory(), fiat_currency=refs.thb,
                                                  crypto_currency=refs.usdt)
    with pytest.raises(IntegrityError), transaction.atomic():
        BalanceTrader.objects.filter(pk=trader_balance.pk).update(crypto_hold=Decimal("-1"))


def test_store_limits_must_be_ordered(refs):
    store, _ = make_store(refs)
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantStore.objects.filter(pk=store.pk).update(lower_limit=Decimal("60000.00"))


def test_order_history_is_one_per_incoming_order(refs):
    store, _ = make_store(refs)
    requisite = make_requisite(refs)
    assigned = make_assigned_order(store, requisite)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderHistory.objects.create(**{
            f.attname: getattr(assigned, f.attname) for f in OrderHistory._meta.concrete_fields
            if f.name not in ("id", "hash_id")}, hash_id="another")


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_payments_table_has_forced_row_level_security():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
                       [sorted(SEED_TABLES)])
        rows = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
    assert set(rows) == SEED_TABLES
    assert all(enabled and forced for enabled, forced in rows.values()), rows


@pytest.mark.postgres
def test_rls_hides_other_tenants_rows_from_raw_sql(tenant, other_tenant, rls_subject):
    with tenant_context(tenant):
        Bank.objects.create(name="Only in A")
    with tenant_context(other_tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM banks")
        assert cursor.fetchone()[0] == 0
    with tenant_context(None), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM banks")
        assert cursor.fetchone()[0] == 0
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM banks")
        assert cursor.fetchone()[0] == 1
