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

The fast way (payments.api.idempotency, with Redis): when a Redis marker says nobody is using the key,
step 1 is skipped — the request gets a `FreshKey`, and `insert_completing` writes the key's row, already
`done` with its answer, in the very statement that writes the work, `ON CONFLICT DO NOTHING`. If the key
had a row after all (a done answer whose marker expired, a claim made the slow way), nothing is written,
`KeyTaken` is raised, and the request takes the protocol above. The unique constraint still decides.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core import crypto, sql
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
class FreshKey:
    """No request holds the key, as far as the Redis marker knows: write the answer with the work."""

    store: MerchantStore
    key: str
    fingerprint: str


class KeyTaken(Exception):  # noqa: N818 (a signal, not an error: the request goes the slow way)
    """A FreshKey's key had a row after all; nothing was written."""


@dataclass(frozen=True)
class Replay:
    """The key already has an answer for this very request."""

    response_status: int
    response_content: bytes


def _ttl() -> timedelta:
    return timedelta(hours=settings.STORE_API_IDEMPOTENCY_TTL_HOURS)


def _lock_timeout() -> timedelta:
    return timedelta(seconds=settings.STORE_API_IDEMPOTENCY_LOCK_SECONDS)


def claim_idempotency_key(*, store: MerchantStore, key: str, fingerprint: str) -> Claim | Replay:
    """Own `key` for this request, or learn the first answer; 409 while another request holds it,
    422 when the key was used for a different request."""
    for _ in range(2):  # a second round only after removing an expired row
        now = timezone.now()
        record = _new_record(store, key, fingerprint, now, status=IdempotencyKey.Status.IN_FLIGHT)
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
        _refuse_other_request(existing.request_fingerprint, fingerprint)
        if existing.status == IdempotencyKey.Status.DONE:
            return Replay(existing.response_status, bytes(existing.response_content))
        taken = _take_over_stale(existing, now)
        if taken is not None:
            return Claim(taken)
        raise _in_flight()
    raise _in_flight()


def claim_held_idempotency_key(*, store: MerchantStore, key: str, fingerprint: str,
                               holder_fingerprint: Callable[[], str | None]) -> Claim | Replay:
    """claim_idempotency_key for a key whose Redis marker another request holds.

    With no row yet, the holder is a request still working the fast way (FreshKey): 409, or 422 when
    `holder_fingerprint()` (the marker's value) says it is another request. Otherwise the row decides.
    """
    if not IdempotencyKey.objects.filter(store=store, key=key).exists():
        holder = holder_fingerprint()
        if holder is not None:
            _refuse_other_request(holder, fingerprint)
            raise _in_flight()
    return claim_idempotency_key(store=store, key=key, fingerprint=fingerprint)


def _refuse_other_request(used_for: str, fingerprint: str) -> None:
    if used_for != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key.",
            fields={"Idempotency-Key": ["Already used with another body or endpoint."]})


