"""Reads for the paying customer: the whole requisite number, and only while the customer has to pay it."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from payments.models import OrderHistory, OrderType
from tenancy.scoping import dangerously_bypass_tenant_scope


@dataclass(frozen=True)
class PaymentDetails:
    """What the paying customer of an assigned payin sees on /pay/<hash_id>."""

    hash_id: str
    status: str
    amount: Decimal
    fiat_code: str
    bank_name: str
    method_name: str
    holder_name: str
    req_number: str
    expires_at: datetime | None
    return_url: str | None


PAYABLE_STATUSES = (OrderHistory.Status.PENDING, OrderHistory.Status.PROCESSING)


def payment_details_for_customer(hash_id: str) -> PaymentDetails | None:
    """The whole requisite number for the customer who has to pay it, and only while they have to.

    The hash id is the customer's only credential (unguessable, from the store's
    payment_url), so this answers only for an assigned payin still awaiting
    payment; anything else is None and the page shows no number.
    """
    if not hash_id or len(hash_id) > 32:
        return None
    with dangerously_bypass_tenant_scope():
        order = (OrderHistory.objects
                 .select_related("requisite__owner_of_requisites", "bank", "method", "fiat", "incoming_order")
                 .filter(hash_id=hash_id, order_type=OrderType.PAY_IN, status__in=PAYABLE_STATUSES).first())
        if order is None or (order.expires_at is not None and order.expires_at <= timezone.now()):
            return None
        requisite = order.requisite
        return PaymentDetails(
            hash_id=order.hash_id, status=order.status, amount=order.total_fiat, fiat_code=order.fiat.code,
            bank_name=order.bank.name, method_name=order.method.name,
            holder_name=requisite.owner_of_requisites.full_name if requisite.owner_of_requisites else "",
            req_number=requisite.req_number, expires_at=order.expires_at,
            return_url=order.incoming_order.return_url,
        )
