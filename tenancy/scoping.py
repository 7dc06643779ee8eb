"""The current tenant, and the tenant-scoped base every payments/trading table uses.

Two layers keep tenants apart:
- Python: `TenantScopedModel.objects` filters by the current tenant and fails
  closed (raises) when none is set — both when the query runs (see
  `TenantScopedQuery`), not when it is built; `unscoped()` and
  `dangerously_bypass_tenant_scope()` are the explicit, named ways around it.
- PostgreSQL: Row Level Security policies (see `tenancy.rls`) compare each row's
  tenant_id with `current_setting('app.tenant_id')`; with no setting a query
  sees and writes nothing.

How the setting reaches PostgreSQL (the choice, and why)
--------------------------------------------------------
The Python context (two ContextVars) is the source of truth. Every PostgreSQL
connection carries an execute wrapper (installed when it opens) that, before
each statement, compares the context with what it last sent on that connection
and, when they differ, first sends
`SELECT set_config('app.tenant_id', …, false), set_config('app.bypass_rls', …, false)`.
So the value is pushed lazily, only when a statement is about to run with a
different context — a request in the same tenant as the one before it on a
persistent connection costs no extra round trip — and no statement can ever run
under a stale value, because the check happens at the statement, not at the
`with` block.

We do not use `SET LOCAL` / `set_config(..., true)`: Django runs in
autocommit, where a "transaction-local" value would vanish after the very next
statement, and Django offers no hook at BEGIN to re-apply it. Session-level
values are safe because of the check before every statement, and because:

- Each thread has its own Django connection and its own ContextVars, and a new
  thread starts with no tenant: a thread only sees a tenant it enters itself.
- PostgreSQL rolls a `set_config` back with the (sub)transaction it ran in.
  A value sent inside an atomic block is therefore trusted only while that very
  block is open; once it has closed (committed or rolled back — we cannot tell
  which from here) the value is sent again before the next statement.
- A new connection starts with nothing sent, so its first statement sends it.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.db.backends.signals import connection_created
from django.db.models import Q
from django.db.models.sql import Query
from django.dispatch import receiver
from psycopg.pq import TransactionStatus

_current_tenant_id: ContextVar[uuid.UUID | None] = ContextVar("current_tenant_id", default=None)
_bypass: ContextVar[bool] = ContextVar("tenant_scope_bypass", default=False)

_SENT_ATTR = "_tenancy_sent_settings"


class TenantScopeError(RuntimeError):
    """A tenant-scoped table was queried with no tenant set and no explicit bypass."""


def current_tenant_id() -> uuid.UUID | None:
    return _current_tenant_id.get()


def is_bypassed() -> bool:
    return _bypass.get()


def _desired() -> tuple[str, str]:
    tenant_id = _current_tenant_id.get()
    return (str(tenant_id) if tenant_id else "", "on" if _bypass.get() else "off")


def _still_trusted(connection, sent) -> bool:
    """Whether the value recorded as sent is still in effect (see the module docstring)."""
    if sent is None:
        return False
    depth, block = sent[1], sent[2]
    if depth == 0:
        return True  # sent in autocommit: nothing can roll it back
    blocks = connection.atomic_blocks
    return len(blocks) >= depth and blocks[depth - 1] is block


_SET_SESSION = "SELECT set_config('app.tenant_id', %s, false), set_config('app.bypass_rls', %s, false)"
_SET_LOCAL = "SELECT set_config('app.tenant_id', %s, true), set_config('app.bypass_rls', %s, true)"


def _transaction_pooling(connection) -> bool:
    """DATABASE_TRANSACTION_POOLING (PgBouncer in transaction mode): the setting travels in each transaction."""
    return bool(connection.settings_dict.get("TRANSACTION_POOLING"))


def _apply(connection) -> None:
    """Send the context to `connection` unless it already carries it."""
    desired = _desired()
    sent = getattr(connection, _SENT_ATTR, None)
    if sent is not None and sent[0] == desired and _still_trusted(connection, sent):
        return
    if connection.connection.info.transaction_status == TransactionStatus.INERROR:
        # An aborted transaction runs nothing but its rollback (e.g. ROLLBACK TO SAVEPOINT, which Django
        # sends after it has cleared needs_rollback). The value stays untrusted and is sent after it.
        return
    pooled = _transaction_pooling(connection)
    connection.connection.execute(_SET_LOCAL if pooled else _SET_SESSION, list(desired))
    depth = len(connection.atomic_blocks) if connection.in_atomic_block else 0
    setattr(connection, _SENT_ATTR, (desired, depth, connection.atomic_blocks[-1] if depth else None))


def _tenant_setting_wrapper(execute, sql, params, many, context):
    connection = context["connection"]
    if not connection.in_atomic_block and _transaction_pooling(connection):
        # Behind a transaction pooler two autocommit statements may run on two server connections, and a
        # session-level value would stay on the server connection for its next client. So the statement
        # runs in a transaction of its own, with a transaction-local value sent first on the same server
        # connection; nothing outlives it. (Results are read by Django after the commit: client-side
        # cursors hold them — DISABLE_SERVER_SIDE_CURSORS is on with pooling.)
        setattr(connection, _SENT_ATTR, None)
        with connection.connection.transaction():
            connection.connection.execute(_SET_LOCAL, list(_desired()))
            return execute(sql, params, many, context)
    _apply(connection)
    return execute(sql, params, many, context)


@receiver(connection_created)
def _on_connect(sender, connection, **kwargs):
    if connection.vendor != "postgresql":
        return
    setattr(connection, _SENT_ATTR, None)
    if _tenant_setting_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _tenant_setting_wrapper)


def _as_uuid(tenant) -> uuid.UUID | None:
    tenant_id = getattr(tenant, "pk", tenant)
    return uuid.UUID(str(tenant_id)) if tenant_id else None


@contextmanager
def tenant_context(tenant) -> Iterator[None]:
    """Act inside one tenant (a Tenant or its id; None means no tenant) for the block."""
    token = _current_tenant_id.set(_as_uuid(tenant))
    try:
        yield
    finally:
        _current_tenant_id.reset(token)


@contextmanager
def dangerously_bypass_tenant_scope() -> Iterator[None]:
    """See every tenant's rows. Only for platform-wide work (super admin, sweepers);
    prefer `tenancy.services.platform_wide_access(reason=...)`, which records why."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def _scope_error(model) -> TenantScopeError:
    return TenantScopeError(
        f"{model._meta.label} is tenant-scoped: enter tenant_context(...) "
        "or use dangerously_bypass_tenant_scope() for platform-wide work."
    )


