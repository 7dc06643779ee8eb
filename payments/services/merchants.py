"""Merchants and their stores: profiles, store keys and store settings."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from payments import store_keys
from payments.callbacks.destinations import check_callback_url
from payments.errors import PaymentsError
from payments.models import BalanceStore, CryptoCurrency, FiatCurrency, Merchant, MerchantStore, VerificationLevel
from payments.permissions import EDIT_LIMITS, MANAGE_MERCHANTS, require_any_flag
from tenancy import services as tenancy_services

from .audit_trail import record
from .changes import apply_changes, validate_model
from .guards import ensure_same_tenant

# Fields of a store that are plain settings; keys and secrets have their own services.
STORE_SETTINGS = (
    "store_name", "crypto_currency", "fiat_currency", "callback_url",
    "pay_in_enabled", "pay_out_enabled", "access", "trafic_access",
    "gateway_require_customer_id_param", "gateway_require_amount_param",
)
STORE_LIMITS = ("lower_limit", "upper_limit", "pay_in_commission_percent", "pay_out_commission_percent")


def _set_private_key(store: MerchantStore) -> str:
    raw = store_keys.new_private_key()
    store.private_api_key_digest = store_keys.private_key_digest(raw)
    store.private_api_key_prefix = raw[:store_keys.PRIVATE_KEY_PREFIX_LENGTH]
    store.keys_rotated_at = timezone.now()
    return raw


@transaction.atomic
def create_merchant(*, tenant, user, first_name: str = "", last_name: str = "", avatar_url: str = "",
                    verification_level: str = VerificationLevel.UNVERIFIED,
                    actor=None) -> Merchant:
    """Give `user` a merchant profile in `tenant`: membership, the `merchant` role, audited."""
    merchant = Merchant(tenant=tenant, user=user, first_name=first_name, last_name=last_name,
                        avatar_url=avatar_url, verification_level=verification_level)
    validate_model(merchant, exclude=["tenant", "user"])
    try:
        with transaction.atomic():
            merchant.save()
    except IntegrityError:
        raise PaymentsError("This user already has a merchant profile.", code="merchant_exists")
    tenancy_services.add_membership(tenant=tenant, user=user, actor=actor)
    tenancy_services.assign_role(tenant=tenant, user=user, role_key="merchant", actor=actor)
    record(action="merchant.created", target=merchant, actor=actor,
           description=f"Merchant profile for {user.email}", details={"user": user.pk})
    return merchant


@transaction.atomic
def update_merchant(*, merchant: Merchant, changes: dict[str, Any], actor=None) -> Merchant:
    allowed = {"first_name", "last_name", "avatar_url", "verification_level"}
    return apply_changes(merchant, changes, allowed, action="merchant.changed", actor=actor)


@transaction.atomic
def create_store(*, merchant: Merchant, store_name: str, crypto_currency: CryptoCurrency,
                 fiat_currency: FiatCurrency, lower_limit: Decimal, upper_limit: Decimal,
                 pay_in_commission_percent: Decimal = Decimal("0"),
                 pay_out_commission_percent: Decimal = Decimal("0"), callback_url: str = "",
                 pay_in_enabled: bool = True, pay_out_enabled: bool = True, access: bool = True,
                 trafic_access: bool = True, gateway_require_customer_id_param: bool = False,
                 gateway_require_amount_param: bool = False, actor=None) -> tuple[MerchantStore, str]:
    """Create a store with fresh keys; returns the raw private API key, the only time it exists.

    Only the key's digest is stored, so it cannot be shown again: a lost key is
    replaced with rotate_store_keys.
    """
    ensure_same_tenant(merchant.tenant_id, crypto_currency, fiat_currency)
    store = MerchantStore(
        tenant_id=merchant.tenant_id, merchant=merchant, store_name=store_name,
        crypto_currency=crypto_currency, fiat_currency=fiat_currency,
        lower_limit=lower_limit, upper_limit=upper_limit,
        pay_in_commission_percent=pay_in_commission_percent,
        pay_out_commission_percent=pay_out_commission_percent, callback_url=callback_url,
        pay_in_enabled=pay_in_enabled, pay_out_enabled=pay_out_enabled, access=access,
        trafic_access=trafic_access, gateway_require_customer_id_param=gateway_require_customer_id_param,
        gateway_require_amount_param=gateway_require_amount_param,
        public_api_key=store_keys.new_public_key(), secret_key=store_keys.new_callback_secret(),
    )
    raw_key = _set_private_key(store)
    validate_model(store, exclude=["tenant", "merchant", "crypto_currency", "fiat_currency"])
    _check_store(store)
    store.save()
    BalanceStore.objects.create(tenant_id=store.tenant_id, store=store, crypto_currency=crypto_currency)
    record(action="store.created", target=store, actor=actor, description=f"Store {store.store_name}",
           details={"merchant": merchant.pk, "key_prefix": store.private_api_key_prefix})
    return store, raw_key


@transaction.atomic
def rotate_store_keys(*, store: MerchantStore, actor=None) -> str:
    """Replace the store's private API key; the old one stops working at once. Returns the new raw key."""
    locked = MerchantStore.objects.unscoped().select_for_update().get(pk=store.pk, tenant_id=store.tenant_id)
    old_prefix = locked.private_api_key_prefix
    raw_key = _set_private_key(locked)
    locked.save(update_fields=["private_api_key_digest", "private_api_key_prefix", "keys_rotated_at", "updated_at"])
    for field in ("private_api_key_digest", "private_api_key_prefix", "keys_rotated_at"):
        setattr(store, field, getattr(locked, field))
    record(action="store.keys_rotated", target=locked, actor=actor,
           description=f"Private API key of {locked.store_name} rotated",
           details={"old_prefix": old_prefix, "new_prefix": locked.private_api_key_prefix})
    return raw_key


