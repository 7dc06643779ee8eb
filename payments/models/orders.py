"""Incoming orders (the intake queue, one row per store request) and assigned orders (one per incoming order
that got a requisite, followed through execution)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField
from tenancy.scoping import TenantScopedModel

from ..indexes import NamedIndex
from .fields import CryptoAmountField, FiatAmountField
from .merchants import Merchant, MerchantStore
from .reference import Bank, CryptoCurrency, FiatCurrency, PaymentMethod
from .traders import ReqTrader, Trader


class OrderType(models.TextChoices):
    PAY_IN = "pay_in", "PayIn"
    PAY_OUT = "pay_out", "PayOut"


def new_hash_id() -> str:
    """The public, unguessable id of an order: the store API's id and the /pay/<hash_id> page's."""
    return crypto.new_token(16)


class AmountMismatch(models.TextChoices):
    NONE = "", "Exact"
    UNDERPAID = "underpaid", "Underpaid"
    OVERPAID = "overpaid", "Overpaid"


class StoreStatus(models.TextChoices):
    """The one lifecycle status a store sees for its order (the store API's `status`, the callbacks', the admin's).

    It joins the two rows an order has over its life: the intake row (`incoming_orders`, the queue's view:
    new, processing, retrying, assigned, failed, cancelled) and, once a requisite is assigned, the
    execution row (`order_history`: pending, processing, completed, …). A store cares whether it can send
    its customer to pay, whether the customer paid and whether the money moved, not which table says so.
    """

    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    PAID = "paid", "Paid"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"
    DISPUTED = "disputed", "Disputed"


# The execution's status → the store's; `processing` there means the customer said they paid.
_STORE_STATUS_OF_EXECUTION = {
    "pending": StoreStatus.ASSIGNED, "processing": StoreStatus.PAID, "completed": StoreStatus.COMPLETED,
    "failed": StoreStatus.FAILED, "cancelled": StoreStatus.CANCELLED, "disputed": StoreStatus.DISPUTED,
    "expired": StoreStatus.EXPIRED,
}
# The intake row's status → the store's, before any execution exists (queue detail stays in `intake_status`).
_STORE_STATUS_OF_INTAKE = {
    "new": StoreStatus.NEW, "processing": StoreStatus.NEW, "retrying": StoreStatus.NEW,
    "assigned": StoreStatus.ASSIGNED, "failed": StoreStatus.FAILED, "cancelled": StoreStatus.CANCELLED,
}


def store_status(intake_status: str, execution_status: str | None) -> StoreStatus:
    """The lifecycle status of an order whose intake row is `intake_status` and execution row (None before
    assignment) `execution_status`."""
    if execution_status is not None:
        return _STORE_STATUS_OF_EXECUTION[execution_status]
    return _STORE_STATUS_OF_INTAKE[intake_status]


def store_status_condition(value: str) -> Q:
    """The IncomingOrder rows whose store_status(...) is `value` (for filters: indexable, no annotation)."""
    executions = [status for status, mapped in _STORE_STATUS_OF_EXECUTION.items() if mapped == value]
    intakes = [status for status, mapped in _STORE_STATUS_OF_INTAKE.items() if mapped == value]
    condition = Q(pk__in=[])
    if executions:
        condition |= Q(assigned_order__status__in=executions)
    if intakes:
        condition |= Q(status__in=intakes, assigned_order__isnull=True)
    return condition


class IncomingOrder(TenantScopedModel):
    """Every PayIn/PayOut request, written as `new` at intake and worked off by the assignment worker.

    `amount_fiat` / `amount_crypto` are what the store asked for (PayIn in fiat,
    PayOut in crypto); `total_fiat` / `amount_currency` are both sides fixed at
    intake with `exchange_rate`. `target_method` / `target_bank` keep the store's
    stated preference; `payment_method` / `bank` are what the order runs with
    (the preference, or the chosen requisite's at assignment).
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        PROCESSING = "processing", "Processing"
        ASSIGNED = "assigned", "Assigned"
        FAILED = "failed", "Failed"
        RETRYING = "retrying", "Retrying"
        CANCELLED = "cancelled", "Cancelled by the store"

    # States the assignment worker still has to look at; the store may cancel in these.
    OPEN_STATUSES = (Status.NEW, Status.RETRYING)

    hash_id = models.CharField(max_length=32, unique=True, default=new_hash_id, editable=False)
    client_id = models.CharField(max_length=128, null=True, blank=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="incoming_orders")
    store = models.ForeignKey(MerchantStore, on_delete=models.PROTECT, related_name="incoming_orders")
    gateway_id = models.CharField(max_length=64, null=True, blank=True,
                                  help_text="The store's gateway the request came through, if any.")
    target_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    target_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payment_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="incoming_orders")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True, related_name="incoming_orders")
    fiat_currency = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="incoming_orders")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="incoming_orders")
    amount_fiat = FiatAmountField(null=True, blank=True, help_text="Requested fiat amount (PayIn).")
    amount_crypto = CryptoAmountField(null=True, blank=True, help_text="Requested crypto amount (PayOut).")
    total_fiat = FiatAmountField(help_text="Fiat amount of the order, fixed at intake.")
    amount_currency = CryptoAmountField("crypto amount", help_text="Crypto amount of the order, fixed at intake.")
    exchange_rate = CryptoAmountField(help_text="Fiat per one crypto unit, fixed at intake.")
    store_commission = CryptoAmountField(help_text="Store commission in crypto, fixed at intake.")
    order_type = models.CharField(max_length=8, choices=OrderType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    # The status the merchant's cabinet lists and filters by: the execution status once assigned (pending …
    # completed), else `status`. Kept by the services that change either (payments.services.order_state), so
    # the list filters by one indexed column instead of joining every order to its execution row.
    state = models.CharField(max_length=16, default=Status.NEW, editable=False)
    retry_count = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When the assignment worker may try again (retrying).")
    failure_reason = models.TextField(blank=True, default="")
    dispatched_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When a worker message was last sent for this order; the sweeper re-sends after a lease.")
    customer_requisite = EncryptedTextField(
        blank=True, default="", help_text="PayOut: the customer's card/account the trader pays to.")
    customer_requisite_last4 = models.CharField(max_length=4, blank=True, default="")
    customer_id = models.CharField(max_length=128, null=True, blank=True)
    customer_ip = models.GenericIPAddressField(null=True, blank=True)
    return_url = models.URLField(max_length=2000, null=True, blank=True)
    payment_details_submitted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "incoming_orders"
        ordering = ["-created_at", "-id"]
        indexes = [
            NamedIndex(fields=["status", "created_at"], name="ix_incoming_orders_status_created"),
            NamedIndex(fields=["merchant", "store"], name="ix_incoming_orders_merchant_store"),
            models.Index(fields=["client_id"], name="ix_incoming_orders_client_id"),
            # The sweeper (issue 5): open orders whose retry time has come.
            models.Index(fields=["status", "next_attempt_at"], name="ix_incoming_orders_due"),
            # The merchant's dashboard and order list (issue 19): one merchant's orders by time.
            NamedIndex(fields=["merchant", "-created_at", "tenant"], name="ix_incoming_orders_merchant_created"),
            # The admin's list of a tenant's orders, newest first, a page at a time (core.pagination). The lists'
            # indexes end with the tenant: the row-level security predicate is then checked in the index, and the
            # capped count of a list is an index-only scan.
            NamedIndex(fields=["tenant", "-created_at", "-id"], name="ix_incoming_orders_tenant_created"),
            NamedIndex(fields=["merchant", "state", "-created_at", "-id", "tenant"],
                       name="ix_incoming_orders_merchant_state"),
        ]
        constraints = [
            # A store's client_id is its own order number: one order per number (NULLs: no number, any count).
            # Its index also serves the store API's `?client_id=` filter (the plain client_id index stays
            # for look-ups across stores).
            models.UniqueConstraint(fields=["store", "client_id"], name="incoming_orders_store_client_id_uniq",
                                    violation_error_message="This store already has an order with this client_id."),
            models.CheckConstraint(condition=Q(status__in=["new", "processing", "assigned", "failed", "retrying",
                                                           "cancelled"]),
                                   name="incoming_orders_status_valid"),
            models.CheckConstraint(condition=Q(order_type__in=OrderType.values), name="incoming_orders_type_valid"),
            models.CheckConstraint(condition=Q(total_fiat__gt=0, amount_currency__gt=0, exchange_rate__gt=0),
                                   name="incoming_orders_amounts_positive"),
            models.CheckConstraint(condition=Q(store_commission__gte=0), name="incoming_orders_commission_gte_0"),
            models.CheckConstraint(condition=Q(amount_fiat__isnull=True) | Q(amount_fiat__gt=0),
                                   name="incoming_orders_amount_fiat_positive"),
            models.CheckConstraint(condition=Q(amount_crypto__isnull=True) | Q(amount_crypto__gt=0),
                                   name="incoming_orders_amount_crypto_positive"),
        ]

    def __str__(self) -> str:
        # Not the hash id: it opens the customer's pay page, and this label reaches the audit trail.
        return f"{self.get_order_type_display()} request #{self.pk}"

    @property
    def requisite_last4(self) -> str:
        """The last digits of the requisite the order was assigned to (reads `assigned_order__requisite`)."""
        execution = getattr(self, "assigned_order", None)
        return execution.requisite.req_number_last4 if execution is not None else ""

    @property
    def store_status(self) -> StoreStatus:
        """The lifecycle status (see StoreStatus); reads `assigned_order` (select it with the order)."""
        if self.status != self.Status.ASSIGNED:
            return store_status(self.status, None)
        execution = getattr(self, "assigned_order", None)
        return store_status(self.status, execution.status if execution is not None else None)


class OrderHistory(TenantScopedModel):
    """An order that has a requisite assigned, through its execution (paid, confirmed, disputed, closed)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        DISPUTED = "disputed", "Disputed"
        EXPIRED = "expired", "Expired"

    client_id = models.CharField(max_length=128, null=True, blank=True)
    incoming_order = models.OneToOneField(IncomingOrder, on_delete=models.PROTECT, related_name="assigned_order")
    hash_id = models.CharField(max_length=32, unique=True, editable=False,
                               help_text="Same as the incoming order's: the /pay/<hash_id> page.")
    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="order_history")
    requisite = models.ForeignKey(ReqTrader, on_delete=models.PROTECT, related_name="order_histories")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="order_history")
    store = models.ForeignKey(MerchantStore, on_delete=models.PROTECT, related_name="order_history")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="order_history")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="order_history")
    crypto_currency = models.ForeignKey(CryptoCurrency, on_delete=models.PROTECT, related_name="order_history")
    fiat = models.ForeignKey(FiatCurrency, on_delete=models.PROTECT, related_name="order_history")
    order_type = models.CharField(max_length=8, choices=OrderType.choices)
    exchange_rate = CryptoAmountField()
    amount_currency = CryptoAmountField("crypto amount")
    total_fiat = FiatAmountField()
    store_commission = CryptoAmountField()
    trader_commission = CryptoAmountField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Unconfirmed after this: expired.")
    completed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True, help_text="PayIn: the customer said they have paid.")
    customer_receipt = models.FileField(upload_to="receipts/customer/%Y/%m/", null=True, blank=True)
    trader_receipt = models.FileField(upload_to="receipts/trader/%Y/%m/", null=True, blank=True)
    confirmed_fiat = FiatAmountField(null=True, blank=True,
                                     help_text="The fiat amount the trader confirmed (may differ from total_fiat).")
    confirmed_crypto = CryptoAmountField(null=True, blank=True, help_text="Crypto settled for confirmed_fiat.")
    amount_mismatch = models.CharField(max_length=10, choices=AmountMismatch.choices, blank=True, default="")
    hold_amount = CryptoAmountField(default=0, help_text="Crypto held from the trader (PayIn) for this order.")
    dispute_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "order_history"
        ordering = ["-created_at", "-id"]
        verbose_name = "assigned order"
        verbose_name_plural = "assigned orders"
        indexes = [
            models.Index(fields=["client_id"], name="ix_order_history_client_id"),
            models.Index(fields=["requisite", "created_at"], name="ix_order_history_requisite"),
            models.Index(fields=["status", "created_at"], name="ix_order_history_status"),
            # The trader's dashboard (issue 19): one trader's completions by time.
            NamedIndex(fields=["trader", "completed_at"], name="ix_order_history_trader_completed"),
            # The merchant's dashboard: the open day's completions (payments.cabinet.day_figures).
            NamedIndex(fields=["merchant", "completed_at"], name="ix_order_history_merchant_completed"),
            # Newest first, a page at a time (core.pagination): the admin's list of a tenant's assigned orders
            # and a trader's history.
            NamedIndex(fields=["tenant", "-created_at", "-id"], name="ix_order_history_tenant_created"),
            NamedIndex(fields=["trader", "-created_at", "-id", "tenant"], name="ix_order_history_trader_created"),
            # Small indexes of the open orders only: by deadline (the staff dashboard's "expiring" list, the expiry
            # sweeper) and by status (the dashboard's counts of what is open now).
            models.Index(fields=["tenant", "expires_at"], condition=Q(status__in=["pending", "processing"]),
                         name="ix_order_history_open_expiry"),
            models.Index(fields=["tenant", "status"], condition=Q(status__in=["pending", "processing", "disputed"]),
                         name="ix_order_history_open_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "processing", "completed", "failed",
                                                           "cancelled", "disputed", "expired"]),
                                   name="order_history_status_valid"),
            models.CheckConstraint(condition=Q(order_type__in=OrderType.values), name="order_history_type_valid"),
            models.CheckConstraint(condition=Q(total_fiat__gt=0, amount_currency__gt=0, exchange_rate__gt=0),
                                   name="order_history_amounts_positive"),
            models.CheckConstraint(condition=Q(store_commission__gte=0, trader_commission__gte=0),
                                   name="order_history_commissions_gte_0"),
            models.CheckConstraint(condition=Q(amount_mismatch__in=["", "underpaid", "overpaid"]),
                                   name="order_history_mismatch_valid"),
            models.CheckConstraint(condition=Q(hold_amount__gte=0), name="order_history_hold_gte_0"),
            models.CheckConstraint(condition=Q(confirmed_fiat__isnull=True) | Q(confirmed_fiat__gt=0),
                                   name="order_history_confirmed_fiat_positive"),
        ]

    def __str__(self) -> str:
        # Not the hash id: it opens the customer's pay page, and this label reaches the audit trail.
        return f"{self.get_order_type_display()} #{self.pk}"
