"""Balances and their history: a store's crypto balance, a trader's fiat and crypto balances (with holds).

One history row per movement, `amount` signed, `balance_after` the balance once
it is applied, so a balance always equals the sum of its history (and a hold the
sum of its `hold_change`). The ledger services (payments.services.ledger) write
them; these tables hold the shape and the floors: no hold below zero, no hold
larger than its balance, no balance below zero — except a trader's fiat balance,
which may go down to its `fiat_credit_limit` (PAYMENTS_TRADER_FIAT_CREDIT_LIMIT
when the row is made). An order settles once: each table takes at most one row
of each settlement kind per order.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.money_display import exact
from tenancy.scoping import TenantScopedModel

from .fields import ZERO, CryptoAmountField, FiatAmountField
from .merchants import MerchantStore
from .orders import OrderHistory
from .reference import CryptoCurrency, FiatCurrency
from .traders import Trader


class MovementKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    PAY_IN = "pay_in", "PayIn settlement"
    PAY_OUT = "pay_out", "PayOut settlement"
    COMMISSION = "commission", "Commission"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    HOLD = "hold", "Hold placed"
    RELEASE = "release", "Hold released"


class BalanceStore(TenantScopedModel):
    """A store's crypto balance; `hold` is the part reserved for open payouts."""

    store = models.ForeignKey(MerchantStore, on_delete=models.PROTECT, related_name="balances")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="+")
    balance = CryptoAmountField(default=ZERO)
    hold = CryptoAmountField(default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "balance_stores"
        ordering = ["store_id", "crypto_currency_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "store", "crypto_currency"], name="balance_stores_uniq"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="balance_stores_balance_gte_0"),
            models.CheckConstraint(condition=Q(hold__gte=0), name="balance_stores_hold_gte_0"),
            models.CheckConstraint(condition=Q(balance__gte=F("hold")), name="balance_stores_hold_covered"),
        ]

    def __str__(self) -> str:
        return f"{self.store} {self.crypto_currency}"

    @property
    def available(self):
        return self.balance - self.hold


class BalanceTrader(TenantScopedModel):
    """A trader's fiat and crypto balances for one currency pair; `crypto_hold` backs assigned payins."""

    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="balance_traders")
    fiat_currency = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="+")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="+")
    fiat_balance = FiatAmountField(default=ZERO)
    crypto_balance = CryptoAmountField(default=ZERO)
    crypto_hold = CryptoAmountField(default=ZERO)
    fiat_credit_limit = FiatAmountField(
        default=ZERO, help_text="How far below zero the fiat balance may go (PayOuts paid ahead of PayIns).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "balance_traders"
        ordering = ["trader_id", "fiat_currency_id", "crypto_currency_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "trader", "fiat_currency", "crypto_currency"],
                                    name="balance_traders_uniq"),
            models.CheckConstraint(condition=Q(fiat_balance__gte=-F("fiat_credit_limit")),
                                   name="balance_traders_fiat_within_credit"),
            models.CheckConstraint(condition=Q(fiat_credit_limit__gte=0), name="balance_traders_credit_gte_0"),
            models.CheckConstraint(condition=Q(crypto_balance__gte=0), name="balance_traders_crypto_gte_0"),
            models.CheckConstraint(condition=Q(crypto_hold__gte=0), name="balance_traders_hold_gte_0"),
            models.CheckConstraint(condition=Q(crypto_balance__gte=F("crypto_hold")),
                                   name="balance_traders_hold_covered"),
        ]

    def __str__(self) -> str:
        return f"{self.trader} {self.fiat_currency}/{self.crypto_currency}"

    @property
    def crypto_available(self):
        return self.crypto_balance - self.crypto_hold


# Kinds an order posts at most once per history table (the settlement cannot run twice).
ORDER_ONCE_KINDS = [MovementKind.HOLD, MovementKind.RELEASE, MovementKind.PAY_IN, MovementKind.PAY_OUT,
                    MovementKind.COMMISSION]


