"""Writes of the payments domain: one function per action, each atomic and audited.

Callers act inside the tenant of the rows they touch (tenancy.scoping.tenant_context);
on PostgreSQL Row Level Security refuses anything else.
"""