def _in_flight() -> ConflictError:
    return ConflictError("A request with this Idempotency-Key is still being processed; retry shortly.",
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


def complete_idempotency_key(*, claim: Claim, response_status: int, response_content: bytes) -> None:
    """Store the answer (its rendered bytes); call inside the transaction that did the work, so both commit
    or neither."""
    record = claim.record
    updated = IdempotencyKey.objects.filter(
        pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT, lock_token=record.lock_token,
    ).update(status=IdempotencyKey.Status.DONE, response_status=response_status, response_content=response_content)
    if not updated:
        raise _taken_over()


def insert_completing(*, claim: Claim | FreshKey, obj: models.Model, response_status: int,
                      response_content: Callable[[], bytes]) -> bytes:
    """INSERT `obj` and store the answer on `claim`, both or neither: what complete_idempotency_key does
    inside the transaction that did the work, in one statement.

    On PostgreSQL that is one round trip instead of five (BEGIN, INSERT, UPDATE, COMMIT):
    `WITH done AS (UPDATE <claim> … RETURNING id) INSERT INTO <table> (…) SELECT … FROM done RETURNING id`,
    so the row is only written while this request still holds the claim. With a FreshKey the CTE is
    `INSERT <the key's done row> … ON CONFLICT DO NOTHING RETURNING id` instead, and KeyTaken is raised when
    the key had a row already. `response_content()` (the answer's rendered body) is called once, after the
    row's values are final (auto_now and defaults applied) and before the statement runs; the bytes it
    gave, now stored with the key, are returned.

    Any other constraint the row breaks (a store's client_id used twice) fails the whole statement, the
    key's row with it, as an IntegrityError for the caller to explain.
    """
    stored: list[bytes] = []

    def content() -> bytes:
        stored.append(response_content())
        return stored[0]

    if connection.vendor != "postgresql":  # SQLite allows no INSERT or UPDATE inside WITH: the plain way
        _insert_completing_in_transaction(claim, obj, response_status, content)
        return stored[0]
    with connection.cursor() as cursor:
        cursor.execute(*completing_statement(claim=claim, obj=obj, response_status=response_status,
                                             response_content=content))
        row = cursor.fetchone()
    if row is None:
        raise KeyTaken() if isinstance(claim, FreshKey) else _taken_over()
    sql.mark_saved(obj, row[0], connection)
    return stored[0]


def completing_statement(*, claim: Claim | FreshKey, obj: models.Model, response_status: int,
                         response_content: Callable[[], bytes]) -> tuple[str, list]:
    """The one PostgreSQL statement of insert_completing, and its parameters (bench/bare_view.py sends it too)."""
    insert_statement, insert_params = sql.insert_sql(obj, connection, select_from="done")
    if isinstance(claim, FreshKey):
        claim_statement, claim_params = sql.insert_sql(
            _done_record(claim, response_status, response_content()), connection, on_conflict_do_nothing=True)
    else:
        claim_statement, claim_params = _completing_update(claim, response_status, response_content())
    return f"WITH done AS ({claim_statement}) {insert_statement}", claim_params + insert_params


def _completing_update(claim: Claim, response_status: int, response_content: bytes) -> tuple[str, list]:
    body_field = IdempotencyKey._meta.get_field("response_content")
    record = claim.record
    # identifiers come from the model's meta, values are all parameters
    return (f"UPDATE {IdempotencyKey._meta.db_table} SET status = 'done', "  # noqa: S608
            "response_status = %s, response_content = %s "
            "WHERE id = %s AND lock_token = %s AND status = 'in_flight' RETURNING id",
            [response_status, body_field.get_db_prep_save(response_content, connection), record.pk, record.lock_token])


def _done_record(fresh: FreshKey, response_status: int, response_content: bytes) -> IdempotencyKey:
    return _new_record(fresh.store, fresh.key, fresh.fingerprint, timezone.now(), status=IdempotencyKey.Status.DONE,
                       response_status=response_status, response_content=response_content)


def _new_record(store: MerchantStore, key: str, fingerprint: str, now, **values) -> IdempotencyKey:
    """A key's row, held by this request (its own lock token) from `now`, kept for the TTL."""
    return IdempotencyKey(tenant_id=store.tenant_id, store=store, key=key, request_fingerprint=fingerprint,
                          lock_token=crypto.new_token(16)[:32], locked_at=now, created_at=now,
                          expires_at=now + _ttl(), **values)


def _insert_completing_in_transaction(claim: Claim | FreshKey, obj: models.Model, response_status: int,
                                      response_content: Callable[[], bytes]) -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            # As on PostgreSQL, where a key that has a row writes nothing else: the key decides first.
            if isinstance(claim, FreshKey) and IdempotencyKey.objects.filter(store=claim.store, key=claim.key).exists():
                raise KeyTaken() from None
            raise
        if not isinstance(claim, FreshKey):
            complete_idempotency_key(claim=claim, response_status=response_status,
                                     response_content=response_content())
            return
        try:
            with transaction.atomic():
                _done_record(claim, response_status, response_content()).save(force_insert=True)
        except IntegrityError:
            raise KeyTaken()  # leaving the outer block rolls `obj` back


def _taken_over() -> ConflictError:
    return ConflictError("This request took too long and another request with its Idempotency-Key took over.",
                         code="idempotency_key_in_flight")


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
