"""Reads of exchange rates: the rate an order is priced at."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from payments.errors import NoExchangeRate
from payments.models import CryptoCurrency, ExchangeRate, FiatCurrency


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
