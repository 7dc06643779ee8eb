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


# Copies of a template requisite, `count` of them, spread over `traders` (their priority is the mirror's),
# with their settings in one statement: limits by id modulo 10 as the bench mixes them (30 % a day cap of
# 8 000, 10 % a lifetime cap of 12 000, 10 % a 60-minute window under a day cap of 30 000, the rest none).
_CLONE_SQL = """
WITH copies AS (
    INSERT INTO req_traders (tenant_id, trader_id, owner_of_requisites_id, fiat_id, method_id, bank_id, req_number,
                             req_number_last4, req_number_digest, status, last_used_at, distribution_weight,
                             trader_priority, is_excluded_from_distribution, created_at, updated_at)
    SELECT r.tenant_id, (%(traders)s::bigint[])[1 + g %% cardinality(%(traders)s::bigint[])], NULL, r.fiat_id,
           r.method_id, r.bank_id, r.req_number, r.req_number_last4, 'copy-' || r.id || '-' || g, 'approve',
           %(last_used_at)s, %(priority)s, %(priority)s, false, r.created_at, r.updated_at
    FROM req_traders r, generate_series(1, %(count)s) g WHERE r.id = %(template)s
    RETURNING id, tenant_id
)
INSERT INTO full_requisites_settings (tenant_id, requisite_id, pay_in, pay_out, lower_limit, upper_limit,
                                      total_limit, turnover_day_max, turnover_limit_minutes, updated_at)
SELECT tenant_id, id, true, true, 100, 50000,
       CASE WHEN id %% 10 = 3 THEN 12000 END,
       CASE WHEN id %% 10 < 3 THEN 8000 WHEN id %% 10 = 4 THEN 30000 END,
       CASE WHEN id %% 10 = 4 THEN 60 END,
       now()
FROM copies
"""


def add_requisites_in_bulk(refs: Refs, count: int, *, priority: int, traders: int = 8,
                           last_used_at=None) -> list:
    """`count` approved requisites of THB in one INSERT (PostgreSQL), over `traders` funded traders of
    `priority`; returns the traders. Seconds for 100 000, where the services would take minutes."""
    from django.db import connection

    templates = [make_funded_requisite(refs, priority=priority, crypto=Decimal("1000000")) for _ in range(traders)]
    trader_ids = [template.trader_id for template in templates]
    with connection.cursor() as cursor:
        cursor.execute(_CLONE_SQL, {"traders": trader_ids, "count": count - traders, "priority": priority,
                                    "template": templates[0].pk, "last_used_at": last_used_at})
        cursor.execute("ANALYZE req_traders")
        cursor.execute("ANALYZE full_requisites_settings")
    return [template.trader for template in templates]
