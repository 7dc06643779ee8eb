"""Reads of the payments domain."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from payments.errors import NoExchangeRate
from payments.models import CryptoCurrency, ExchangeRate, FiatCurrency, MerchantStore, OrderHistory, OrderType
from payments.store_keys import private_key_digest
from tenancy.scoping import dangerously_bypass_tenant_scope


def find_store_by_private_key(raw_key: str) -> MerchantStore | None:
    """The store a Bearer key belongs to, across tenants (the tenant is not known yet).

    Looked up by the key's digest only, so a guess costs one indexed lookup and
    reveals nothing. The caller then enters `tenant_context(store.tenant)` and
    checks the store's `access`, its merchant and its tenant.
    """
    if not raw_key or len(raw_key) > 256:
        return None
    with dangerously_bypass_tenant_scope():
        return (MerchantStore.objects.select_related("tenant", "merchant__user", "crypto_currency", "fiat_currency")
                .filter(private_api_key_digest=private_key_digest(raw_key)).first())


def current_rate(tenant, fiat: FiatCurrency | str, crypto: CryptoCurrency | str, *,
                 max_age: timedelta | None = None, now: datetime | None = None) -> ExchangeRate:
    """The newest rate of the pair younger than `max_age` (default EXCHANGE_RATE_MAX_AGE).

    Raises NoExchangeRate (code `no_exchange_rate`) when there is none, so intake
    refuses instead of pricing an order at a stale rate.
    """
    max_age = settings.EXCHANGE_RATE_MAX_AGE if max_age is None else max_age
    now = now or timezone.now()
    tenant_id = getattr(tenant, "pk", tenant)
    rates = ExchangeRate.objects.unscoped().filter(tenant_id=tenant_id, fetched_at__gt=now - max_age,
                                                   fetched_at__lte=now)
    rates = rates.filter(fiat_currency__code=fiat) if isinstance(fiat, str) else rates.filter(fiat_currency=fiat)
    rates = (rates.filter(crypto_currency__code=crypto) if isinstance(crypto, str)
             else rates.filter(crypto_currency=crypto))
    rate = rates.select_related("fiat_currency", "crypto_currency").order_by("-fetched_at", "-id").first()
    if rate is None:
        fiat_code = getattr(fiat, "code", fiat)
        crypto_code = getattr(crypto, "code", crypto)
        minutes = int(max_age.total_seconds() // 60)
        raise NoExchangeRate(f"No {crypto_code}/{fiat_code} exchange rate newer than {minutes} minutes; "
                             "try again later.",
                             fields={"currency": [f"No current rate for {crypto_code}/{fiat_code}."]})
    return rate


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
