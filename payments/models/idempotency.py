"""Idempotency keys of the store API (POST /api/v1/payins, /payouts).

One row per (store, key). The row is claimed with a plain INSERT against the
unique constraint in its own short transaction, so of two concurrent requests
with one key exactly one gets it; the other sees the row and answers 409 (still
in flight) or replays the stored answer (done). Only successful answers are
kept: an error releases the key (deletes the row), so the client may retry. The answer is
kept as the rendered bytes, not as JSON: a replay must be the very bytes of the first answer.
"""

from django.db import models
from django.db.models import Q

from tenancy.scoping import TenantScopedModel

from .merchants import MerchantStore


class IdempotencyKey(TenantScopedModel):
    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    store = models.ForeignKey(MerchantStore, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and canonical body.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_FLIGHT)
    lock_token = models.CharField(max_length=32, help_text="Which request holds the in-flight claim.")
    locked_at = models.DateTimeField(help_text="An in-flight claim older than the timeout may be taken over.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content = models.BinaryField(
        null=True, blank=True, help_text="The answer's body exactly as first sent, so a replay is byte-identical.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "store_api_idempotency_keys"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["expires_at"], name="ix_store_api_idem_expires")]
        constraints = [
            models.UniqueConstraint(fields=["store", "key"], name="store_api_idem_store_key_uniq"),
            models.CheckConstraint(condition=Q(status__in=["in_flight", "done"]), name="store_api_idem_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.store_id}:{self.key}"
