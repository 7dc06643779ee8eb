"""Balance movements: each one locks its balance row, moves it, and writes one history row.

The floor is enforced twice: here with a clear error, and by the tables' CHECK
constraints. Issue 5's order settlement builds on these; here they serve
deposits, withdrawals and manual adjustments (and the demo data).
"""

from decimal import Decimal

from django.db import transaction

from payments.errors import PaymentsError
from payments.models import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    CryptoCurrency,
    FiatCurrency,
    MerchantStore,
    MovementKind,
    OrderHistory,
    Trader,
)
from payments.models.fields import CRYPTO_PLACES, FIAT_PLACES

from .audit_trail import record
from .guards import ensure_same_tenant


def _checked_amount(amount: Decimal, places: int, kind: str) -> Decimal:
    if kind not in MovementKind.values:
        raise PaymentsError(f"Unknown movement kind {kind!r}.", code="invalid_kind")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise PaymentsError("The amount must be a decimal number.", code="invalid_amount")
    if amount == 0:
        raise PaymentsError("The amount must not be zero.", code="invalid_amount")
    if amount.as_tuple().exponent < -places:
        raise PaymentsError(f"The amount has more than {places} decimal places.", code="invalid_amount")
    return amount


def _refuse_below_zero(new_balance: Decimal, what: str) -> None:
    if new_balance < 0:
        raise PaymentsError(f"Insufficient {what} balance for this movement.", code="insufficient_balance")


def _audit_manual(kind: str, target, actor, amount: Decimal, balance_after: Decimal, description: str) -> None:
    if actor is not None:
        record(action="balance.adjusted", target=target, actor=actor, description=description,
               details={"kind": kind, "amount": amount, "balance_after": balance_after})


@transaction.atomic
def post_store_movement(*, store: MerchantStore, crypto_currency: CryptoCurrency, amount: Decimal, kind: str,
                        order: OrderHistory | None = None, description: str = "", actor=None) -> BalanceStoreHistory:
    ensure_same_tenant(store.tenant_id, crypto_currency, order)
    amount = _checked_amount(amount, CRYPTO_PLACES, kind)
    BalanceStore.objects.unscoped().get_or_create(tenant_id=store.tenant_id, store=store,
                                                  crypto_currency=crypto_currency)
    balance = BalanceStore.objects.unscoped().select_for_update().get(
        tenant_id=store.tenant_id, store=store, crypto_currency=crypto_currency)
    new_balance = balance.balance + amount
    _refuse_below_zero(new_balance - balance.hold, "store")
    balance.balance = new_balance
    balance.save(update_fields=["balance", "updated_at"])
    row = BalanceStoreHistory.objects.create(
        tenant_id=store.tenant_id, balance=balance, store=store, order=order, amount=amount,
        balance_after=new_balance, kind=kind, description=description, created_by=actor)
    _audit_manual(kind, balance, actor, amount, new_balance, description)
    return row


def _trader_balance(trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency) -> BalanceTrader:
    ensure_same_tenant(trader.tenant_id, fiat_currency, crypto_currency)
    BalanceTrader.objects.unscoped().get_or_create(tenant_id=trader.tenant_id, trader=trader,
                                                   fiat_currency=fiat_currency, crypto_currency=crypto_currency)
    return BalanceTrader.objects.unscoped().select_for_update().get(
        tenant_id=trader.tenant_id, trader=trader, fiat_currency=fiat_currency, crypto_currency=crypto_currency)


@transaction.atomic
def post_trader_fiat_movement(*, trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency,
                              amount: Decimal, kind: str, order: OrderHistory | None = None,
                              description: str = "", actor=None) -> BalanceTraderFiatHistory:
    ensure_same_tenant(trader.tenant_id, order)
    amount = _checked_amount(amount, FIAT_PLACES, kind)
    balance = _trader_balance(trader, fiat_currency, crypto_currency)
    new_balance = balance.fiat_balance + amount
    _refuse_below_zero(new_balance, "fiat")
    balance.fiat_balance = new_balance
    balance.save(update_fields=["fiat_balance", "updated_at"])
    row = BalanceTraderFiatHistory.objects.create(
        tenant_id=trader.tenant_id, balance=balance, trader=trader, order=order, amount=amount,
        balance_after=new_balance, kind=kind, description=description, created_by=actor)
    _audit_manual(kind, balance, actor, amount, new_balance, description)
    return row


@transaction.atomic
def post_trader_crypto_movement(*, trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency,
                                amount: Decimal, kind: str, order: OrderHistory | None = None,
                                description: str = "", actor=None) -> BalanceTraderCryptoHistory:
    ensure_same_tenant(trader.tenant_id, order)
    amount = _checked_amount(amount, CRYPTO_PLACES, kind)
    balance = _trader_balance(trader, fiat_currency, crypto_currency)
    new_balance = balance.crypto_balance + amount
    _refuse_below_zero(new_balance - balance.crypto_hold, "crypto")
    balance.crypto_balance = new_balance
    balance.save(update_fields=["crypto_balance", "updated_at"])
    row = BalanceTraderCryptoHistory.objects.create(
        tenant_id=trader.tenant_id, balance=balance, trader=trader, order=order, amount=amount,
        balance_after=new_balance, kind=kind, description=description, created_by=actor)
    _audit_manual(kind, balance, actor, amount, new_balance, description)
    return row


__all__ = ["MovementKind", "post_store_movement", "post_trader_crypto_movement",
           "post_trader_fiat_movement"]