@transaction.atomic
def rotate_store_secret(*, store: MerchantStore, actor=None) -> str:
    """A new callback signing secret (kept encrypted, so it can be shown to the merchant later).

    The replaced secret keeps signing, next to the new one, for CALLBACK_SECRET_GRACE,
    so the merchant can switch the receiver over without rejecting a callback.
    A second rotation within that time drops the older secret.
    """
    locked = MerchantStore.objects.unscoped().select_for_update().get(pk=store.pk, tenant_id=store.tenant_id)
    locked.previous_secret_key = locked.secret_key
    locked.previous_secret_valid_until = timezone.now() + settings.CALLBACK_SECRET_GRACE
    locked.secret_key = store_keys.new_callback_secret()
    locked.save(update_fields=["secret_key", "previous_secret_key", "previous_secret_valid_until", "updated_at"])
    for field in ("secret_key", "previous_secret_key", "previous_secret_valid_until"):
        setattr(store, field, getattr(locked, field))
    record(action="store.secret_rotated", target=locked, actor=actor,
           description=f"Callback secret of {locked.store_name} rotated",
           details={"previous_valid_until": locked.previous_secret_valid_until})
    return locked.secret_key


@transaction.atomic
def update_store(*, store: MerchantStore, changes: dict[str, Any], actor=None) -> MerchantStore:
    """Change a store's settings; limits and commissions need `can_edit_limits` when staff change them."""
    unknown = set(changes) - set(STORE_SETTINGS) - set(STORE_LIMITS)
    if unknown:
        raise PaymentsError(f"Not a store setting: {', '.join(sorted(unknown))}.", code="invalid_field")
    ensure_same_tenant(store.tenant_id, changes.get("crypto_currency"), changes.get("fiat_currency"))

    def authorize(changed: set[str]) -> None:
        if actor is None:
            return
        if changed & set(STORE_LIMITS):
            require_any_flag(actor, EDIT_LIMITS, action="change store limits")
        if changed & set(STORE_SETTINGS):
            require_any_flag(actor, MANAGE_MERCHANTS, action="change store settings")

    store = apply_changes(store, changes, set(STORE_SETTINGS) | set(STORE_LIMITS), action="store.changed",
                          actor=actor, validate=_check_store, authorize=authorize)
    if "crypto_currency" in changes:
        BalanceStore.objects.get_or_create(tenant_id=store.tenant_id, store=store,
                                           crypto_currency=store.crypto_currency)
    return store


def _check_store(store: MerchantStore) -> None:
    _check_limits(store)
    check_callback_url(store.callback_url)


def _check_limits(store: MerchantStore) -> None:
    if store.lower_limit is not None and store.lower_limit < 0:
        raise PaymentsError("The lower limit cannot be negative.", code="invalid_limits",
                            fields={"lower_limit": ["Must be zero or more."]})
    if store.lower_limit is not None and store.upper_limit is not None and store.upper_limit < store.lower_limit:
        raise PaymentsError("The upper limit must not be below the lower limit.", code="invalid_limits",
                            fields={"upper_limit": ["Must be at least the lower limit."]})
