"""Reads of the hosted payment page /pay/<hash_id>: which tenant an order is in, and what its customer sees.

The page has no login: the order's hash id (unguessable, handed to the customer
by the store) is the only credential. So the tenant is found from the hash id
alone (`tenant_of_hash_id`, the one read across tenants), and everything else
is read inside that tenant. The whole requisite number is not read here: it
comes from `payments.selectors.customer.payment_details_for_customer`, which gives it
only while the order is waiting for payment.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from payments.models import Appeal, IncomingOrder, OrderHistory, OrderType
from tenancy.scoping import dangerously_bypass_tenant_scope


def payment_url(hash_id: str) -> str:
    """The absolute link of the hosted payment page of order `hash_id` (store API answers, demo output)."""
    before, after = _pay_path_around_hash_id(get_urlconf(), get_script_prefix())
    return f"{settings.SITE_URL.rstrip('/')}{before}{hash_id}{after}"


@lru_cache(maxsize=8)
def _pay_path_around_hash_id(urlconf, script_prefix: str) -> tuple[str, str]:
    """The page's path split around its hash id, reversed once per URLconf and script prefix — the two
    things reverse() reads besides its arguments (every store API answer has a payment_url; reversing it
    each time took about 2 % of an intake request). Hash ids are URL-safe tokens, so pasting one in is
    what reverse() would do."""
    placeholder = "HASHIDPLACEHOLDER"
    before, after = reverse("pay:order", kwargs={"hash_id": placeholder}, urlconf=urlconf).split(placeholder)
    return before, after


HASH_ID_MAX = 32


class Stage:
    """What the page shows; one word per state the customer can tell apart."""

    WAITING = "waiting"  # accepted by the store, no requisite yet
    UNAVAILABLE = "unavailable"  # no requisite could be found, or the store cancelled before one was
    PAY = "pay"  # PayIn waiting for the customer's payment
    PAID = "paid"  # the customer said they paid; the trader is checking
    DISPUTED = "disputed"  # an appeal is being looked at
    COMPLETED = "completed"
    EXPIRED = "expired"
    CLOSED = "closed"  # cancelled or failed
    PAYOUT = "payout"  # PayOut in progress (the customer receives money; nothing to do here)


@dataclass(frozen=True)
class HostedOrder:
    hash_id: str
    tenant_id: uuid.UUID
    order_type: str
    stage: str
    amount: Decimal
    fiat_code: str
    store_name: str
    return_url: str | None
    expires_at: datetime | None
    paid_at: datetime | None
    has_receipt: bool
    appeal_open: bool
    can_appeal: bool
    order: OrderHistory | None


def _valid_hash(hash_id: str) -> bool:
    return bool(hash_id) and len(hash_id) <= HASH_ID_MAX


def tenant_of_hash_id(hash_id: str) -> uuid.UUID | None:
    """The tenant of the order with this hash id, or None; the page's one read across tenants."""
    if not _valid_hash(hash_id):
        return None
    with dangerously_bypass_tenant_scope():
        return IncomingOrder.objects.filter(hash_id=hash_id).values_list("tenant_id", flat=True).first()


def _safe_return_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _stage(incoming: IncomingOrder, order: OrderHistory | None, now: datetime) -> str:
    if order is None:
        if incoming.status in (IncomingOrder.Status.FAILED, IncomingOrder.Status.CANCELLED):
            return Stage.UNAVAILABLE
        return Stage.WAITING
    status = order.status
    if status == OrderHistory.Status.COMPLETED:
        return Stage.COMPLETED
    if status == OrderHistory.Status.EXPIRED:
        return Stage.EXPIRED
    if status in (OrderHistory.Status.CANCELLED, OrderHistory.Status.FAILED):
        return Stage.CLOSED
    if status == OrderHistory.Status.DISPUTED:
        return Stage.DISPUTED
    if order.order_type == OrderType.PAY_OUT:
        return Stage.PAYOUT
    if status == OrderHistory.Status.PROCESSING:
        return Stage.PAID
    if order.expires_at is not None and order.expires_at <= now:
        return Stage.EXPIRED  # the sweeper has not got to it yet
    return Stage.PAY


def hosted_order(hash_id: str) -> HostedOrder | None:
    """The order behind /pay/<hash_id> as its customer sees it; call inside the order's tenant."""
    if not _valid_hash(hash_id):
        return None
    incoming = (IncomingOrder.objects.select_related("fiat_currency", "store")
                .only("hash_id", "tenant_id", "order_type", "status", "total_fiat", "return_url", "fiat_currency__code",
                      "store__store_name")
                .filter(hash_id=hash_id).first())
    if incoming is None:
        return None
    order = OrderHistory.objects.select_related("fiat").filter(incoming_order=incoming).first()
    appeal_open = order is not None and Appeal.objects.filter(order=order, status=Appeal.Status.OPEN).exists()
    stage = _stage(incoming, order, timezone.now())
    can_appeal = (order is not None and not appeal_open and order.order_type == OrderType.PAY_IN
                  and stage in (Stage.PAY, Stage.PAID, Stage.EXPIRED))
    return HostedOrder(
        hash_id=incoming.hash_id, tenant_id=incoming.tenant_id, order_type=incoming.order_type, stage=stage,
        amount=order.total_fiat if order else incoming.total_fiat, fiat_code=incoming.fiat_currency.code,
        store_name=incoming.store.store_name,
        return_url=_safe_return_url(incoming.return_url), expires_at=order.expires_at if order else None,
        paid_at=order.paid_at if order else None, has_receipt=bool(order and order.customer_receipt),
        appeal_open=appeal_open, can_appeal=can_appeal, order=order,
    )
