"""Reads for store callbacks: the event body a store receives.

The deliveries a merchant sees are read by the cabinet (payments.cabinet.selectors).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payments.models import Appeal, IncomingOrder, OrderHistory, store_status


def _amount(value: Decimal | None) -> str | None:
    # Strings, not floats: a receiver gets the exact amount it would get from the store API.
    return None if value is None else str(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# What the body shows, read as plain values in one query (the order LEFT JOIN its execution): the event
# is written inside the assignment worker's transaction, where loading both rows whole cost a third of it.
_ORDER_COLUMNS = (
    "hash_id", "order_type", "status", "client_id", "customer_id", "fiat_currency__code", "crypto_currency__code",
    "total_fiat", "amount_currency", "exchange_rate", "store_commission", "payment_method__code", "bank__name",
    "customer_requisite_last4", "failure_reason", "created_at", "updated_at",
)
_EXECUTION_COLUMNS = (
    "id", "status", "method__code", "bank__name", "paid_at", "expires_at", "completed_at", "updated_at",
    "confirmed_fiat", "confirmed_crypto", "amount_mismatch",
)


@dataclass(frozen=True)
class OrderNames:
    """What an event shows instead of ids: currency codes, the method's code and the bank's name."""

    fiat_currency: str
    crypto_currency: str
    method: str | None
    bank: str | None


def order_event_data(incoming_order: IncomingOrder, *, event_type: str) -> dict[str, Any]:
    """The order as the store sees it at the moment of the event (the `data` of the callback body).

    Mirrors the store API's order (same ids, names and string amounts) and adds
    what a callback needs on top: the requested amounts, the confirmed ones
    (which may differ: underpaid / overpaid) and, for appeal events, the appeal.
    Nothing secret: the customer's requisite is masked, the trader's is absent.
    """
    row = (IncomingOrder.objects.unscoped().filter(pk=incoming_order.pk, tenant_id=incoming_order.tenant_id)
           .values(*_ORDER_COLUMNS, *(f"assigned_order__{name}" for name in _EXECUTION_COLUMNS)).get())
    return _event_data(row, event_type=event_type, tenant_id=incoming_order.tenant_id)


def order_event_data_in_hand(incoming_order: IncomingOrder, *, names: OrderNames,
                             assigned: OrderHistory | None = None) -> dict[str, Any]:
    """`order_event_data` of an order event built from rows the caller holds as they now are in its
    transaction, without reading them again (the assignment worker writes two events per order).
    `names` are those of the order's method and bank, which are the execution's once it is `assigned`."""
    looked_up = {"fiat_currency__code": names.fiat_currency, "crypto_currency__code": names.crypto_currency,
                 "payment_method__code": names.method, "bank__name": names.bank,
                 "assigned_order__method__code": names.method, "assigned_order__bank__name": names.bank}
    row = {name: looked_up[name] if "__" in name else getattr(incoming_order, name) for name in _ORDER_COLUMNS}
    for name in _EXECUTION_COLUMNS:
        key = f"assigned_order__{name}"
        row[key] = None if assigned is None else looked_up[key] if "__" in name else getattr(assigned, name)
    return _event_data(row, event_type="", tenant_id=incoming_order.tenant_id)


def _event_data(row: dict[str, Any], *, event_type: str, tenant_id) -> dict[str, Any]:
    assigned = {name: row[f"assigned_order__{name}"] for name in _EXECUTION_COLUMNS}
    is_assigned = assigned["id"] is not None
    updated = max(row["updated_at"], assigned["updated_at"]) if is_assigned else row["updated_at"]
    data: dict[str, Any] = {
        "id": row["hash_id"],
        "type": row["order_type"],
        # One lifecycle status, as the store API's order shows it; the queue's detail beside it.
        "status": store_status(row["status"], assigned["status"] if is_assigned else None).value,
        "intake_status": row["status"],
        "client_id": row["client_id"],
        "customer_id": row["customer_id"],
        "fiat_currency": row["fiat_currency__code"],
        "crypto_currency": row["crypto_currency__code"],
        "amount_fiat": _amount(row["total_fiat"]),
        "amount_crypto": _amount(row["amount_currency"]),
        "exchange_rate": _amount(row["exchange_rate"]),
        "store_commission": _amount(row["store_commission"]),
        "requested": {
            "amount_fiat": _amount(row["total_fiat"]),
            "amount_crypto": _amount(row["amount_currency"]),
        },
        "confirmed": None,
        "amount_mismatch": None,
        "method": assigned["method__code"] if is_assigned else row["payment_method__code"],
        "bank": assigned["bank__name"] if is_assigned else row["bank__name"],
        "customer_requisite_last4": row["customer_requisite_last4"] or None,
        "failure_reason": row["failure_reason"] or None,
        "paid_at": _time(assigned["paid_at"]),
        "expires_at": _time(assigned["expires_at"]),
        "completed_at": _time(assigned["completed_at"]),
        "created": _time(row["created_at"]),
        "updated": _time(updated),
    }
    if is_assigned and (assigned["confirmed_fiat"] is not None or assigned["confirmed_crypto"] is not None):
        data["confirmed"] = {
            "amount_fiat": _amount(assigned["confirmed_fiat"]),
            "amount_crypto": _amount(assigned["confirmed_crypto"]),
        }
        data["amount_mismatch"] = assigned["amount_mismatch"] or None
    if event_type.startswith("appeal.") and is_assigned:
        appeal = (Appeal.objects.unscoped().filter(order_id=assigned["id"], tenant_id=tenant_id)
                  .order_by("-created_at", "-id").first())
        if appeal is not None:
            data["appeal"] = {
                "id": appeal.pk,
                "status": appeal.status,
                "opened_by": appeal.opened_by_role,
                "resolution": appeal.resolution or None,
                "opened_at": _time(appeal.created_at),
                "resolved_at": _time(appeal.resolved_at),
            }
    return data

