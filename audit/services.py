"""Writing the audit trail. Every service that changes who may do what calls this."""

from typing import Any

from django.db import connections, models, router

from audit.context import current_ip
from audit.models import AuditLog
from core import sql

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


def record_event(**fields: Any) -> AuditLog:
    """Append one entry; takes the keywords of `audit_entry`, which says what each defaults to."""
    entry = audit_entry(**fields)
    record_entries([entry])
    return entry


def audit_entry(
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
    """An unsaved entry (`record_entries` writes several at once). `target` fills entity and id from a model
    instance; `tenant` (a Tenant or its id) defaults to the current tenant; the IP to the current request's."""
    if target is not None:
        target_entity = target_entity or target._meta.db_table
        target_id = target_id or target.pk
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if tenant is None:
        from tenancy.scoping import current_tenant_id

        tenant = current_tenant_id()
    return AuditLog(
        actor=actor,
        actor_label=str(getattr(actor, "email", "") or actor or "")[:254] if actor is not None else "",
        tenant_id=getattr(tenant, "pk", tenant),
        ip_address=ip_address or current_ip.get(),
        action=action,
        target_entity=target_entity,
        target_id=str(target_id or ""),
        description=description,
        details=scrub(details or {}),
    )


def record_entries(entries: list[AuditLog]) -> None:
    """Append new entries in one INSERT, in list order (the trail has no save signals to miss)."""
    if any(not entry._state.adding for entry in entries):
        raise ValueError("Audit entries are append-only.")
    sql.insert_many(entries, connections[router.db_for_write(AuditLog)])


def field_changes(old: dict, new: dict) -> dict:
    """{field: {"old": …, "new": …}} for the fields that differ; secrets redacted."""
    changes = {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes[key] = REDACTED if _is_secret(key) else {"old": scrub(old.get(key)), "new": scrub(new.get(key))}
    return changes


def model_snapshot(instance: models.Model, fields: tuple[str, ...] | list[str] | None = None,
                   exclude: tuple[str, ...] = ()) -> dict:
    """The instance's concrete field values by field name (foreign keys as their id), for field_changes.
    Bookkeeping timestamps (auto_now) are left out: they change on every save."""
    snapshot = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name in exclude or field.primary_key or getattr(field, "auto_now", False):
            continue
        snapshot[field.name] = getattr(instance, field.attname)
    return snapshot
