"""Loading exchange rates from the configured provider into every active tenant's table."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from payments.errors import PaymentsError
from payments.exchange_rates import ExchangeRateProvider, RateQuote, get_provider
from payments.models import CryptoCurrency, ExchangeRate, FiatCurrency
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .audit_trail import record
from .guards import ensure_same_tenant


@dataclass
class LoadResult:
    quotes: int = 0
    created: int = 0
    per_tenant: dict[str, int] = field(default_factory=dict)


def load_exchange_rates(*, provider: ExchangeRateProvider | None = None,
                        tenants: list[Tenant] | None = None) -> LoadResult:
    """Fetch quotes once and store, in each tenant, those whose currencies it has.

    Each tenant is written in its own transaction inside its own tenant context,
    so RLS holds and one tenant's failure leaves the others' rates in place.
    """
    quotes = (provider or get_provider()).fetch()
    result = LoadResult(quotes=len(quotes))
    if tenants is None:
        tenants = list(Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("name"))
    for tenant in tenants:
        with tenant_context(tenant), transaction.atomic():
            created = _store_quotes(tenant, quotes)
        result.per_tenant[tenant.name] = created
        result.created += created
    return result


def _store_quotes(tenant: Tenant, quotes: list[RateQuote]) -> int:
    fiats = {c.code: c for c in FiatCurrency.objects.filter(code__in={q.fiat for q in quotes})}
    cryptos = {c.code: c for c in CryptoCurrency.objects.filter(code__in={q.crypto for q in quotes})}
    rows = [
        ExchangeRate(tenant_id=tenant.pk, fiat_currency=fiats[q.fiat], crypto_currency=cryptos[q.crypto],
                     rate=q.rate, source=q.source, fetched_at=q.fetched_at)
        for q in quotes if q.fiat in fiats and q.crypto in cryptos
    ]
    ExchangeRate.objects.bulk_create(rows)
    return len(rows)


@transaction.atomic
def record_exchange_rate(*, fiat_currency: FiatCurrency, crypto_currency: CryptoCurrency, rate: Decimal,
                         source: str = "manual", fetched_at: datetime | None = None,
                         actor=None) -> ExchangeRate:
    """One rate entered by hand (staff) or by a custom job; audited when a person does it."""
    ensure_same_tenant(fiat_currency.tenant_id, crypto_currency)
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise PaymentsError("The rate must be a positive decimal number.", code="invalid_rate",
                            fields={"rate": ["Must be a positive number."]})
    row = ExchangeRate.objects.create(tenant_id=fiat_currency.tenant_id, fiat_currency=fiat_currency,
                                      crypto_currency=crypto_currency, rate=rate, source=source[:64],
                                      fetched_at=fetched_at or timezone.now())
    if actor is not None:
        record(action="exchange_rate.recorded", target=row, actor=actor,
               description=f"1 {crypto_currency.code} = {rate} {fiat_currency.code}",
               details={"rate": rate, "source": row.source})
    return row
