"""Idempotency keys of the store API: claim, complete, release (see payments.models.idempotency).

Protocol for one request with a key:
1. `claim_idempotency_key` — its own short transaction; the unique (store, key)
   constraint decides which of two concurrent requests owns the key.
2. the owner does its work and, in the same transaction as that work,
   `complete_idempotency_key` stores the answer (compare-and-swap on the
   claim's lock token, so a request whose claim was taken over cannot complete);
3. on any error the owner calls `release_idempotency_key`, so the key is free.

A claim left `in_flight` by a request that died is taken over after
STORE_API_IDEMPOTENCY_LOCK_SECONDS; a done answer is kept STORE_API_IDEMPOTENCY_TTL_HOURS.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from rest_framework import status

from config import crypto, sql
from payments.errors import ConflictError, PaymentsError
from payments.models import IdempotencyKey, MerchantStore
from tenancy.models import Tenant
from tenancy.scoping import tenant_context


class IdempotencyKeyReused(PaymentsError):
    code = "idempotency_key_reused"


def request_fingerprint(*, method: str, path: str, body) -> str:
    """sha256 of the method, path and the body as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The request owns the key: do the work, then complete or release."""

    record: IdempotencyKey


@dataclass(frozen=True)
class Replay:
    """The key already has an answer for this very request."""

    response_status: int
    response_body: dict


def _ttl() -> timedelta:
    return timedelta(hours=settings.STORE_API_IDEMPOTENCY_TTL_HOURS)


def _lock_timeout() -> timedelta:
    return timedelta(seconds=settings.STORE_API_IDEMPOTENCY_LOCK_SECONDS)


def claim_idempotency_key(*, store: MerchantStore, key: str, fingerprint: str) -> Claim | Replay:
    """Own `key` for this request, or learn the first answer; 409 while another request holds it,
    422 when the key was used for a different request."""
    for _ in range(2):  # a second round only after removing an expired row
        now = timezone.now()
        record = IdempotencyKey(tenant_id=store.tenant_id, store=store, key=key, request_fingerprint=fingerprint,
                                status=IdempotencyKey.Status.IN_FLIGHT, lock_token=crypto.new_token(16)[:32],
                                locked_at=now, created_at=now, expires_at=now + _ttl())
        try:
            _insert_alone(record)
            return Claim(record)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(store=store, key=key).first()
        if existing is None:
            continue  # released between our insert and our read: try again
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request; use a new key.",
                fields={"Idempotency-Key": ["Already used with another body or endpoint."]})
        if existing.status == IdempotencyKey.Status.DONE:
            return Replay(existing.response_status, existing.response_body)
        taken = _take_over_stale(existing, now)
        if taken is not None:
            return Claim(taken)
        raise ConflictError("A request with this Idempotency-Key is still being processed; retry shortly.",
                            code="idempotency_key_in_flight")
    raise ConflictError("A request with this Idempotency-Key is still being processed; retry shortly.",
                        code="idempotency_key_in_flight")


def _insert_alone(record: IdempotencyKey) -> None:
    """INSERT the claim and commit it at once: in autocommit it is one statement (one round trip);
    inside a caller's transaction (tests) a savepoint keeps a conflict from breaking that transaction."""
    if connection.in_atomic_block:
        with transaction.atomic():
            sql.insert(record, connection)
    else:
        sql.insert(record, connection)


def _take_over_stale(existing: IdempotencyKey, now) -> IdempotencyKey | None:
    """An in-flight claim whose request died (no answer within the lock timeout) passes to this request."""
    token = crypto.new_token(16)[:32]
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk, status=IdempotencyKey.Status.IN_FLIGHT, lock_token=existing.lock_token,
        locked_at__lte=now - _lock_timeout(),
    ).update(lock_token=token, locked_at=now)
    if not taken:
        return None
    existing.lock_token, existing.locked_at = token, now
    return existing


def complete_idempotency_key(*, claim: Claim, response_status: int, response_body: dict) -> None:
    """Store the answer; call inside the transaction that did the work, so both commit or neither."""
    record = claim.record
    updated = IdempotencyKey.objects.filter(
        pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT, lock_token=record.lock_token,
    ).update(status=IdempotencyKey.Status.DONE, response_status=response_status, response_body=response_body)
    if not updated:
        raise ConflictError("This request took too long and another request with its Idempotency-Key took over.",
                            code="idempotency_key_in_flight", status_code=status.HTTP_409_CONFLICT)


def insert_completing(*, claim: Claim, obj: models.Model, response_status: int,
                      response_body: Callable[[], dict]) -> None:
    """INSERT `obj` and store the answer on `claim`, both or neither: what complete_idempotency_key does
    inside the transaction that did the work, in one statement.

    On PostgreSQL that is one round trip instead of five (BEGIN, INSERT, UPDATE, COMMIT):
    `WITH done AS (UPDATE <claim> … RETURNING id) INSERT INTO <table> (…) SELECT … FROM done RETURNING id`,
    so the row is only written while this request still holds the claim. `response_body()` is called
    after the row's values are final (auto_now and defaults applied) and before the statement runs.
    """
    if connection.vendor != "postgresql":  # SQLite allows no UPDATE inside WITH: the plain way
        with transaction.atomic():
            obj.save(force_insert=True)
            complete_idempotency_key(claim=claim, response_status=response_status, response_body=response_body())
        return
    insert_statement, insert_params = sql.insert_sql(obj, connection, select_from="done")
    body_field = IdempotencyKey._meta.get_field("response_body")
    record = claim.record
    update_params = [response_status, body_field.get_db_prep_save(response_body(), connection), record.pk,
                     record.lock_token]
    # identifiers come from the models' meta, values are all parameters
    statement = (f"WITH done AS (UPDATE {IdempotencyKey._meta.db_table} SET status = 'done', "  # noqa: S608
                 "response_status = %s, response_body = %s "
                 "WHERE id = %s AND lock_token = %s AND status = 'in_flight' RETURNING id) " + insert_statement)
    with connection.cursor() as cursor:
        cursor.execute(statement, update_params + insert_params)
        row = cursor.fetchone()
    if row is None:
        raise ConflictError("This request took too long and another request with its Idempotency-Key took over.",
                            code="idempotency_key_in_flight", status_code=status.HTTP_409_CONFLICT)
    sql.mark_saved(obj, row[0], connection)


def release_idempotency_key(*, claim: Claim) -> None:
    """Free the key after a failed attempt (only while this request still holds it)."""
    record = claim.record
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT,
                                  lock_token=record.lock_token).delete()


def purge_expired_idempotency_keys(*, now=None) -> int:
    """Delete answers past their expiry, tenant by tenant (no RLS bypass needed)."""
    now = now or timezone.now()
    removed = 0
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        with tenant_context(tenant_id):
            removed += IdempotencyKey.objects.filter(expires_at__lte=now).delete()[0]
    return removed
