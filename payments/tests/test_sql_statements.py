"""core.sql: the statements compiled once write what the ORM's save() writes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from audit.models import AuditLog
from core import sql
from payments.models import BalanceTrader

from .factories import TraderFactory

pytestmark = pytest.mark.usefixtures("in_tenant")


def test_insert_many_writes_the_rows_in_order_with_defaults_and_their_keys(tenant):
    entries = [AuditLog(action=f"test.{i}", tenant_id=tenant.pk, details={"n": i, "amount": "1.50"})
               for i in range(3)]

    sql.insert_many(entries, connection)

    assert [entry.pk for entry in entries] == sorted(entry.pk for entry in entries)
    stored = list(AuditLog.objects.filter(pk__in=[e.pk for e in entries]).order_by("pk"))
    assert [(row.action, row.details) for row in stored] == [(f"test.{i}", {"n": i, "amount": "1.50"})
                                                             for i in range(3)]
    assert all(row.timestamp is not None for row in stored)  # the field default, as save() applies it
    assert not any(entry._state.adding for entry in entries)


def test_insert_many_refuses_rows_of_two_models(tenant):
    with pytest.raises(TypeError):
        sql.insert_many([AuditLog(action="a"), BalanceTrader()], connection)


def test_update_saves_the_named_fields_only_and_moves_auto_now(refs):
    trader = TraderFactory()
    balance = BalanceTrader.objects.create(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                           crypto_balance=Decimal("10"), fiat_balance=Decimal("5.00"))
    stamped = balance.updated_at - timedelta(hours=1)
    BalanceTrader.objects.filter(pk=balance.pk).update(updated_at=stamped)  # auto_now must move it from here
    balance.crypto_balance, balance.crypto_hold = Decimal("12.5"), Decimal("2.25")
    balance.fiat_balance = Decimal("999.00")  # not named: must stay as stored

    changed = sql.update(balance, ["crypto_balance", "crypto_hold", "updated_at"], connection)

    assert changed == 1
    stored = BalanceTrader.objects.get(pk=balance.pk)
    assert (stored.crypto_balance, stored.crypto_hold, stored.fiat_balance) == (
        Decimal("12.5"), Decimal("2.25"), Decimal("5.00"))
    assert stored.updated_at > stamped and stored.updated_at == balance.updated_at


def test_update_refuses_the_primary_key(refs):
    with pytest.raises(RuntimeError):
        sql.update(BalanceTrader(pk=1), ["id"], connection)
