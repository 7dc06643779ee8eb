"""Writing the audit trail. Every service that changes who may do what calls this."""

from typing import Any

from django.db import models

from audit.context import current_ip
from audit.models import AuditLog

# Keys whose values never reach the trail, whatever the caller passes.
_SECRET_MARKERS = ("password", "secret", "token", "hash", "api_key", "otp", "code", "req_number")
REDACTED = "[redacted]"


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def scrub(value: Any) -> Any:
    """Drop secret values and make the rest JSON-safe (str for Decimal, UUID, datetimes)."""
    if isinstance(value, dict):
        return {str(k): (REDACTED if _is_secret(str(k)) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def record_event(
    *,
    action: str,
    actor=None,
    target: models.Model | None = None,
    target_entity: str = "",
    target_id: Any = "",
    description: str = "",
    details: dict | None = None,
    tenant=None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one entry. `target` fills entity and id from a model instance."""
    if target is not None:
        target_entity = target_entity or target._meta.db_table
        target_id = target_id or target.pk
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditLog.objects.create(
        actor=actor,
        tenant=tenant,
        ip_address=ip_address or current_ip.get(),
        action=action,
        target_entity=target_entity,
        target_id=str(target_id or ""),
        description=description,
        details=scrub(details or {}),
    )


def field_changes(old: dict, new: dict) -> dict:
    """{field: {"old": …, "new": …}} for the fields that differ; secrets redacted."""
    changes = {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes[key] = REDACTED if _is_secret(key) else {"old": scrub(old.get(key)), "new": scrub(new.get(key))}
    return changes
