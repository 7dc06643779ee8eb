"""Reads of reference data: what a store in one fiat currency can be served with (methods and banks)."""

from dataclasses import dataclass

from django.db.models import Exists, Q

from core.local_cache import LocalTTLCache
from payments.models import AvailableBankMethod, Bank, FiatCurrency, PaymentMethod


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
