"""Reads of stores across tenants, before the tenant is known."""

from payments.models import MerchantStore
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
