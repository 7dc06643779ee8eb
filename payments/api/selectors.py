"""Reads of the store API; each runs inside the store's tenant and sees that store's rows only."""

import re

from django.db.models import QuerySet

from core.local_cache import LocalTTLCache
from payments.models import BalanceStore, IncomingOrder, MerchantStore
from payments.selectors.offers import served_offers
from payments.store_keys import private_key_digest
from tenancy.scoping import dangerously_bypass_tenant_scope

ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")

# What authentication, permission, intake and the answers read of a store and its relations. Loading only
# these (not the user's or store's other ~40 columns, nor the encrypted callback secret) roughly halves the
# cost of the one query every store API request makes; anything else would load on access.
STORE_API_COLUMNS = (
    "tenant__status", "merchant__user__status", "merchant__user__email", "merchant__user__is_staff",
    "merchant__user__is_superuser", "fiat_currency__code", "crypto_currency__code",
    "store_name", "lower_limit", "upper_limit", "pay_in_commission_percent", "pay_out_commission_percent",
    "pay_in_enabled", "pay_out_enabled", "access", "trafic_access", "gateway_require_customer_id_param",
    "gateway_require_amount_param",
)


# The store of a key digest, for STORE_API_CACHE_SECONDS (see core.local_cache for the staleness bound).
_stores_by_key_digest: LocalTTLCache[MerchantStore] = LocalTTLCache("store-api-stores",
                                                                    ttl_setting="STORE_API_CACHE_SECONDS")


def store_for_api_key(raw_key: str) -> MerchantStore | None:
    """payments.selectors.stores.find_store_by_private_key, loading only what the store API uses.

    Same rule: looked up by the key's keyed digest across tenants (the tenant is not known yet);
    the caller checks access, merchant and tenant, then enters the store's tenant. Unknown keys
    are never cached, so a new key works at once.
    """
    if not raw_key or len(raw_key) > 256:
        return None
    digest = private_key_digest(raw_key)
    return _stores_by_key_digest.get_or_load(digest, lambda: _load_store(digest))


def _load_store(digest: str) -> MerchantStore | None:
    with dangerously_bypass_tenant_scope():
        found = list(MerchantStore.objects
                     .select_related("tenant", "merchant__user", "crypto_currency", "fiat_currency")
                     .only(*STORE_API_COLUMNS)
                     .filter(private_api_key_digest=digest).order_by()[:1])
    return found[0] if found else None


def store_orders(store: MerchantStore) -> QuerySet[IncomingOrder]:
    """The store's orders with what OrderSerializer shows, in one query."""
    return (IncomingOrder.objects.filter(store=store)
            .select_related("fiat_currency", "crypto_currency", "payment_method", "bank", "assigned_order")
            .defer("customer_requisite"))


def store_order(store: MerchantStore, order_id: str) -> IncomingOrder | None:
    if not ORDER_ID.match(order_id or ""):
        return None
    return store_orders(store).filter(hash_id=order_id).first()


def store_balance(store: MerchantStore) -> BalanceStore:
    """The store's balance in its crypto currency (zero when nothing was ever posted)."""
    balance = BalanceStore.objects.filter(store=store, crypto_currency_id=store.crypto_currency_id).first()
    return balance or BalanceStore(store=store, crypto_currency=store.crypto_currency, tenant_id=store.tenant_id)


def available_methods(store: MerchantStore) -> list[dict]:
    """The methods the store can be served with, each with the banks offering it (selectors.offers.served_offers:
    active offers at active banks of the store's currency), by method code."""
    served = served_offers(store.tenant_id, store.fiat_currency_id)
    return [{"code": code, "name": method.name, "banks": served.banks_of_method[code]}
            for code, method in sorted(served.methods.items())]
