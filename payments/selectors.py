"""Reads of the payments domain."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, Q
from django.utils import timezone

from core.local_cache import LocalTTLCache
from payments.errors import NoExchangeRate
from payments.models import (
    AvailableBankMethod,
    Bank,
    CryptoCurrency,
    ExchangeRate,
    FiatCurrency,
    MerchantStore,
    OrderHistory,
    OrderType,
    PaymentMethod,
)
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


# --- what a store can be served with -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedOffers:
    """The payment methods and banks requisites of one fiat currency could ever take, from reference data.

    A requisite has a currency, a bank and a method, and its bank must offer its method (an active row of
    `avalible_bank_methods`); a bank belongs to a currency through its country. So a store in that currency
    can be served with a method only if some active bank of the currency's country offers it. Reference
    rows that name no country (a bank or a currency without one) are not restricted by it.
    This says what could ever be served, not what is free now: an order that finds every such requisite
    busy is accepted and retried.
    """

    methods: dict[str, PaymentMethod]  # by code
    banks: dict[str, Bank]  # by name
    banks_of_method: dict[str, list[str]]  # method code → bank names, sorted

    def offers(self, method_code: str, bank_name: str) -> bool:
        return bank_name in self.banks_of_method.get(method_code, ())


# Per process for STORE_API_CACHE_SECONDS (core.local_cache): intake reads it on every request naming a method/bank.
_served: LocalTTLCache[ServedOffers] = LocalTTLCache("served-offers", ttl_setting="STORE_API_CACHE_SECONDS")


def served_offers(tenant_id, fiat_currency_id: int, *, fresh: bool = False) -> ServedOffers:
    """ServedOffers of the currency in the current tenant; `fresh` reads the database again (before a refusal)."""
    key = (tenant_id, fiat_currency_id)
    if fresh:
        _served.forget(key)
    return _served.get_or_load(key, lambda: _load_served_offers(fiat_currency_id))


def _load_served_offers(fiat_currency_id: int) -> ServedOffers:
    """One query: the active offers of active methods at active banks of the currency's country."""
    currency = FiatCurrency.objects.filter(pk=fiat_currency_id)
    of_currency = (Q(bank__country__isnull=True) | Q(bank__country_id__in=currency.values("country_id"))
                   | ~Exists(currency.filter(country__isnull=False)))
    offers = (AvailableBankMethod.objects.filter(of_currency, is_active=True, bank__is_active=True,
                                                 method__is_active=True)
              .select_related("bank", "method").order_by("method__code", "bank__name"))
    methods: dict[str, PaymentMethod] = {}
    banks: dict[str, Bank] = {}
    banks_of_method: dict[str, list[str]] = {}
    for offer in offers:
        methods.setdefault(offer.method.code, offer.method)
        banks.setdefault(offer.bank.name, offer.bank)
        banks_of_method.setdefault(offer.method.code, []).append(offer.bank.name)
    return ServedOffers(methods=methods, banks=banks, banks_of_method=banks_of_method)
