"""Audit entries of payments actions, filed under the row's tenant."""

from django.db import models

from audit.models import AuditLog
from audit.services import audit_entry, record_entries


def entry(*, action: str, target: models.Model, actor=None, description: str = "",
          details: dict | None = None) -> AuditLog:
    """The unsaved entry `record` writes; several go out in one INSERT through `record_all`."""
    return audit_entry(action=action, actor=actor, target=target, tenant=getattr(target, "tenant_id", None),
                       description=description, details=details)


def record(*, action: str, target: models.Model, actor=None, description: str = "",
           details: dict | None = None) -> AuditLog:
    written = entry(action=action, target=target, actor=actor, description=description, details=details)
    record_entries([written])
    return written


record_all = record_entries
