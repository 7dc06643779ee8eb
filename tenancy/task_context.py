"""Celery tasks carry their tenant explicitly.

A worker has no request, so nothing sets a tenant for it: a task that touches
tenant-scoped rows takes `tenant_id` as an argument and runs inside that
tenant (and nothing else), via `TenantTask`:

    @shared_task(base=TenantTask, name="payments.assign_order")
    def assign_order(order_id: int) -> None: ...

    enqueue_in_tenant(assign_order, order_id)            # on commit, with the current tenant

`tenant_id` is removed from the arguments before the task body runs; the
tenant context (and the PostgreSQL setting) is restored afterwards, so a
worker process never carries one task's tenant into the next.
"""

from celery import Task
from django.db import transaction

from tenancy.scoping import TenantScopeError, current_tenant_id, tenant_context


class TenantTask(Task):
    abstract = True
    # `tenant_id` is a keyword the task body never sees (popped below), so Celery's check of the
    # arguments against the body's signature at send time would refuse every message.
    typing = False

    def __call__(self, *args, **kwargs):
        tenant_id = kwargs.pop("tenant_id", None)
        if not tenant_id:
            raise TenantScopeError(f"Task {self.name} needs tenant_id=…: tasks carry their tenant explicitly.")
        with tenant_context(tenant_id):
            return super().__call__(*args, **kwargs)


def enqueue_in_tenant(task, *args, tenant=None, **kwargs) -> None:
    """Send `task` after the current transaction commits, in `tenant` (default: the current one)."""
    tenant_id = getattr(tenant, "pk", tenant) or current_tenant_id()
    if tenant_id is None:
        raise TenantScopeError("No tenant to send the task in: pass tenant=… or enter tenant_context().")
    kwargs["tenant_id"] = str(tenant_id)
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs))
