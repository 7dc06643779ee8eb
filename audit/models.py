"""The one audit trail of payments, trading and identity. Append-only.

On PostgreSQL a trigger (migration 0003) refuses every UPDATE and DELETE of a
row. So that deleting a user or a tenant never has to touch the trail, the
`actor` and `tenant` links are DO_NOTHING without a database constraint:
the row keeps the id (and `actor_label`, the actor's email at the time) of a
user who is gone, instead of Django's SET_NULL rewriting history.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    timestamp = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                              null=True, blank=True, related_name="audit_logs")
    actor_label = models.CharField(max_length=254, blank=True, default="",
                                   help_text="Who acted, as they were called then (kept if the user is deleted).")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.DO_NOTHING, db_constraint=False,
                               null=True, blank=True, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64)
    target_entity = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "audit_logs"
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["target_entity", "target_id"], name="ix_audit_logs_target"),
            models.Index(fields=["action"], name="ix_audit_logs_action"),
            models.Index(fields=["timestamp"], name="ix_audit_logs_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are append-only.")
