"""The one audit trail (seeds 002, 000). Append-only."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    timestamp = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="audit_logs")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
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
