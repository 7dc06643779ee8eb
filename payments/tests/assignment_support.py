"""Building blocks of the assignment tests: funded traders with requisites, and open orders.

Call inside tenant_context (the `in_tenant` fixture), like the factories.
"""

from decimal import Decimal

from payments.models import FullRequisitesSettings, IncomingOrder, MovementKind, OrderType, ReqTrader
from payments.services import ledger

from .factories import Refs, TraderFactory, make_incoming_order, make_requisite

RATE = Decimal("40.00")


def make_funded_requisite(refs: Refs, *, trader=None, crypto: Decimal = Decimal("1000"), priority: int = 5,
                          limits: dict | None = None, **overrides) -> ReqTrader:
    """An approved requisite open for both types, its trader in work and holding `crypto` USDT to back PayIns."""
    trader = trader or TraderFactory(trafic_priority=priority, pay_in_commission_percent=Decimal("1.5"),
                                     pay_out_commission_percent=Decimal("1.0"))
    if crypto and not trader.balance_traders.filter(fiat_currency=refs.thb, crypto_currency=refs.usdt).exists():
        ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                           amount=crypto, kind=MovementKind.DEPOSIT)
    settings = {"pay_in": True, "pay_out": True, **(limits or {})}
    return make_requisite(refs, trader=trader, settings=settings, **overrides)


def set_limits(requisite: ReqTrader, **limits) -> None:
    FullRequisitesSettings.objects.filter(requisite=requisite).update(**limits)


def make_open_order(store, *, fiat: Decimal = Decimal("1000.00"), order_type: str = OrderType.PAY_IN,
                    **overrides) -> IncomingOrder:
    """A `new` order of `fiat` THB at RATE, as intake would have written it."""
    crypto = (fiat / RATE).quantize(Decimal("0.00000001"))
    values = {"order_type": order_type, "amount_fiat": fiat if order_type == OrderType.PAY_IN else None,
              "amount_crypto": crypto if order_type == OrderType.PAY_OUT else None, "total_fiat": fiat,
              "amount_currency": crypto, "exchange_rate": RATE,
              "store_commission": (crypto * Decimal("0.02")).quantize(Decimal("0.00000001")), **overrides}
    return make_incoming_order(store, **values)
