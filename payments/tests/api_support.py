"""Helpers of the store API tests (payments/tests/test_api_*.py): a store with a key, a client for it."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from rest_framework.test import APIClient

from payments.models import ExchangeRate, MerchantStore
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .factories import Refs, make_reference_data, make_store

RATE = Decimal("36.50000000")


@dataclass
class ApiStore:
    tenant: Tenant
    refs: Refs
    store: MerchantStore
    key: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        return client


def fresh_rate(refs: Refs, rate: Decimal = RATE, *, age_seconds: int = 0) -> ExchangeRate:
    return ExchangeRate.objects.create(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=rate, source="test",
                                       fetched_at=timezone.now() - timezone.timedelta(seconds=age_seconds))


def make_api_store(tenant: Tenant, refs: Refs | None = None, *, with_rate: bool = True, **store_options) -> ApiStore:
    """A store (limits 100–50000 THB, USDT) with its raw key and, by default, a fresh rate; in `tenant`."""
    with tenant_context(tenant):
        refs = refs or make_reference_data()
        store, key = make_store(refs, **store_options)
        if with_rate:
            fresh_rate(refs)
    return ApiStore(tenant=tenant, refs=refs, store=store, key=key)


PAYIN = {"amount_fiat": "1000.00", "client_id": "order-1", "customer_id": "cust-1"}
PAYOUT = {"amount_crypto": "10", "client_id": "wd-1", "customer_requisite": "4111 1111 1111 1234"}