class TenantScopedQuery(Query):
    """Adds `tenant_id = <current tenant>` when the query is compiled, not when it is built.

    So a queryset made at import time (a form field's choices, a class attribute)
    is filtered by the tenant current when it runs, and one made inside tenant A
    but run inside tenant B shows B's rows. Compiling with no tenant (and no
    bypass) raises. Subqueries compile through here too.
    """

    _tenant_scope_applied = False

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        if self._tenant_scope_applied or self.combinator or _bypass.get():
            return super().get_compiler(using, connection, elide_empty)
        tenant_id = _current_tenant_id.get()
        if tenant_id is None:
            raise _scope_error(self.model)
        scoped = self.clone()
        scoped.add_q(Q(tenant_id=tenant_id))
        scoped._tenant_scope_applied = True
        return Query.get_compiler(scoped, using, connection, elide_empty)


class TenantScopedQuerySet(models.QuerySet):
    """UPDATE and fast DELETE switch Django's query class, so they scope explicitly first."""

    def _scoped_now(self):
        if not isinstance(self.query, TenantScopedQuery) or _bypass.get():
            return self
        tenant_id = _current_tenant_id.get()
        if tenant_id is None:
            raise _scope_error(self.model)
        return self.filter(tenant_id=tenant_id)

    def update(self, **kwargs):
        return super(TenantScopedQuerySet, self._scoped_now()).update(**kwargs)

    update.alters_data = True

    def _update(self, values):
        return super(TenantScopedQuerySet, self._scoped_now())._update(values)

    _update.alters_data = True

    def delete(self):
        return super(TenantScopedQuerySet, self._scoped_now()).delete()

    delete.alters_data = True
    delete.queryset_only = True

    def _raw_delete(self, using):
        return super(TenantScopedQuerySet, self._scoped_now())._raw_delete(using)

    _raw_delete.alters_data = True


class TenantScopedManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    def get_queryset(self):
        return self._queryset_class(model=self.model, query=TenantScopedQuery(self.model), using=self._db,
                                    hints=self._hints)

    def unscoped(self):
        """All tenants' rows in Python; the database's RLS still applies."""
        return self._queryset_class(model=self.model, using=self._db, hints=self._hints)


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
