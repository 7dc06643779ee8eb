"""Row locks of order execution, always taken in one fixed order so two transactions cannot deadlock.

The order is: the order row (`order_history`), then its appeal (`order_appeals`),
then the store balance (`balance_stores`), then the trader balance
(`balance_traders`). Every function that locks more than one of these goes
through here; a function that needs only a later one may take it alone (the
ledger's deposit and withdrawal lock one balance row and nothing else).

Balance rows are created when missing *before* they are locked, so a lock is
never taken on a row that a concurrent transaction is still inserting.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from payments.models import (
    Appeal,
    BalanceStore,
    BalanceTrader,
    CryptoCurrency,
    FiatCurrency,
    MerchantStore,
    OrderHistory,
    Trader,
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


def ensure_store_balance(store: MerchantStore, crypto_currency: CryptoCurrency) -> None:
    BalanceStore.objects.unscoped().get_or_create(tenant_id=store.tenant_id, store=store,
                                                  crypto_currency=crypto_currency)


def ensure_trader_balance(trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency) -> None:
    BalanceTrader.objects.unscoped().get_or_create(
        tenant_id=trader.tenant_id, trader=trader, fiat_currency=fiat_currency, crypto_currency=crypto_currency,
        defaults={"fiat_credit_limit": default_fiat_credit_limit()})


def lock_store_balance(store: MerchantStore, crypto_currency: CryptoCurrency) -> BalanceStore:
    ensure_store_balance(store, crypto_currency)
    return BalanceStore.objects.unscoped().select_for_update().get(
        tenant_id=store.tenant_id, store=store, crypto_currency=crypto_currency)


def lock_trader_balance(trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency) -> BalanceTrader:
    ensure_trader_balance(trader, fiat_currency, crypto_currency)
    return BalanceTrader.objects.unscoped().select_for_update().get(
        tenant_id=trader.tenant_id, trader=trader, fiat_currency=fiat_currency, crypto_currency=crypto_currency)


@dataclass
class OrderBalances:
    store: BalanceStore
    trader: BalanceTrader


def lock_order_balances(order: OrderHistory) -> OrderBalances:
    """The two balances an order moves, store first then trader; the caller holds the order row's lock."""
    ensure_store_balance(order.store, order.crypto_currency)
    ensure_trader_balance(order.trader, order.fiat, order.crypto_currency)
    store = lock_store_balance(order.store, order.crypto_currency)
    trader = lock_trader_balance(order.trader, order.fiat, order.crypto_currency)
    return OrderBalances(store=store, trader=trader)
