"""Exchanges, trading accounts, their exchange credentials and risk settings."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField
from tenancy.scoping import TenantScopedModel

from .fields import MoneyField


class ExchangeKind(models.TextChoices):
    CCXT = "ccxt", "Real exchange (ccxt)"
    PAPER = "paper", "Paper exchange (simulated fills)"


class Exchange(TenantScopedModel):
    """An exchange the tenant's accounts trade on; staff manage them in admin.

    `api_base_url` replaces the host of every REST endpoint the ccxt client calls, so a testnet or a
    local fake exchange can stand in for the real one without code changes.
    """

    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=ExchangeKind.choices, default=ExchangeKind.CCXT)
    ccxt_id = models.CharField(max_length=32, default="binanceusdm",
                               help_text="ccxt class name, e.g. binanceusdm. Ignored by the paper exchange.")
    api_base_url = models.URLField(max_length=300, blank=True, default="",
                                   help_text="Overrides the exchange's REST host (testnet, local fake). "
                                             "Empty: ccxt's own.")
    sandbox = models.BooleanField(default=False, help_text="Use ccxt's sandbox/testnet mode.")
    requests_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per second all accounts together may send to this exchange "
                                         "(per process). Empty: ccxt's published limit for the exchange.")
    quote_currency = models.CharField(max_length=16, default="USDT",
                                      help_text="Margin currency the equity is read in.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "exchanges"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="exchanges_name_unique_per_tenant"),
            models.CheckConstraint(condition=Q(kind__in=ExchangeKind.values), name="exchanges_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class AccountRole(models.TextChoices):
    MASTER = "master", "Master"
    FOLLOWER = "follower", "Follower"


class CopyMode(models.TextChoices):
    PUBSUB = "PUBSUB", "Every follower (PUBSUB)"
    ONE_TO_ONE = "1TO1", "Partner only (1TO1)"
    RECORD = "RECORD", "Record only (RECORD)"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"


API_KEY_PREFIX = "sk_live_"
MASTER_TOKEN_PREFIX = "MST-"


class TradingAccount(TenantScopedModel):
    """One trading account: a signal-trading account on an exchange and a copy-trading master/follower.

    Secrets: `api_key` (the copy-trade `AUTH:` key) and the webhook token are stored as a keyed digest
    (to find the account from what a client sends) plus an encrypted copy (to show the owner, masked);
    the webhook passphrase is only encrypted. `status` is the trading switch the risk brake flips
    (`paused`); `is_active` is the owner's on/off toggle (an account switched off copies and trades nothing).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trading_accounts")
    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="accounts")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    pause_reason = models.CharField(max_length=200, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True,
                                      help_text="The daily loss brake counts losses since the later of 00:00 UTC "
                                                "and this.")
    role = models.CharField(max_length=16, choices=AccountRole.choices, default=AccountRole.FOLLOWER)
    api_key_digest = models.CharField(max_length=64, unique=True, editable=False)
    api_key_encrypted = EncryptedTextField(editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)
    api_key_rotated_at = models.DateTimeField(default=timezone.now, editable=False)
    master_token = models.CharField(max_length=40, unique=True, null=True, blank=True, editable=False)
    copy_mode = models.CharField(max_length=8, choices=CopyMode.choices, default=CopyMode.PUBSUB)
    partner = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    following = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="followers")
    is_active = models.BooleanField(default=True)
    webhook_token_digest = models.CharField(max_length=64, unique=True, editable=False)
    webhook_token_encrypted = EncryptedTextField(editable=False)
    webhook_passphrase = EncryptedTextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trading_accounts"
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=AccountRole.values), name="trading_accounts_role_valid"),
            models.CheckConstraint(condition=Q(copy_mode__in=CopyMode.values),
                                   name="trading_accounts_copy_mode_valid"),
            models.CheckConstraint(condition=Q(status__in=AccountStatus.values),
                                   name="trading_accounts_status_valid"),
            # A follower never carries a master token; a master always does.
            models.CheckConstraint(condition=(Q(role=AccountRole.MASTER, master_token__isnull=False)
                                              | Q(role=AccountRole.FOLLOWER, master_token__isnull=True)),
                                   name="trading_accounts_master_token_only_for_masters"),
            models.CheckConstraint(condition=~Q(following=F("id")), name="trading_accounts_not_following_self"),
            models.CheckConstraint(condition=~Q(partner=F("id")), name="trading_accounts_not_own_partner"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.following_id and self.following and self.following.role != AccountRole.MASTER:
            raise ValidationError({"following": "Only a master account can be followed."})
        if self.partner_id and self.partner and self.partner.role == self.role:
            raise ValidationError({"partner": "A partner is an account of the other role."})

    @property
    def api_key_masked(self) -> str:
        return f"{API_KEY_PREFIX}•••• {self.api_key_last4}" if self.api_key_last4 else ""

    @property
    def is_trading(self) -> bool:
        return self.is_active and self.status == AccountStatus.ACTIVE


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INVALID = "invalid", "Invalid"
    REVOKED = "revoked", "Revoked"


class ExchangeCredential(TenantScopedModel):
    """An account's exchange API key, secret and (where the exchange needs one) passphrase.

    Encrypted at rest and write-only: after it is added only the last 4 characters of the key are ever
    shown. Orders go out through the account's newest active credential.
    """

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="credentials")
    api_key = EncryptedTextField(editable=False)
    secret = EncryptedTextField(editable=False)
    passphrase = EncryptedTextField(blank=True, default="", editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)
    status = models.CharField(max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.ACTIVE)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    check_error = models.CharField(max_length=300, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "api_keys"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CredentialStatus.values), name="api_keys_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.account} key {crypto.mask(self.api_key_last4)}"

    @property
    def api_key_masked(self) -> str:
        return crypto.mask(self.api_key_last4)


class TradingSettings(TenantScopedModel):
    """Risk settings (seed `user_settings`): one row per user, optionally one per account that overrides it.

    `daily_loss_limit` is an amount in the account's quote currency; empty means no limit.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trading_settings")
    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="settings_override")
    risk_per_trade = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("1.000"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("10"))],
        help_text="Percent of equity risked per trade, in (0, 10].")
    min_leverage = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    max_leverage = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    require_stop_loss = models.BooleanField(default=True)
    max_open_positions = models.PositiveSmallIntegerField(default=5)
    daily_loss_limit = MoneyField(null=True, blank=True,
                                  help_text="Realized + unrealized loss since 00:00 UTC that pauses the account.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_settings"
        verbose_name_plural = "trading settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], condition=Q(account__isnull=True),
                                    name="user_settings_one_default_per_user"),
            models.CheckConstraint(condition=Q(risk_per_trade__gt=0, risk_per_trade__lte=10),
                                   name="user_settings_risk_in_range"),
            models.CheckConstraint(condition=Q(min_leverage__gte=1, max_leverage__gte=F("min_leverage")),
                                   name="user_settings_leverage_bounds"),
        ]

    def __str__(self) -> str:
        return f"Settings of {self.account or self.user}"

    def clean(self):
        if self.min_leverage and self.max_leverage and self.min_leverage > self.max_leverage:
            raise ValidationError({"max_leverage": "The maximum leverage is below the minimum."})
