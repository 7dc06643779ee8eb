"""Checking the ledger: every invariant of payments.services.ledger, as a list of differences.

- every balance (and hold) equals the sum of its history, and its newest history
  row says so too; no balance or hold below its floor;
- every hold on a balance is backed by the open orders holding it and its pending withdrawals;
- per order: its hold rows net to what it still holds; a closed order that did
  not complete holds nothing and moved nothing; a completed order's crypto
  movements net to trader commission − store commission, which is also what its
  commission rows sum to, and its fiat movement is +confirmed fiat (PayIn) or
  −confirmed fiat (PayOut).

Reads one tenant at a time with aggregate queries; the caller decides the scope
(`manage.py verify_ledger` uses the audited platform-wide access). Sums are
quantized to the columns' 8 places: PostgreSQL adds NUMERIC exactly, SQLite
(the zero-setup default) adds in floating point and would otherwise report
differences of 1e-14.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payments.models import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    CryptoTransfer,
    MovementKind,
    OrderHistory,
    OrderType,
)
from payments.models.balances import ORDER_ONCE_KINDS

ZERO = Decimal("0")
PLACES = Decimal("0.00000001")
_DECIMAL = DecimalField(max_digits=30, decimal_places=8)
CLOSED_UNSETTLED = (OrderHistory.Status.CANCELLED, OrderHistory.Status.EXPIRED, OrderHistory.Status.FAILED)


@dataclass(frozen=True)
class LedgerDifference:
    tenant_id: object
    subject: str  # e.g. "balance_stores#12" or "order abc…"
    check: str
    expected: Decimal | str
    actual: Decimal | str

    def __str__(self) -> str:
        return f"{self.subject}: {self.check}: expected {self.expected}, found {self.actual}"


@dataclass(frozen=True)
class LedgerReport:
    tenant_id: object
    balances: int
    orders: int
    differences: list[LedgerDifference]


def _q(value) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(PLACES)


def _sum(field: str, condition: Q | None = None):
    return Coalesce(Sum(field, filter=condition), Value(ZERO), output_field=_DECIMAL)


def _latest(history_model, field: str):
    return Subquery(history_model.objects.unscoped().filter(balance=OuterRef("pk")).order_by("-id")
                    .values(field)[:1])


def _check(out: list, tenant_id, subject: str, check: str, expected, actual) -> None:
    if expected != actual:
        out.append(LedgerDifference(tenant_id, subject, check, expected, actual))


def _history_sums(model, tenant_id, *, with_hold: bool) -> dict:
    annotations = {"s": Sum("amount")}
    if with_hold:
        annotations["h"] = Sum("hold_change")
    return {row["balance"]: (_q(row["s"]), _q(row.get("h"))) for row in
            model.objects.unscoped().filter(tenant_id=tenant_id).values("balance").annotate(**annotations)}


def _store_balances(tenant_id, out: list) -> int:
    sums = _history_sums(BalanceStoreHistory, tenant_id, with_hold=True)
    rows = (BalanceStore.objects.unscoped().filter(tenant_id=tenant_id)
            .annotate(last_after=_latest(BalanceStoreHistory, "balance_after"),
                      last_hold_after=_latest(BalanceStoreHistory, "hold_after"))
            .values("pk", "balance", "hold", "last_after", "last_hold_after"))
    count = 0
    for row in rows:
        count += 1
        subject = f"balance_stores#{row['pk']}"
        total, hold_total = sums.get(row["pk"], (ZERO, ZERO))
        _check(out, tenant_id, subject, "balance = sum of history", total, row["balance"])
        _check(out, tenant_id, subject, "hold = sum of hold changes", hold_total, row["hold"])
        if row["last_after"] is not None:
            _check(out, tenant_id, subject, "balance = newest balance_after", row["last_after"], row["balance"])
            _check(out, tenant_id, subject, "hold = newest hold_after", row["last_hold_after"], row["hold"])
        if row["hold"] < 0 or row["balance"] < row["hold"]:
            out.append(LedgerDifference(tenant_id, subject, "0 ≤ hold ≤ balance", "within",
                                        f"hold {row['hold']}, balance {row['balance']}"))
    return count


def _trader_balances(tenant_id, out: list) -> int:
    crypto = _history_sums(BalanceTraderCryptoHistory, tenant_id, with_hold=True)
    fiat = _history_sums(BalanceTraderFiatHistory, tenant_id, with_hold=False)
    rows = (BalanceTrader.objects.unscoped().filter(tenant_id=tenant_id)
            .annotate(last_crypto=_latest(BalanceTraderCryptoHistory, "balance_after"),
                      last_hold=_latest(BalanceTraderCryptoHistory, "hold_after"),
                      last_fiat=_latest(BalanceTraderFiatHistory, "balance_after"))
            .values("pk", "crypto_balance", "crypto_hold", "fiat_balance", "fiat_credit_limit", "last_crypto",
                    "last_hold", "last_fiat"))
    count = 0
    for row in rows:
        count += 1
        subject = f"balance_traders#{row['pk']}"
        crypto_sum, hold_sum = crypto.get(row["pk"], (ZERO, ZERO))
        fiat_sum, _ = fiat.get(row["pk"], (ZERO, None))
        _check(out, tenant_id, subject, "crypto balance = sum of history", crypto_sum, row["crypto_balance"])
        _check(out, tenant_id, subject, "crypto hold = sum of hold changes", hold_sum, row["crypto_hold"])
        _check(out, tenant_id, subject, "fiat balance = sum of history", fiat_sum, row["fiat_balance"])
        if row["last_crypto"] is not None:
            _check(out, tenant_id, subject, "crypto balance = newest balance_after", row["last_crypto"],
                   row["crypto_balance"])
            _check(out, tenant_id, subject, "crypto hold = newest hold_after", row["last_hold"], row["crypto_hold"])
        if row["last_fiat"] is not None:
            _check(out, tenant_id, subject, "fiat balance = newest balance_after", row["last_fiat"],
                   row["fiat_balance"])
        if row["crypto_hold"] < 0 or row["crypto_balance"] < row["crypto_hold"]:
            out.append(LedgerDifference(tenant_id, subject, "0 ≤ crypto hold ≤ crypto balance", "within",
                                        f"hold {row['crypto_hold']}, balance {row['crypto_balance']}"))
        if row["fiat_balance"] < -row["fiat_credit_limit"]:
            out.append(LedgerDifference(tenant_id, subject, "fiat balance ≥ −credit limit",
                                        -row["fiat_credit_limit"], row["fiat_balance"]))
    return count


def _holds_backed_by_orders(tenant_id, out: list) -> None:
    open_orders = OrderHistory.objects.unscoped().filter(tenant_id=tenant_id, hold_amount__gt=0)
    trader_held = defaultdict(lambda: ZERO)
    for row in (open_orders.filter(order_type=OrderType.PAY_IN)
                .values("trader_id", "fiat_id", "crypto_currency_id").annotate(s=Sum("hold_amount"))):
        trader_held[(row["trader_id"], row["fiat_id"], row["crypto_currency_id"])] = _q(row["s"])
    store_held = defaultdict(lambda: ZERO)
    for row in (open_orders.filter(order_type=OrderType.PAY_OUT)
                .values("store_id", "crypto_currency_id").annotate(s=Sum("hold_amount"))):
        store_held[(row["store_id"], row["crypto_currency_id"])] = _q(row["s"])
    withdrawing = CryptoTransfer.objects.unscoped().filter(
        tenant_id=tenant_id, status=CryptoTransfer.Status.PENDING, direction=CryptoTransfer.Direction.WITHDRAWAL)
    store_withdrawing = {row["store_balance"]: _q(row["s"]) for row in withdrawing.filter(
        store_balance__isnull=False).values("store_balance").annotate(s=Sum("amount"))}
    trader_withdrawing = {row["trader_balance"]: _q(row["s"]) for row in withdrawing.filter(
        trader_balance__isnull=False).values("trader_balance").annotate(s=Sum("amount"))}
    for row in BalanceTrader.objects.unscoped().filter(tenant_id=tenant_id).values(
            "pk", "trader_id", "fiat_currency_id", "crypto_currency_id", "crypto_hold"):
        key = (row["trader_id"], row["fiat_currency_id"], row["crypto_currency_id"])
        _check(out, tenant_id, f"balance_traders#{row['pk']}",
               "crypto hold = holds of its open PayIns and pending withdrawals",
               trader_held.pop(key, ZERO) + trader_withdrawing.get(row["pk"], ZERO), row["crypto_hold"])
    for row in BalanceStore.objects.unscoped().filter(tenant_id=tenant_id).values(
            "pk", "store_id", "crypto_currency_id", "hold"):
        key = (row["store_id"], row["crypto_currency_id"])
        _check(out, tenant_id, f"balance_stores#{row['pk']}",
               "hold = holds of its open PayOuts and pending withdrawals",
               store_held.pop(key, ZERO) + store_withdrawing.get(row["pk"], ZERO), row["hold"])
    for key, amount in list(trader_held.items()) + list(store_held.items()):
        out.append(LedgerDifference(tenant_id, f"holds {key}", "orders hold funds on a missing balance", ZERO,
                                    amount))


def _order_sums(model, tenant_id, *, with_hold: bool) -> dict:
    commission = Q(kind=MovementKind.COMMISSION)
    annotations = {"s": _sum("amount"), "c": _sum("amount", commission)}
    if with_hold:
        annotations["h"] = _sum("hold_change")
    return {row["order"]: {key: _q(value) if key != "order" else value for key, value in row.items()} for row in
            model.objects.unscoped().filter(tenant_id=tenant_id, order__isnull=False, kind__in=ORDER_ONCE_KINDS)
            .values("order").annotate(**annotations)}


def _orders(tenant_id, out: list) -> int:
    store = _order_sums(BalanceStoreHistory, tenant_id, with_hold=True)
    crypto = _order_sums(BalanceTraderCryptoHistory, tenant_id, with_hold=True)
    fiat = _order_sums(BalanceTraderFiatHistory, tenant_id, with_hold=False)
    empty = {"s": ZERO, "c": ZERO, "h": ZERO}
    count = 0
    for order in (OrderHistory.objects.unscoped().filter(tenant_id=tenant_id)
                  .values("pk", "hash_id", "status", "order_type", "hold_amount", "store_commission",
                          "trader_commission", "confirmed_fiat").iterator(chunk_size=2000)):
        count += 1
        subject = f"order {order['hash_id']}"
        s, c, f = store.get(order["pk"], empty), crypto.get(order["pk"], empty), fiat.get(order["pk"], empty)
        _check(out, tenant_id, subject, "hold rows net to what the order holds", order["hold_amount"],
               s["h"] + c["h"])
        crypto_net = s["s"] + c["s"]
        if order["status"] == OrderHistory.Status.COMPLETED:
            net = order["trader_commission"] - order["store_commission"]
            _check(out, tenant_id, subject, "crypto movements net to trader − store commission", net, crypto_net)
            _check(out, tenant_id, subject, "commission rows = trader − store commission", net, s["c"] + c["c"])
            confirmed = order["confirmed_fiat"] or ZERO
            expected_fiat = confirmed if order["order_type"] == OrderType.PAY_IN else -confirmed
            _check(out, tenant_id, subject, "fiat movement = confirmed fiat", expected_fiat, f["s"])
            _check(out, tenant_id, subject, "a completed order holds nothing", ZERO, order["hold_amount"])
        else:
            _check(out, tenant_id, subject, "an unsettled order moved no crypto", ZERO, crypto_net)
            _check(out, tenant_id, subject, "an unsettled order moved no fiat", ZERO, f["s"])
            if order["status"] in CLOSED_UNSETTLED:
                _check(out, tenant_id, subject, "a closed order holds nothing", ZERO, order["hold_amount"])
    return count


def verify_tenant_ledger(tenant_id) -> LedgerReport:
    """Every difference in one tenant's ledger (empty when the books are exact)."""
    differences: list[LedgerDifference] = []
    balances = _store_balances(tenant_id, differences) + _trader_balances(tenant_id, differences)
    _holds_backed_by_orders(tenant_id, differences)
    orders = _orders(tenant_id, differences)
    return LedgerReport(tenant_id=tenant_id, balances=balances, orders=orders, differences=differences)


def verify_ledgers(tenant_ids: Iterable) -> list[LedgerReport]:
    return [verify_tenant_ledger(tenant_id) for tenant_id in tenant_ids]
