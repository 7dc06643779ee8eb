"""Traders, their requisites (bank cards and accounts that receive or send fiat) and the requisites' settings."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField
from tenancy.scoping import TenantScopedModel

from .fields import FiatAmountField, PercentField
from .merchants import VerificationLevel
from .reference import Bank, CryptoCurrency, FiatCurrency, PaymentMethod, TimeZone


class Trader(TenantScopedModel):
    """A user's trader profile: in work or not, and a priority among traders at assignment.

    `trafic_priority` orders candidates at assignment (lower first); every
    requisite's `distribution_weight` follows it (services.traders.set_trafic_priority).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trader_profile")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    two_factor_auth_token = EncryptedTextField(blank=True, default="", editable=False)
    preferred_fiat_currency = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, null=True, blank=True,
                                                related_name="+")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")
    verification_level = models.CharField(max_length=16, choices=VerificationLevel.choices,
                                          default=VerificationLevel.UNVERIFIED)
    pay_in = models.BooleanField(default=False)
    pay_out = models.BooleanField(default=False)
    in_work = models.BooleanField(default=False, db_index=True)
    trafic_priority = models.PositiveSmallIntegerField(
        "traffic priority", default=5,
        help_text="Lower is served first; copied to every requisite's distribution weight.")
    time_zone = models.ForeignKey(TimeZone, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    base_pay_in_limit = FiatAmountField(null=True, blank=True)
    base_pay_out_limit = FiatAmountField(null=True, blank=True)
    pay_in_commission_percent = PercentField(help_text="Trader's commission on PayIn, percent.")
    pay_out_commission_percent = PercentField(help_text="Trader's commission on PayOut, percent.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "traders"
        ordering = ["trafic_priority", "id"]
        indexes = [
            # Assignment looks at traders in work, lowest priority first (the user's is_active is joined).
            models.Index(fields=["tenant", "in_work", "trafic_priority"], name="ix_trader_priority_lookup"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(verification_level__in=VerificationLevel.values),
                                   name="traders_verification_level_valid"),
            models.CheckConstraint(condition=Q(base_pay_in_limit__isnull=True) | Q(base_pay_in_limit__gte=0),
                                   name="traders_base_pay_in_limit_gte_0"),
            models.CheckConstraint(condition=Q(base_pay_out_limit__isnull=True) | Q(base_pay_out_limit__gte=0),
                                   name="traders_base_pay_out_limit_gte_0"),
            models.CheckConstraint(condition=Q(pay_in_commission_percent__gte=0, pay_in_commission_percent__lte=100,
                                               pay_out_commission_percent__gte=0,
                                               pay_out_commission_percent__lte=100),
                                   name="traders_commission_range"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Trader #{self.pk}"


class OwnerOfRequisites(TenantScopedModel):
    """The holder (full name) a trader's requisites are registered to; groups requisites."""

    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="requisite_owners")
    full_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "owner_of_requisites"
        ordering = ["full_name", "id"]
        verbose_name = "owner of requisites"
        verbose_name_plural = "owners of requisites"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "trader", "full_name"], name="owner_of_requisites_uniq"),
        ]

    def __str__(self) -> str:
        return self.full_name


class RequisiteStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVE = "approve", "Approved"  # the original schema's value: assignment filters on status = 'approve'
    PAUSED = "paused", "Paused"
    REJECTED = "rejected", "Rejected"


