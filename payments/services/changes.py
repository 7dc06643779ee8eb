"""Applying a set of field changes to a row: locked, validated, saved and audited old→new."""

from typing import Any

from django.core.exceptions import ValidationError

from audit.services import field_changes
from payments.errors import PaymentsError

from .audit_trail import record


def apply_changes(obj, changes: dict[str, Any], allowed: set[str], *, action: str, actor, validate=None,
                  authorize=None):
    """Set the changed fields on a locked copy, save, audit old→new; returns the saved object.

    `authorize(changed_names)` sees what really differs from the database row (not
    from `obj`, which a form may already have modified) and raises to refuse.
    """
    model = type(obj)
    locked = model.objects.unscoped().select_for_update().get(pk=obj.pk, tenant_id=obj.tenant_id)
    old = {name: getattr(locked, name) for name in allowed}
    for name, value in changes.items():
        if name not in allowed:
            raise PaymentsError(f"{name} cannot be changed here.", code="invalid_field")
        setattr(locked, name, value)
    if validate:
        validate(locked)
    new = {name: getattr(locked, name) for name in allowed}
    diff = field_changes(old, new)
    if diff and authorize is not None:
        authorize(set(diff))
    if diff:
        validate_model(locked)
        locked.save()
        record(action=action, target=locked, actor=actor, description=str(locked), details={"changes": diff})
    return locked


def validate_model(obj, *, exclude: list[str] | None = None) -> None:
    """Model validation as a domain error (field messages kept); constraints are left to the database."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise PaymentsError("Some values are not valid.", code="validation_error", fields=exc.message_dict)
