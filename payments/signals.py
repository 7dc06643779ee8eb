"""Empty the per-process caches of the store API when a row they may hold changes in this process.

Other processes see the change within STORE_API_CACHE_SECONDS (core.local_cache).
"""

from django.db.models.signals import post_delete, post_save

from core.local_cache import clear_local_caches

CACHED_MODELS = (
    "tenancy.Tenant", "accounts.User", "payments.Merchant", "payments.MerchantStore", "payments.ExchangeRate",
    "payments.PaymentMethod", "payments.Bank", "payments.AvailableBankMethod", "payments.FiatCurrency",
    "payments.CryptoCurrency",
)


def _forget_cached_rows(sender, **kwargs) -> None:
    clear_local_caches()


def connect() -> None:
    for label in CACHED_MODELS:
        post_save.connect(_forget_cached_rows, sender=label, dispatch_uid=f"local-cache-save-{label}")
        post_delete.connect(_forget_cached_rows, sender=label, dispatch_uid=f"local-cache-delete-{label}")