def _settles_once(table: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["order", "kind"], condition=Q(kind__in=ORDER_ONCE_KINDS),
                                   name=f"{table}_order_kind_once")


class _Movement(TenantScopedModel):
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    description = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", help_text="Staff member, for manual movements.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True


class BalanceStoreHistory(_Movement):
    balance = models.ForeignKey(BalanceStore, on_delete=models.PROTECT, related_name="history")
    store = models.ForeignKey(MerchantStore, on_delete=models.PROTECT, related_name="balance_history")
    order = models.ForeignKey(OrderHistory, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="balance_store_history")
    amount = CryptoAmountField()
    balance_after = CryptoAmountField()
    hold_change = CryptoAmountField(default=ZERO, help_text="Change of the hold (positive: placed).")
    hold_after = CryptoAmountField(default=ZERO)

    class Meta:
        db_table = "balance_store_history"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "balance store history"
        indexes = [models.Index(fields=["store", "created_at"], name="ix_balance_store_history_store")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MovementKind.values), name="balance_store_history_kind"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="balance_store_history_after_gte_0"),
            models.CheckConstraint(condition=~Q(amount=0) | ~Q(hold_change=0),
                                   name="balance_store_history_amount_nonzero"),
            models.CheckConstraint(condition=Q(hold_after__gte=0), name="balance_store_history_hold_after_gte_0"),
            _settles_once("balance_store_history"),
        ]

    def __str__(self) -> str:
        return f"{exact(self.amount, signed=True)} → {exact(self.balance_after)}"


class BalanceTraderFiatHistory(_Movement):
    balance = models.ForeignKey(BalanceTrader, on_delete=models.PROTECT, related_name="fiat_history")
    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="balance_trader_fiat_history")
    order = models.ForeignKey(OrderHistory, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="balance_trader_fiat_history")
    amount = FiatAmountField()
    balance_after = FiatAmountField()

    class Meta:
        db_table = "balance_trader_fiat_history"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "balance trader fiat history"
        indexes = [models.Index(fields=["trader", "created_at"], name="ix_balance_trader_fiat_hist")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MovementKind.values),
                                   name="balance_trader_fiat_history_kind"),
            # balance_after may be negative down to the balance's credit limit, checked on the balance row.
            models.CheckConstraint(condition=~Q(amount=0), name="balance_trader_fiat_history_amount_nonzero"),
            _settles_once("balance_trader_fiat_history"),
        ]

    def __str__(self) -> str:
        return f"{exact(self.amount, signed=True)} → {exact(self.balance_after)}"


class BalanceTraderCryptoHistory(_Movement):
    balance = models.ForeignKey(BalanceTrader, on_delete=models.PROTECT, related_name="crypto_history")
    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="balance_trader_crypto_history")
    order = models.ForeignKey(OrderHistory, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="balance_trader_crypto_history")
    amount = CryptoAmountField()
    balance_after = CryptoAmountField()
    hold_change = CryptoAmountField(default=ZERO, help_text="Change of the hold (positive: placed).")
    hold_after = CryptoAmountField(default=ZERO)

    class Meta:
        db_table = "balance_trader_crypto_history"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "balance trader crypto history"
        indexes = [models.Index(fields=["trader", "created_at"], name="ix_balance_trader_crypto_hist")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MovementKind.values),
                                   name="balance_trader_crypto_history_kind"),
            models.CheckConstraint(condition=Q(balance_after__gte=0),
                                   name="balance_trader_crypto_history_after_gte_0"),
            models.CheckConstraint(condition=~Q(amount=0) | ~Q(hold_change=0),
                                   name="balance_trader_crypto_history_amount_nonzero"),
            models.CheckConstraint(condition=Q(hold_after__gte=0),
                                   name="balance_trader_crypto_history_hold_after_gte_0"),
            _settles_once("balance_trader_crypto_history"),
        ]

    def __str__(self) -> str:
        return f"{exact(self.amount, signed=True)} → {exact(self.balance_after)}"
