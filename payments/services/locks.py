"""Row locks of order execution, always taken in one fixed order so two transactions cannot deadlock.

The order is: the order row (`order_history`), then its appeal (`order_appeals`),
then the store balance (`balance_stores`), then the trader balance
(`balance_traders`). Every function that locks more than one of these goes
through here; a function that needs only a later one may take it alone (the
ledger's deposit and withdrawal lock one balance row and nothing else).

A balance row that is missing is created (get_or_create, which settles a
concurrent insert of the same row) and then locked; the lock is tried first, as
the row almost always exists.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from payments.models import (
    Appeal,
    BalanceStore,
    BalanceTrader,
    OrderHistory,
)


def lock_order(order: OrderHistory) -> OrderHistory:
    """The order row, locked, with what execution reads beside it."""
    return (OrderHistory.objects.unscoped().select_for_update(of=("self",))
            .select_related("incoming_order", "trader", "store", "fiat", "crypto_currency")
            .get(pk=order.pk, tenant_id=order.tenant_id))


def lock_appeal(appeal: Appeal) -> Appeal:
    return Appeal.objects.unscoped().select_for_update().get(pk=appeal.pk, tenant_id=appeal.tenant_id)


def default_fiat_credit_limit() -> Decimal:
    return Decimal(str(settings.PAYMENTS_TRADER_FIAT_CREDIT_LIMIT))


def ensure_store_balance(*, tenant_id, store_id: int, crypto_currency_id: int) -> None:
    BalanceStore.objects.unscoped().get_or_create(tenant_id=tenant_id, store_id=store_id,
                                                  crypto_currency_id=crypto_currency_id)


def ensure_trader_balance(*, tenant_id, trader_id: int, fiat_currency_id: int, crypto_currency_id: int) -> None:
    BalanceTrader.objects.unscoped().get_or_create(
        tenant_id=tenant_id, trader_id=trader_id, fiat_currency_id=fiat_currency_id,
        crypto_currency_id=crypto_currency_id, defaults={"fiat_credit_limit": default_fiat_credit_limit()})


def _lock_or_create(model, ensure, **key):
    """The balance row of `key`, locked; created first when it is missing (the usual case is one SELECT)."""
    rows = model.objects.unscoped().select_for_update()
    balance = rows.filter(**key).first()
    if balance is None:
        ensure(**key)
        balance = rows.get(**key)
    return balance


def lock_store_balance(*, tenant_id, store_id: int, crypto_currency_id: int) -> BalanceStore:
    return _lock_or_create(BalanceStore, ensure_store_balance, tenant_id=tenant_id, store_id=store_id,
                           crypto_currency_id=crypto_currency_id)


def lock_trader_balance(*, tenant_id, trader_id: int, fiat_currency_id: int,
                        crypto_currency_id: int) -> BalanceTrader:
    return _lock_or_create(BalanceTrader, ensure_trader_balance, tenant_id=tenant_id, trader_id=trader_id,
                           fiat_currency_id=fiat_currency_id, crypto_currency_id=crypto_currency_id)


@dataclass
class OrderBalances:
    store: BalanceStore
    trader: BalanceTrader


def lock_order_balances(order: OrderHistory) -> OrderBalances:
    """The two balances an order moves, store first then trader; the caller holds the order row's lock."""
    store = lock_store_balance(tenant_id=order.tenant_id, store_id=order.store_id,
                               crypto_currency_id=order.crypto_currency_id)
    trader = lock_trader_balance(tenant_id=order.tenant_id, trader_id=order.trader_id,
                                 fiat_currency_id=order.fiat_id, crypto_currency_id=order.crypto_currency_id)
    return OrderBalances(store=store, trader=trader)
