"""The current tenant, and the tenant-scoped base every payments/trading table uses.

Two layers keep tenants apart:
- Python: `TenantScopedModel.objects` filters by the current tenant and fails
  closed (raises) when none is set; `unscoped()` and
  `dangerously_bypass_tenant_scope()` are the explicit, named ways around it.
- PostgreSQL: Row Level Security policies (see `tenancy.rls`) compare each row's
  tenant_id with `current_setting('app.tenant_id')`, which this module keeps in
  step with the Python context on every connection.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections, models
from django.db.backends.signals import connection_created
from django.dispatch import receiver

_current_tenant_id: ContextVar[uuid.UUID | None] = ContextVar("current_tenant_id", default=None)
_bypass: ContextVar[bool] = ContextVar("tenant_scope_bypass", default=False)


class TenantScopeError(RuntimeError):
    """A tenant-scoped table was queried with no tenant set and no explicit bypass."""


def current_tenant_id() -> uuid.UUID | None:
    return _current_tenant_id.get()


def is_bypassed() -> bool:
    return _bypass.get()


def _apply(connection) -> None:
    if connection.vendor != "postgresql":
        return
    tenant_id = _current_tenant_id.get()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.tenant_id', %s, false), set_config('app.bypass_rls', %s, false)",
            [str(tenant_id) if tenant_id else "", "on" if _bypass.get() else "off"],
        )


def apply_to_open_connections() -> None:
    """Push the context into every open connection (new ones get it on connect)."""
    for alias in connections:
        connection = connections[alias]
        if connection.connection is not None:
            _apply(connection)


@receiver(connection_created)
def _on_connect(sender, connection, **kwargs):
    _apply(connection)


@contextmanager
def tenant_context(tenant) -> Iterator[None]:
    """Act inside one tenant (a Tenant or its id) for the duration of the block."""
    tenant_id = getattr(tenant, "pk", tenant)
    token = _current_tenant_id.set(uuid.UUID(str(tenant_id)) if tenant_id else None)
    apply_to_open_connections()
    try:
        yield
    finally:
        _current_tenant_id.reset(token)
        apply_to_open_connections()


@contextmanager
def dangerously_bypass_tenant_scope() -> Iterator[None]:
    """See every tenant's rows. Only for platform-wide work (super admin, sweepers);
    callers record why (see tenancy.services)."""
    token = _bypass.set(True)
    apply_to_open_connections()
    try:
        yield
    finally:
        _bypass.reset(token)
        apply_to_open_connections()


class TenantScopedQuerySet(models.QuerySet):
    pass


class TenantScopedManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    def get_queryset(self):
        queryset = super().get_queryset()
        if _bypass.get():
            return queryset
        tenant_id = _current_tenant_id.get()
        if tenant_id is None:
            raise TenantScopeError(
                f"{self.model._meta.label} is tenant-scoped: enter tenant_context(...) "
                "or use dangerously_bypass_tenant_scope() for platform-wide work."
            )
        return queryset.filter(tenant_id=tenant_id)

    def unscoped(self):
        """All tenants' rows in Python; the database's RLS still applies."""
        return super().get_queryset()


class TenantScopedModel(models.Model):
    """Abstract base for every domain table of payments and trading."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+", editable=False)

    objects = TenantScopedManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.tenant_id is None:
            tenant_id = _current_tenant_id.get()
            if tenant_id is None:
                raise TenantScopeError(f"{self._meta.label} needs a tenant: set one or enter tenant_context().")
            self.tenant_id = tenant_id
        super().save(*args, **kwargs)
