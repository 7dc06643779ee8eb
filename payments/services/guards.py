"""Checks every payments write makes before it touches a row."""

from django.db import models

from payments.errors import PaymentsError


def ensure_same_tenant(tenant_id, *objects: models.Model | None) -> None:
    """Refuse links between rows of different tenants (RLS guards reads; this guards links)."""
    for obj in objects:
        if obj is not None and getattr(obj, "tenant_id", tenant_id) != tenant_id:
            raise PaymentsError(f"{obj._meta.verbose_name} belongs to another tenant.", code="cross_tenant")
