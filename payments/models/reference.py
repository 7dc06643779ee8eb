"""Reference data (banks, payment methods, currencies, countries, time zones, rates), one set per tenant.

Each operator company keeps its own banks, methods and currencies, so what would be
globally unique (e.g. a bank's name) is unique within a tenant.
"""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .fields import CryptoAmountField

country_code_validator = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter ISO 3166 code, e.g. TH.")
fiat_code_validator = RegexValidator(r"^[A-Z]{3}$", "Use the three-letter ISO 4217 code, e.g. THB.")
crypto_code_validator = RegexValidator(r"^[A-Z0-9]{2,10}$", "Use the ticker in capitals, e.g. USDT.")
method_code_validator = RegexValidator(r"^[a-z0-9_]{2,32}$", "Lower-case letters, digits and _ only.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Use an IANA time zone name, e.g. Asia/Bangkok.")


class Country(TenantScopedModel):
    code = models.CharField(max_length=2, validators=[country_code_validator])
    name = models.CharField(max_length=100)

    class Meta:
        db_table = "countries"
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="countries_tenant_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TimeZone(TenantScopedModel):
    name = models.CharField(max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. Asia/Bangkok.")

    class Meta:
        db_table = "time_zones"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="time_zones_tenant_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class FiatCurrency(TenantScopedModel):
    code = models.CharField(max_length=3, validators=[fiat_code_validator])
    name = models.CharField(max_length=64)
    symbol = models.CharField(max_length=8, blank=True, default="")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="fiat_currencies")
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "fiat_currencies"
        ordering = ["code"]
        verbose_name_plural = "fiat currencies"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="fiat_currencies_tenant_code_uniq"),
        ]

    def __str__(self) -> str:
        return self.code


class CryptoCurrency(TenantScopedModel):
    code = models.CharField(max_length=10, validators=[crypto_code_validator])
    name = models.CharField(max_length=64)
    network = models.CharField(max_length=32, blank=True, default="", help_text="e.g. TRC20.")
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "crypto_currencies"
        ordering = ["code"]
        verbose_name_plural = "crypto currencies"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="crypto_currencies_tenant_code_uniq"),
        ]

    def __str__(self) -> str:
        return self.code


class Bank(TenantScopedModel):
    name = models.CharField(max_length=128)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, null=True, blank=True, related_name="banks")
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "banks"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="banks_tenant_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class PaymentMethod(TenantScopedModel):
    """How money moves: card transfer, bank account, QR (PromptPay), fast payments (SBP)…"""

    code = models.CharField(max_length=32, validators=[method_code_validator])
    name = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "payment_methods"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="payment_methods_tenant_code_uniq"),
            models.UniqueConstraint(fields=["tenant", "name"], name="payment_methods_tenant_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class AvailableBankMethod(TenantScopedModel):
    """Which method each bank supports; a requisite's bank must offer its method (table `avalible_bank_methods`,
the original schema's spelling kept)."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="available_methods")
    method = models.ForeignKey(PaymentMethod, on_delete=models.CASCADE, related_name="available_banks")
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "avalible_bank_methods"
        ordering = ["bank__name", "method__name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bank", "method"], name="avalible_bank_methods_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.bank} · {self.method}"


class ExchangeRate(TenantScopedModel):
    """A quote: `rate` units of fiat for one unit of crypto (e.g. 36.5 THB per USDT).

    Rows are appended, never edited; intake takes the newest one younger than
    EXCHANGE_RATE_MAX_AGE (see payments.selectors.rates.current_rate).
    """

    fiat_currency = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="exchange_rates")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="exchange_rates")
    rate = CryptoAmountField()
    source = models.CharField(max_length=64)
    fetched_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "exchange_rates"
        ordering = ["-fetched_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "fiat_currency", "crypto_currency", "-fetched_at"],
                         name="ix_exchange_rates_pair_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rates_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.crypto_currency} = {self.rate} {self.fiat_currency}"


__all__ = [
    "AvailableBankMethod",
    "Bank",
    "Country",
    "CryptoCurrency",
    "ExchangeRate",
    "FiatCurrency",
    "PaymentMethod",
    "TimeZone",
]
