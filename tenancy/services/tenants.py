"""Tenants, and the explicit, audited way to act across all of them."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import field_changes, model_snapshot, record_event
from tenancy.authz import require
from tenancy.models import Tenant
from tenancy.scoping import dangerously_bypass_tenant_scope

EDITABLE = ("name", "plan", "status")


def create_tenant(*, name: str, plan: str = "standard", status: str = Tenant.Status.ACTIVE,
                  actor=None) -> Tenant:
    require(actor, "tenants.manage", message="Only a super admin creates tenants.")
    tenant = Tenant(name=name.strip(), plan=plan, status=status)
    tenant.full_clean()
    with transaction.atomic():
        tenant.save()
        record_event(action="tenant.created", actor=actor, target=tenant, tenant=tenant.pk,
                     description=f"Tenant {tenant.name} created", details=model_snapshot(tenant, EDITABLE))
    return tenant


def update_tenant(*, tenant: Tenant, changes: dict, actor=None) -> Tenant:
    require(actor, "tenants.manage", obj=tenant, message="Only a super admin changes tenants.")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        before = model_snapshot(tenant, EDITABLE)
        for field, value in changes.items():
            setattr(tenant, field, value)
        tenant.full_clean()
        tenant.save()
        diff = field_changes(before, model_snapshot(tenant, EDITABLE))
        if diff:
            record_event(action="tenant.updated", actor=actor, target=tenant, tenant=tenant.pk,
                         description=f"Tenant {tenant.name} changed", details={"changes": diff})
    return tenant


def delete_tenant(*, tenant: Tenant, actor=None) -> None:
    """Memberships and role assignments go with it; tenants that still own domain rows are protected."""
    require(actor, "tenants.manage", obj=tenant, message="Only a super admin deletes tenants.")
    with transaction.atomic():
        record_event(action="tenant.deleted", actor=actor, target=tenant, tenant=tenant.pk,
                     description=f"Tenant {tenant.name} deleted", details=model_snapshot(tenant, EDITABLE))
        tenant.delete()


@contextmanager
def platform_wide_access(*, reason: str, actor=None) -> Iterator[None]:
    """Act across every tenant (RLS bypass), recording who did it and why first."""
    if not reason.strip():
        raise ValueError("Say why the tenant scope is bypassed.")
    record_event(action="tenancy.scope_bypassed", actor=actor, description=reason, details={"reason": reason})
    with dangerously_bypass_tenant_scope():
        yield
