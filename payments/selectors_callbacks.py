"""Reads for store callbacks: the event body a store receives.

The deliveries a merchant sees are read by the cabinet (payments.cabinet.selectors).
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payments.models import Appeal, IncomingOrder, OrderHistory


def _amount(value: Decimal | None) -> str | None:
    # Strings, not floats: a receiver gets the exact amount it would get from the store API.
    return None if value is None else str(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_event_data(incoming_order: IncomingOrder, *, event_type: str) -> dict[str, Any]:
    """The order as the store sees it at the moment of the event (the `data` of the callback body).

    Mirrors the store API's order (same ids, names and string amounts) and adds
    what a callback needs on top: the requested amounts, the confirmed ones
    (which may differ: underpaid / overpaid) and, for appeal events, the appeal.
    Nothing secret: the customer's requisite is masked, the trader's is absent.
    """
    order = (IncomingOrder.objects.unscoped()
             .select_related("fiat_currency", "crypto_currency", "payment_method", "bank")
             .get(pk=incoming_order.pk, tenant_id=incoming_order.tenant_id))
    assigned = (OrderHistory.objects.unscoped().select_related("method", "bank")
                .filter(incoming_order_id=order.pk, tenant_id=order.tenant_id).first())
    method = assigned.method if assigned else order.payment_method
    bank = assigned.bank if assigned else order.bank
    data: dict[str, Any] = {
        "id": order.hash_id,
        "type": order.order_type,
        "status": order.status,
        "order_status": assigned.status if assigned else None,
        "client_id": order.client_id,
        "customer_id": order.customer_id,
        "fiat_currency": order.fiat_currency.code,
        "crypto_currency": order.crypto_currency.code,
        "amount_fiat": _amount(order.total_fiat),
        "amount_crypto": _amount(order.amount_currency),
        "exchange_rate": _amount(order.exchange_rate),
        "store_commission": _amount(order.store_commission),
        "requested": {
            "amount_fiat": _amount(order.total_fiat),
            "amount_crypto": _amount(order.amount_currency),
        },
        "confirmed": None,
        "amount_mismatch": None,
        "method": method.code if method else None,
        "bank": bank.name if bank else None,
        "customer_requisite_last4": order.customer_requisite_last4 or None,
        "failure_reason": order.failure_reason or None,
        "paid_at": _time(assigned.paid_at) if assigned else None,
        "expires_at": _time(assigned.expires_at) if assigned else None,
        "completed_at": _time(assigned.completed_at) if assigned else None,
        "created": _time(order.created_at),
        "updated": _time(max(order.updated_at, assigned.updated_at) if assigned else order.updated_at),
    }
    if assigned is not None and (assigned.confirmed_fiat is not None or assigned.confirmed_crypto is not None):
        data["confirmed"] = {
            "amount_fiat": _amount(assigned.confirmed_fiat),
            "amount_crypto": _amount(assigned.confirmed_crypto),
        }
        data["amount_mismatch"] = assigned.amount_mismatch or None
    if event_type.startswith("appeal.") and assigned is not None:
        appeal = (Appeal.objects.unscoped().filter(order_id=assigned.pk, tenant_id=order.tenant_id)
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

