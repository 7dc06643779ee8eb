"""Crypto leaving or entering the platform: a merchant's withdrawal, a trader's top-up or withdrawal.

A request names an address and a network. A withdrawal holds its amount on the
balance when it is asked for (so the money cannot be spent twice); staff with the
owner's flag (`can_manage_merchants` for a store, `can_manage_traders` for a
trader) approve it — the hold is taken back and the amount leaves the balance in
one `withdrawal` row — or decline it with a reason, which releases the hold. A
top-up holds nothing: approving it posts a `deposit`. Every step goes through
payments.services.transfers → payments.services.ledger and is audited.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .balances import BalanceStore, BalanceTrader
from .fields import CryptoAmountField


class TransferNetwork(models.TextChoices):
    TRC20 = "TRC20", "TRON (TRC-20)"
    ERC20 = "ERC20", "Ethereum (ERC-20)"
    BEP20 = "BEP20", "BNB Smart Chain (BEP-20)"
    TON = "TON", "TON"


class CryptoTransfer(TenantScopedModel):
    class Direction(models.TextChoices):
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TOP_UP = "top_up", "Top-up"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        SETTLED = "settled", "Approved and settled"
        DECLINED = "declined", "Declined"

    direction = models.CharField(max_length=16, choices=Direction.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    store_balance = models.ForeignKey(BalanceStore, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="transfers")
    trader_balance = models.ForeignKey(BalanceTrader, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="transfers")
    amount = CryptoAmountField()
    network = models.CharField(max_length=16, choices=TransferNetwork.choices)
    address = models.CharField(max_length=128)
    tx_reference = models.CharField(max_length=128, blank=True, default="",
                                    help_text="The blockchain transaction, when staff record it.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decision_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "crypto_transfers"
        ordering = ["-created_at", "-id"]
        verbose_name = "withdrawal / top-up"
        verbose_name_plural = "withdrawals and top-ups"
        indexes = [
            models.Index(fields=["store_balance", "created_at"], name="ix_crypto_transfers_store"),
            models.Index(fields=["trader_balance", "created_at"], name="ix_crypto_transfers_trader"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="crypto_transfers_amount_gt_0"),
            models.CheckConstraint(
                condition=(Q(store_balance__isnull=False, trader_balance__isnull=True)
                           | Q(store_balance__isnull=True, trader_balance__isnull=False)),
                name="crypto_transfers_one_owner"),
            # A merchant's balance only grows from orders: stores withdraw, they do not top up.
            models.CheckConstraint(condition=Q(store_balance__isnull=True) | Q(direction="withdrawal"),
                                   name="crypto_transfers_store_withdraws"),
            models.CheckConstraint(condition=Q(direction__in=["withdrawal", "top_up"]),
                                   name="crypto_transfers_direction_valid"),
            models.CheckConstraint(condition=Q(status__in=["pending", "settled", "declined"]),
                                   name="crypto_transfers_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk}"

    @property
    def balance(self):
        return self.store_balance or self.trader_balance

    @property
    def owner_kind(self) -> str:
        return "merchant" if self.store_balance_id else "trader"

    @property
    def holds(self) -> bool:
        """A pending withdrawal holds its amount on the balance."""
        return self.status == self.Status.PENDING and self.direction == self.Direction.WITHDRAWAL
