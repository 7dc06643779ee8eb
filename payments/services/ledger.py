"""Balance movements: each one changes one locked balance row and writes one history row.

Money flow of an order
----------------------
Amounts: A = the order's crypto amount, F = its fiat amount, sc = store
commission, tc = trader commission (all fixed before execution; see
`settlement_for` for a confirmed amount that differs). The platform's share is
sc − tc; it is not a balance table, it is what the order's movements leave over.

PayIn — the customer pays F in fiat to the trader's requisite; the store is paid in crypto:
  - assignment: the trader's crypto hold grows by A (one `hold` row, amount 0);
  - completion: trader crypto −A (`pay_in`, the same row takes the hold back)
    and +tc (`commission`); trader fiat +F (`pay_in`: the trader now holds the
    customer's fiat); store crypto +A (`pay_in`) and −sc (`commission`);
  - cancellation, expiry or failure: the hold is released (one `release` row).

PayOut — the trader pays F in fiat to the customer's requisite; the store pays in crypto:
  - assignment: the store's crypto hold grows by A + sc (`hold`);
  - completion: store crypto −A (`pay_out`, taking the hold back) and −sc
    (`commission`); trader crypto +A (`pay_out`) and +tc (`commission`);
    trader fiat −F (`pay_out`: the trader spent fiat of their own; the balance
    may go below zero down to its `fiat_credit_limit`);
  - cancellation, expiry or failure: the hold is released.

So for every completed order the principal legs cancel (−A and +A) and the
crypto movements of the order net to tc − sc, which is also the sum of its
`commission` rows; its fiat movement is +F (PayIn) or −F (PayOut). Holds net to
zero once an order is closed. `payments.selectors.ledger` checks all of this,
and that every balance equals the sum of its history (`manage.py verify_ledger`).

Floors: no crypto balance or hold below zero, no hold above its balance, no fiat
balance below minus its credit limit — refused here with a clear error and, as
a second line, by the tables' CHECK constraints.

Locks: the caller locks the order and then its balances through
`payments.services.locks` (fixed order); the `*_movement` functions below lock
their single balance row themselves.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from typing import TypeVar

from django.db import connections, router, transaction
from django.utils import timezone

from core import sql
from payments.errors import PaymentsError
from payments.models import (
    AmountMismatch,
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
    OrderType,
    Trader,
)
from payments.models.fields import CRYPTO_PLACES, FIAT_PLACES, ZERO

from .audit_trail import record
from .guards import ensure_same_tenant
from .locks import default_fiat_credit_limit, lock_order_balances, lock_store_balance, lock_trader_balance

CRYPTO_STEP = Decimal(1).scaleb(-CRYPTO_PLACES)
FIAT_STEP = Decimal(1).scaleb(-FIAT_PLACES)
M = TypeVar("M")


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


# --- one row on one locked balance ---------------------------------------------------------------

def _move(balance, *, balance_field: str, hold_field: str, amount: Decimal, hold_change: Decimal,
          holder: str, what: str) -> tuple[Decimal, Decimal]:
    """Apply `amount` and `hold_change` to a locked balance row (refusing a negative hold or available
    amount) and save it; returns the new balance and hold for the history row."""
    new_balance = getattr(balance, balance_field) + amount
    new_hold = getattr(balance, hold_field) + hold_change
    if new_hold < 0:
        raise PaymentsError(f"The {holder} hold would go below zero.", code="hold_underflow")
    _refuse_below_zero(new_balance - new_hold, what)
    setattr(balance, balance_field, new_balance)
    setattr(balance, hold_field, new_hold)
    _update(balance, balance_field, hold_field, "updated_at")
    return new_balance, new_hold


def _update(row, *field_names: str) -> None:
    """Save fields of a locked balance row through a statement compiled once (core.sql: the ledger is on
    the assignment worker's hot path, and balance rows have no save signals)."""
    if sql.update(row, field_names, connections[router.db_for_write(type(row))]) != 1:
        raise RuntimeError(f"{row._meta.label} {row.pk} vanished under its lock.")


def _insert(row: M) -> M:
    """Write a new history row through a statement compiled once (history rows have no save signals)."""
    sql.insert(row, connections[router.db_for_write(type(row))])
    return row


def store_entry(balance: BalanceStore, *, kind: str, amount: Decimal = ZERO, hold_change: Decimal = ZERO,
                order: OrderHistory | None = None, description: str = "", actor=None) -> BalanceStoreHistory:
    """Apply one movement to a locked store balance and write its history row."""
    new_balance, new_hold = _move(balance, balance_field="balance", hold_field="hold", amount=amount,
                                  hold_change=hold_change, holder="store", what="store")
    return _insert(BalanceStoreHistory(
        tenant_id=balance.tenant_id, balance=balance, store_id=balance.store_id, order=order, amount=amount,
        balance_after=new_balance, hold_change=hold_change, hold_after=new_hold, kind=kind,
        description=description, created_by=actor))


def trader_crypto_entry(balance: BalanceTrader, *, kind: str, amount: Decimal = ZERO, hold_change: Decimal = ZERO,
                        order: OrderHistory | None = None, description: str = "",
                        actor=None) -> BalanceTraderCryptoHistory:
    """Apply one crypto movement to a locked trader balance and write its history row."""
    new_balance, new_hold = _move(balance, balance_field="crypto_balance", hold_field="crypto_hold", amount=amount,
                                  hold_change=hold_change, holder="trader", what="crypto")
    return _insert(BalanceTraderCryptoHistory(
        tenant_id=balance.tenant_id, balance=balance, trader_id=balance.trader_id, order=order, amount=amount,
        balance_after=new_balance, hold_change=hold_change, hold_after=new_hold, kind=kind,
        description=description, created_by=actor))


def trader_fiat_entry(balance: BalanceTrader, *, kind: str, amount: Decimal, order: OrderHistory | None = None,
                      description: str = "", actor=None) -> BalanceTraderFiatHistory:
    """Apply one fiat movement to a locked trader balance; it may go below zero down to the credit limit."""
    new_balance = balance.fiat_balance + amount
    if new_balance < -balance.fiat_credit_limit:
        raise PaymentsError("Insufficient fiat balance for this movement"
                            + (f" (credit limit {balance.fiat_credit_limit})." if balance.fiat_credit_limit else "."),
                            code="insufficient_balance")
    balance.fiat_balance = new_balance
    _update(balance, "fiat_balance", "updated_at")
    return _insert(BalanceTraderFiatHistory(
        tenant_id=balance.tenant_id, balance=balance, trader_id=balance.trader_id, order=order, amount=amount,
        balance_after=new_balance, kind=kind, description=description, created_by=actor))


# --- deposits, withdrawals, adjustments -----------------------------------------------------------

@transaction.atomic
def post_store_movement(*, store: MerchantStore, crypto_currency: CryptoCurrency, amount: Decimal, kind: str,
                        order: OrderHistory | None = None, description: str = "", actor=None) -> BalanceStoreHistory:
    ensure_same_tenant(store.tenant_id, crypto_currency, order)
    amount = _checked_amount(amount, CRYPTO_PLACES, kind)
    balance = lock_store_balance(tenant_id=store.tenant_id, store_id=store.pk, crypto_currency_id=crypto_currency.pk)
    row = store_entry(balance, kind=kind, amount=amount, order=order, description=description, actor=actor)
    _audit_manual(kind, balance, actor, amount, row.balance_after, description)
    return row


def _trader_balance(trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency) -> BalanceTrader:
    ensure_same_tenant(trader.tenant_id, fiat_currency, crypto_currency)
    return lock_trader_balance(tenant_id=trader.tenant_id, trader_id=trader.pk, fiat_currency_id=fiat_currency.pk,
                               crypto_currency_id=crypto_currency.pk)


@transaction.atomic
def post_trader_fiat_movement(*, trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency,
                              amount: Decimal, kind: str, order: OrderHistory | None = None,
                              description: str = "", actor=None) -> BalanceTraderFiatHistory:
    ensure_same_tenant(trader.tenant_id, order)
    amount = _checked_amount(amount, FIAT_PLACES, kind)
    balance = _trader_balance(trader, fiat_currency, crypto_currency)
    row = trader_fiat_entry(balance, kind=kind, amount=amount, order=order, description=description, actor=actor)
    _audit_manual(kind, balance, actor, amount, row.balance_after, description)
    return row


@transaction.atomic
def post_trader_crypto_movement(*, trader: Trader, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency,
                                amount: Decimal, kind: str, order: OrderHistory | None = None,
                                description: str = "", actor=None) -> BalanceTraderCryptoHistory:
    ensure_same_tenant(trader.tenant_id, order)
    amount = _checked_amount(amount, CRYPTO_PLACES, kind)
    balance = _trader_balance(trader, fiat_currency, crypto_currency)
    row = trader_crypto_entry(balance, kind=kind, amount=amount, order=order, description=description, actor=actor)
    _audit_manual(kind, balance, actor, amount, row.balance_after, description)
    return row


# --- orders: hold, release, settle (the caller holds the order row's lock) -------------------------

def _set_hold_amount(order: OrderHistory, amount: Decimal) -> None:
    order.hold_amount = amount
    OrderHistory.objects.unscoped().filter(pk=order.pk, tenant_id=order.tenant_id).update(
        hold_amount=amount, updated_at=timezone.now())


def order_hold_amount(order: OrderHistory) -> Decimal:
    """What assignment reserves: the trader's crypto for a PayIn, the store's crypto and commission for a PayOut."""
    if order.order_type == OrderType.PAY_IN:
        return order.amount_currency
    return order.amount_currency + order.store_commission


def place_order_hold(order: OrderHistory) -> BalanceStoreHistory | BalanceTraderCryptoHistory:
    """Reserve what completing the order will take; refuses when the available balance cannot cover it."""
    if order.hold_amount:
        raise PaymentsError("This order already holds funds.", code="already_held")
    amount = order_hold_amount(order)
    row = _hold(order, amount)
    _set_hold_amount(order, amount)
    return row


def hold_for_new_order(order: OrderHistory, *, trader_balance: BalanceTrader | None = None,
                       ) -> BalanceStoreHistory | BalanceTraderCryptoHistory:
    """The hold of an order written with its `hold_amount` already set (assignment writes the order row once).

    `trader_balance`: a PayIn trader's balance row as the caller locked it (the candidate search takes that
    lock, so it is not read again); without it the row is locked here, as for a PayOut's store balance.
    """
    if order.hold_amount != order_hold_amount(order):
        raise PaymentsError("The order's hold amount is not what it must hold.", code="invalid_hold")
    return _hold(order, order.hold_amount, trader_balance=trader_balance)


def _hold(order: OrderHistory, amount: Decimal, *, trader_balance: BalanceTrader | None = None,
          ) -> BalanceStoreHistory | BalanceTraderCryptoHistory:
    description = f"Hold for {order.get_order_type_display()} {order.hash_id}"
    if order.order_type == OrderType.PAY_IN:
        balance = trader_balance or lock_trader_balance(
            tenant_id=order.tenant_id, trader_id=order.trader_id, fiat_currency_id=order.fiat_id,
            crypto_currency_id=order.crypto_currency_id)
        if (balance.trader_id, balance.fiat_currency_id, balance.crypto_currency_id) != (
                order.trader_id, order.fiat_id, order.crypto_currency_id):
            raise PaymentsError("That balance is not the one this order holds.", code="invalid_hold")
        return trader_crypto_entry(balance, kind=MovementKind.HOLD, hold_change=amount, order=order,
                                   description=description)
    balance = lock_store_balance(tenant_id=order.tenant_id, store_id=order.store_id,
                                 crypto_currency_id=order.crypto_currency_id)
    return store_entry(balance, kind=MovementKind.HOLD, hold_change=amount, order=order, description=description)


def release_order_hold(order: OrderHistory) -> BalanceStoreHistory | BalanceTraderCryptoHistory | None:
    """Give back what the order reserved (cancelled, expired, failed); nothing to do when it holds nothing."""
    held = order.hold_amount
    if not held:
        return None
    description = f"Hold released: {order.get_order_type_display()} {order.hash_id} {order.status}"
    balances = lock_order_balances(order)
    if order.order_type == OrderType.PAY_IN:
        row = trader_crypto_entry(balances.trader, kind=MovementKind.RELEASE, hold_change=-held, order=order,
                                  description=description)
    else:
        row = store_entry(balances.store, kind=MovementKind.RELEASE, hold_change=-held, order=order,
                          description=description)
    _set_hold_amount(order, ZERO)
    return row


@dataclass(frozen=True)
class Settlement:
    """What completion moves: the confirmed fiat, its crypto, and the commissions scaled to it."""

    fiat: Decimal
    crypto: Decimal
    store_commission: Decimal
    trader_commission: Decimal
    mismatch: str

    @property
    def platform_commission(self) -> Decimal:
        return self.store_commission - self.trader_commission


def settlement_for(order: OrderHistory, confirmed_fiat: Decimal | None = None) -> Settlement:
    """The settlement of `order` for the fiat the trader confirmed (default: the requested amount).

    A different amount settles its own crypto at the order's fixed rate (8
    places, half up), and both commissions in proportion (they are percentages
    of the crypto amount fixed at intake and assignment).
    """
    if confirmed_fiat is None or confirmed_fiat == order.total_fiat:
        return Settlement(fiat=order.total_fiat, crypto=order.amount_currency,
                          store_commission=order.store_commission, trader_commission=order.trader_commission,
                          mismatch=AmountMismatch.NONE)
    if not isinstance(confirmed_fiat, Decimal) or not confirmed_fiat.is_finite() or confirmed_fiat <= 0:
        raise PaymentsError("The confirmed amount must be a positive number.", code="invalid_amount",
                            fields={"confirmed_fiat": ["Enter a positive amount."]})
    if confirmed_fiat.as_tuple().exponent < -FIAT_PLACES or confirmed_fiat >= Decimal(10) ** 18:
        raise PaymentsError("The confirmed amount is not a valid fiat amount.", code="invalid_amount",
                            fields={"confirmed_fiat": [f"At most {FIAT_PLACES} decimal places."]})
    with localcontext() as ctx:
        ctx.prec = 60
        crypto = (confirmed_fiat / order.exchange_rate).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
        if crypto <= 0:
            raise PaymentsError("The confirmed amount is too small to settle.", code="invalid_amount",
                                fields={"confirmed_fiat": ["Too small for the order's exchange rate."]})
        ratio = crypto / order.amount_currency
        store_commission = (order.store_commission * ratio).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
        trader_commission = (order.trader_commission * ratio).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
    mismatch = AmountMismatch.UNDERPAID if confirmed_fiat < order.total_fiat else AmountMismatch.OVERPAID
    return Settlement(fiat=confirmed_fiat, crypto=crypto, store_commission=store_commission,
                      trader_commission=trader_commission, mismatch=mismatch)


def largest_confirmable_fiat(order: OrderHistory) -> Decimal:
    """The most fiat the order's trader could confirm as their balance stands now, never below zero: what a
    page tells them (settle_order, under the locks, is what decides).

    PayIn: their crypto less the other orders' holds (this order's comes back in the same movement), plus this
    order's commission (credited first), at the order's rate. PayOut: their fiat with its credit limit (a
    trader with no balance row yet: the default credit).
    """
    balance = (BalanceTrader.objects.unscoped()
               .filter(tenant_id=order.tenant_id, trader_id=order.trader_id, fiat_currency_id=order.fiat_id,
                       crypto_currency_id=order.crypto_currency_id).first())
    if order.order_type == OrderType.PAY_IN:
        if balance is None:
            return ZERO
        crypto = balance.crypto_balance - (balance.crypto_hold - order.hold_amount) + order.trader_commission
        return max(ZERO, (crypto * order.exchange_rate).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
    available = balance.fiat_balance + balance.fiat_credit_limit if balance else default_fiat_credit_limit()
    return max(ZERO, available)


def settle_order(order: OrderHistory, settlement: Settlement) -> list:
    """Post the completion of `order` (see the module docstring); returns the history rows written.

    Credits go before debits so a row is never refused for a floor the next row
    would restore. The hold comes back in the same row as the principal debit.
    """
    balances = lock_order_balances(order)
    held = order.hold_amount
    label = f"{order.get_order_type_display()} {order.hash_id}"
    rows = []
    if order.order_type == OrderType.PAY_IN:
        if settlement.trader_commission:
            rows.append(trader_crypto_entry(balances.trader, kind=MovementKind.COMMISSION,
                                            amount=settlement.trader_commission, order=order,
                                            description=f"Trader commission: {label}"))
        rows.append(trader_crypto_entry(balances.trader, kind=MovementKind.PAY_IN, amount=-settlement.crypto,
                                        hold_change=-held, order=order, description=f"Crypto sold: {label}"))
        rows.append(trader_fiat_entry(balances.trader, kind=MovementKind.PAY_IN, amount=settlement.fiat,
                                      order=order, description=f"Fiat received: {label}"))
        rows.append(store_entry(balances.store, kind=MovementKind.PAY_IN, amount=settlement.crypto, order=order,
                                description=f"Paid in: {label}"))
        if settlement.store_commission:
            rows.append(store_entry(balances.store, kind=MovementKind.COMMISSION,
                                    amount=-settlement.store_commission, order=order,
                                    description=f"Store commission: {label}"))
    else:
        rows.append(trader_crypto_entry(balances.trader, kind=MovementKind.PAY_OUT, amount=settlement.crypto,
                                        order=order, description=f"Crypto bought: {label}"))
        if settlement.trader_commission:
            rows.append(trader_crypto_entry(balances.trader, kind=MovementKind.COMMISSION,
                                            amount=settlement.trader_commission, order=order,
                                            description=f"Trader commission: {label}"))
        rows.append(trader_fiat_entry(balances.trader, kind=MovementKind.PAY_OUT, amount=-settlement.fiat,
                                      order=order, description=f"Fiat paid out: {label}"))
        rows.append(store_entry(balances.store, kind=MovementKind.PAY_OUT, amount=-settlement.crypto,
                                hold_change=-held, order=order, description=f"Paid out: {label}"))
        if settlement.store_commission:
            rows.append(store_entry(balances.store, kind=MovementKind.COMMISSION,
                                    amount=-settlement.store_commission, order=order,
                                    description=f"Store commission: {label}"))
    if held:
        _set_hold_amount(order, ZERO)
    return rows


__all__ = ["MovementKind", "Settlement", "order_hold_amount", "place_order_hold", "post_store_movement",
           "post_trader_crypto_movement", "post_trader_fiat_movement", "release_order_hold", "settle_order",
           "settlement_for"]
