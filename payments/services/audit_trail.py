"""Audit entries of payments actions, filed under the row's tenant."""

from django.db import models

from audit.models import AuditLog
from audit.services import record_event
from tenancy.models import Tenant


def record(*, action: str, target: models.Model, actor=None, description: str = "",
           details: dict | None = None) -> AuditLog:
    tenant = Tenant(pk=target.tenant_id) if getattr(target, "tenant_id", None) else None
    return record_event(action=action, actor=actor, target=target, tenant=tenant,
                        description=description, details=details)
