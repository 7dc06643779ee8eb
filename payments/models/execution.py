"""After assignment: appeals on orders, and the callbacks that tell stores about every change."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.scoping import TenantScopedModel

from .merchants import MerchantStore
from .orders import IncomingOrder, OrderHistory


class Appeal(TenantScopedModel):
    """A dispute about an order, opened by its customer, merchant or trader; support resolves it."""

    class OpenedBy(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        MERCHANT = "merchant", "Merchant"
        TRADER = "trader", "Trader"
        STAFF = "staff", "Staff"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        NONE = "", "—"
        COMPLETED = "completed", "Order completed"
        CANCELLED = "cancelled", "Order cancelled"

    order = models.ForeignKey(OrderHistory, on_delete=models.PROTECT, related_name="appeals")
    opened_by_role = models.CharField(max_length=10, choices=OpenedBy.choices)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", help_text="Empty when the paying customer opened it.")
    reason = models.TextField()
    evidence = models.FileField(upload_to="appeals/%Y/%m/", null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "order_appeals"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="ix_order_appeals_status")]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="open"), name="order_appeals_one_open"),
            models.CheckConstraint(condition=Q(opened_by_role__in=["customer", "merchant", "trader", "staff"]),
                                   name="order_appeals_opened_by_valid"),
            models.CheckConstraint(condition=Q(status__in=["open", "resolved"]), name="order_appeals_status_valid"),
            models.CheckConstraint(
                condition=(Q(status="open", resolution="") | Q(status="resolved", resolution__in=["completed",
                                                                                                 "cancelled"])),
                name="order_appeals_resolution_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal on {self.order}"


class CallbackEvent(TenantScopedModel):
    """One order event for one store, delivered to its callback_url until it answers 2xx (or we give up)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(MerchantStore, on_delete=models.PROTECT, related_name="callback_events")
    incoming_order = models.ForeignKey(IncomingOrder, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="callback_events")
    event_type = models.CharField(max_length=48)
    payload = models.JSONField(help_text="The exact body sent, so every attempt sends the same bytes.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "callback_events"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ix_callback_events_due"),
            models.Index(fields=["store", "created_at"], name="ix_callback_events_store"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "delivered", "failed"]),
                                   name="callback_events_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def never_sent(self) -> bool:
        """Written as failed without a try: the store's callback URL was missing or unusable
        (payments.callbacks.events writes `Not sent: <why>.`)."""
        return self.status == self.Status.FAILED and self.attempts == 0 and self.last_error.startswith("Not sent:")

    @property
    def not_configured(self) -> bool:
        """Never sent because the store has no callback URL: nothing went wrong, there is nowhere to send."""
        return self.never_sent and "no callback URL" in self.last_error

    @property
    def delivery_label(self) -> str:
        """What a person reads: "Not configured" / "Not sent" rather than a red "Gave up" after 0 tries."""
        if self.not_configured:
            return "Not configured"
        if self.never_sent:
            return "Not sent"
        return self.get_status_display()


class CallbackAttempt(TenantScopedModel):
    """One HTTP try of a callback event: what came back and how long it took."""

    event = models.ForeignKey(CallbackEvent, on_delete=models.CASCADE, related_name="attempt_rows")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    manual = models.BooleanField(default=False, help_text="A resend asked for by the merchant.")

    class Meta:
        db_table = "callback_attempts"
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["event", "attempted_at"], name="ix_callback_attempts_event")]

    def __str__(self) -> str:
        return f"attempt {self.status_code or self.error[:20]}"
