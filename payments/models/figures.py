"""Each merchant's and trader's figures of a closed UTC day, kept for their dashboards.

A dashboard draws 7 or 30 days. Summing every order of the period on each view grows with the data (half a
second at 100 000 orders); the figures of a day that is over never change, because every figure is counted on
the day its event happened (an order received on its `created_at`, a completion on its `completed_at`, both
set to the time of the event). So the first view after a day closes computes that day once and keeps it here,
and later views read these rows and count only the open day (payments.cabinet.day_figures).

A day with nothing to count keeps one row with empty currency codes, so "computed: nothing" and "not computed
yet" differ.
"""

from django.db import models

from tenancy.scoping import TenantScopedModel

from .fields import CryptoAmountField, FiatAmountField
from .merchants import Merchant
from .traders import Trader


class MerchantDayFigures(TenantScopedModel):
    """One merchant's orders of one closed UTC day in one crypto currency."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    crypto_code = models.CharField(max_length=16, blank=True, default="")
    received = models.PositiveIntegerField(default=0, help_text="Orders received (created) that day.")
    completed = models.PositiveIntegerField(default=0, help_text="Orders completed that day.")
    turnover = CryptoAmountField(default=0, help_text="Crypto settled by the completions of the day.")
    paid = models.PositiveIntegerField(default=0, help_text="Completions of the day the customer marked paid.")
    seconds_to_pay = models.DecimalField(max_digits=20, decimal_places=3, default=0,
                                         help_text="Their seconds from assignment to payment, summed.")

    class Meta:
        db_table = "merchant_day_figures"
        verbose_name = "merchant's day figures"
        verbose_name_plural = "merchants' day figures"
        constraints = [models.UniqueConstraint(fields=["merchant", "day", "crypto_code"],
                                               name="merchant_day_figures_unique")]


class TraderDayFigures(TenantScopedModel):
    """One trader's completions of one closed UTC day in one currency pair."""

    trader = models.ForeignKey(Trader, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    crypto_code = models.CharField(max_length=16, blank=True, default="")
    fiat_code = models.CharField(max_length=8, blank=True, default="")
    confirmed = models.PositiveIntegerField(default=0, help_text="Orders completed that day.")
    earned = CryptoAmountField(default=0, help_text="The trader's commissions of those orders.")
    volume = FiatAmountField(default=0, help_text="Fiat confirmed by those orders.")

    class Meta:
        db_table = "trader_day_figures"
        verbose_name = "trader's day figures"
        verbose_name_plural = "traders' day figures"
        constraints = [models.UniqueConstraint(fields=["trader", "day", "crypto_code", "fiat_code"],
                                               name="trader_day_figures_unique")]