class ReqTrader(TenantScopedModel):
    """One requisite (card, account, phone for fast payments) of a trader.

    The number is encrypted at rest; `req_number_last4` is what pages show and
    `req_number_digest` finds duplicates. The whole number is read only by
    `services.requisites.reveal_requisite_number` (staff, audited) and
    `payments.selectors.customer.payment_details_for_customer` (the paying customer).
    """

    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="requisites")
    owner_of_requisites = models.ForeignKey(OwnerOfRequisites, on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="requisites")
    fiat = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="requisites")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="requisites")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="requisites")
    req_number = EncryptedTextField(editable=False)
    req_number_last4 = models.CharField(max_length=4, editable=False)
    req_number_digest = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=RequisiteStatus.choices, default=RequisiteStatus.PENDING)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    distribution_weight = models.PositiveSmallIntegerField(
        help_text="Copied from the trader's traffic priority; staff may override it.")
    # The trader's `trafic_priority`, kept here (never overridden) so that assignment walks one index of this
    # table in its order: priority, then least recently used (services.traders.set_trafic_priority syncs it).
    trader_priority = models.PositiveSmallIntegerField(default=5, editable=False)
    is_excluded_from_distribution = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "req_traders"
        ordering = ["-created_at", "-id"]
        verbose_name = "requisite"
        verbose_name_plural = "requisites"
        indexes = [
            # Assignment's candidate search: currency, method, bank, status, then round-robin by last_used_at.
            models.Index(fields=["tenant", "fiat", "method", "bank", "status", "last_used_at"],
                         name="ix_req_traders_lookup"),
            # Assignment walks this in the seed's order and stops at the first free requisite that fits
            # (payments.services.assignment): the cost of a search does not grow with the requisites.
            models.Index(F("tenant"), F("fiat"), F("trader_priority"), F("last_used_at").asc(nulls_first=True),
                         F("id"), name="ix_req_traders_rotation",
                         condition=Q(status="approve", is_excluded_from_distribution=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RequisiteStatus.values), name="req_traders_status_valid"),
            models.UniqueConstraint(fields=["tenant", "method", "req_number_digest"],
                                    name="req_traders_number_uniq",
                                    violation_error_message="This number is already registered for this method."),
        ]

    def __str__(self) -> str:
        return f"{self.masked_number} ({self.pk})" if self.pk else self.masked_number

    def save(self, *args, **kwargs):
        if self._state.adding and self.trader_id is not None:
            self.trader_priority = self.trader.trafic_priority
        super().save(*args, **kwargs)

    @property
    def masked_number(self) -> str:
        return crypto.mask(self.req_number_last4)

    def set_number(self, raw: str) -> None:
        """Store a new number: encrypted, with its last four and digest; raw is normalised first."""
        number = normalise_requisite_number(raw)
        self.req_number = number
        self.req_number_last4 = number[-4:]
        self.req_number_digest = requisite_number_digest(number)


def normalise_requisite_number(raw: str) -> str:
    """Drop spaces and dashes people type into card and account numbers."""
    return "".join(ch for ch in (raw or "") if ch not in " -\t").strip()


def requisite_number_digest(number: str) -> str:
    return crypto.digest(normalise_requisite_number(number), purpose="payments.requisite_number")


class FullRequisitesSettings(TenantScopedModel):
    """Per-requisite switches and limits (fiat) checked at assignment: a requisite takes an order only while
    its order-type switch is on and the amount, its day turnover, lifetime total and window stay in bounds."""

    requisite = models.OneToOneField(ReqTrader, on_delete=models.CASCADE, related_name="settings")
    pay_in = models.BooleanField(default=False)
    pay_out = models.BooleanField(default=False)
    lower_limit = FiatAmountField(null=True, blank=True, help_text="Smallest order this requisite takes.")
    upper_limit = FiatAmountField(null=True, blank=True, help_text="Largest order this requisite takes.")
    total_limit = FiatAmountField(null=True, blank=True, help_text="Lifetime turnover cap.")
    turnover_day_max = FiatAmountField(null=True, blank=True, help_text="Turnover cap per day (UTC).")
    turnover_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Length, in minutes, of the rolling turnover window checked at assignment.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "full_requisites_settings"
        verbose_name = "requisite settings"
        verbose_name_plural = "requisite settings"
        constraints = [
            models.CheckConstraint(
                condition=(Q(lower_limit__isnull=True) | Q(lower_limit__gte=0))
                & (Q(upper_limit__isnull=True) | Q(upper_limit__gte=0))
                & (Q(total_limit__isnull=True) | Q(total_limit__gte=0))
                & (Q(turnover_day_max__isnull=True) | Q(turnover_day_max__gte=0)),
                name="full_requisites_settings_limits_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(lower_limit__isnull=True) | Q(upper_limit__isnull=True)
                | Q(upper_limit__gte=F("lower_limit")),
                name="full_requisites_settings_limits_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"settings of requisite {self.requisite_id}"


class RequisiteTurnover(TenantScopedModel):
    """What the dynamic limits of a requisite need, kept up to date: its turnover over its lifetime and on
    its latest day (UTC), counted as the limits count it (orders not cancelled, failed or expired; a
    confirmed amount instead of the requested one).

    Written with the order changes that move it, in their transaction (payments.services.turnover): the
    assignment that adds an order, and every status change of an order (cancel, expiry, failure,
    completion at another amount). `day_total` is the turnover of `day`; on a later day it counts as zero.
    A narrow row of its own, so the hot requisite row and the settings staff edit are not rewritten.
    """

    requisite = models.OneToOneField(ReqTrader, on_delete=models.CASCADE, primary_key=True,
                                     related_name="turnover")
    total = FiatAmountField(default=0)
    day = models.DateField(null=True, blank=True)
    day_total = FiatAmountField(default=0)

    class Meta:
        db_table = "requisite_turnover"
        verbose_name = "requisite turnover"
        verbose_name_plural = "requisite turnovers"

    def __str__(self) -> str:
        return f"turnover of requisite {self.requisite_id}"
