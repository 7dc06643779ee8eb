"""Merchants and their stores: each store has its own API keys, currencies, commissions and limits."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.fields import EncryptedTextField
from tenancy.scoping import TenantScopedModel

from .fields import FiatAmountField, PercentField
from .reference import CryptoCurrency, FiatCurrency


class VerificationLevel(models.TextChoices):
    UNVERIFIED = "unverified", "Unverified"
    BASIC = "basic", "Basic"
    FULL = "full", "Full"


class Merchant(TenantScopedModel):
    """A user's merchant profile; email, password and blocking live on the user, not duplicated here."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_profile")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    two_factor_auth_token = EncryptedTextField(blank=True, default="", editable=False)
    verification_level = models.CharField(max_length=16, choices=VerificationLevel.choices,
                                          default=VerificationLevel.UNVERIFIED)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "merchants"
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(verification_level__in=VerificationLevel.values),
                                   name="merchants_verification_level_valid"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Merchant #{self.pk}"


class MerchantStore(TenantScopedModel):
    """A merchant's store: the API client of the store API.

    The private API key is never stored: only its keyed digest (to find the
    store from a Bearer token) and a short prefix (to tell keys apart in pages).
    The callback secret must be readable to sign callbacks, so it is encrypted.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    store_name = models.CharField(max_length=128)
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="stores")
    fiat_currency = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="stores")
    lower_limit = FiatAmountField(help_text="Smallest order, in the store's fiat currency.")
    upper_limit = FiatAmountField(help_text="Largest order, in the store's fiat currency.")
    pay_in_commission_percent = PercentField(help_text="Store commission on PayIn, percent of the crypto amount.")
    pay_out_commission_percent = PercentField(help_text="Store commission on PayOut, percent of the crypto amount.")
    public_api_key = models.CharField(max_length=64, unique=True, editable=False)
    private_api_key_digest = models.CharField(max_length=64, unique=True, editable=False)
    private_api_key_prefix = models.CharField(max_length=16, editable=False,
                                              help_text="The key's first characters, to recognise it.")
    keys_rotated_at = models.DateTimeField(default=timezone.now, editable=False)
    pay_in_enabled = models.BooleanField(default=True)
    pay_out_enabled = models.BooleanField(default=True)
    access = models.BooleanField(default=True, help_text="Off: the store's API key is refused.")
    trafic_access = models.BooleanField(default=True, help_text="Off: the store may not send new orders.")
    callback_url = models.URLField(max_length=500, blank=True, default="")
    secret_key = EncryptedTextField(editable=False, help_text="Signs callbacks (HMAC-SHA256).")
    previous_secret_key = EncryptedTextField(blank=True, default="", editable=False,
                                             help_text="The secret before the last rotation; also signs until "
                                                       "previous_secret_valid_until.")
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    callback_failing_since = models.DateTimeField(null=True, blank=True, editable=False,
                                                  help_text="First failed delivery of the current failure streak.")
    callback_flagged_at = models.DateTimeField(null=True, blank=True, editable=False,
                                               help_text="When the merchant was told the endpoint keeps failing.")
    gateway_require_customer_id_param = models.BooleanField(default=False)
    gateway_require_amount_param = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "merchant_stores"
        ordering = ["store_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "merchant", "store_name"], name="merchant_stores_name_uniq"),
            models.CheckConstraint(condition=Q(lower_limit__gte=0), name="merchant_stores_lower_limit_gte_0"),
            models.CheckConstraint(condition=Q(upper_limit__gte=F("lower_limit")),
                                   name="merchant_stores_limits_ordered"),
            models.CheckConstraint(condition=Q(pay_in_commission_percent__gte=0, pay_in_commission_percent__lte=100,
                                               pay_out_commission_percent__gte=0,
                                               pay_out_commission_percent__lte=100),
                                   name="merchant_stores_commission_range"),
        ]

    def __str__(self) -> str:
        return self.store_name

    @property
    def private_api_key_hint(self) -> str:
        return f"{self.private_api_key_prefix}…"
