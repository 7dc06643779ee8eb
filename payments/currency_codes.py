"""Which currency codes are crypto, for showing money (core.money_display): 4 places for crypto, 2 for fiat.

A template often has only a code (`{{ amount|money:"USDT" }}`, a row of `.values()`), so the answer comes from
the operator's own reference data, the `CryptoCurrency` rows, not from a list in the code. A coin staff add
is shown as crypto without a release.

Cached per process and per operator (core.local_cache), for CURRENCY_CODES_CACHE_SECONDS (5 minutes by
default), and not per request: a list page asks once per cell, the set changes when staff add a coin (rarely),
and a stale answer costs only two display places, never a wrong stored value. A save or delete of a
`CryptoCurrency` in this process empties the cache at once (payments.signals); other processes see it within
the TTL. With no operator current (no tenant, e.g. the pay page before it enters one), or an operator with no
crypto currency yet, the codes the platform has always served stand in, with no query.
"""

from core.local_cache import LocalTTLCache
from tenancy.scoping import current_tenant_id, is_bypassed

FALLBACK_CRYPTO_CODES = frozenset({"USDT", "USDC", "BTC", "ETH", "TRX", "TON", "BNB"})

_codes: LocalTTLCache[frozenset[str]] = LocalTTLCache("crypto codes", ttl_setting="CURRENCY_CODES_CACHE_SECONDS",
                                                       max_entries=1_000)


def crypto_codes() -> frozenset[str]:
    """The upper-case codes of the current operator's crypto currencies (every operator's when the tenant scope
    is bypassed); FALLBACK_CRYPTO_CODES when there is none to ask or the operator has none."""
    tenant_id = current_tenant_id()
    bypassed = is_bypassed()
    if tenant_id is None and not bypassed:
        return FALLBACK_CRYPTO_CODES
    key = tenant_id if tenant_id is not None else "every operator"
    return _codes.get_or_load(key, lambda: _load(tenant_id))


def _load(tenant_id) -> frozenset[str]:
    from payments.models import CryptoCurrency

    rows = CryptoCurrency.objects.all()
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)  # also under a bypass: this operator's coins, as the key says
    return frozenset(code.upper() for code in rows.values_list("code", flat=True)) or FALLBACK_CRYPTO_CODES


def is_crypto_currency(currency) -> bool:
    """A CryptoCurrency row is crypto and a FiatCurrency row is not; a code is looked up in crypto_codes()."""
    from payments.models import CryptoCurrency, FiatCurrency

    if isinstance(currency, CryptoCurrency):
        return True
    if isinstance(currency, FiatCurrency) or not currency:
        return False
    return str(currency).strip().upper() in crypto_codes()
