"""The `Idempotency-Key` header of POST /api/v1/payins and /payouts (services: payments.services.idempotency).

With Redis (REDIS_URL), a request with a key first sets a marker in Redis,
`SET store-api-idem:<tenant>:<store>:<key> <fingerprint> NX PX <lock timeout>`, in the same round trip as
its rate limit count (payments.api.throttling). Whoever sets it skips the separate claim transaction: its
order and the key's done answer are written by one statement (FreshKey). Whoever finds it set asks the
database (replay, 422), and while the key has no row yet the marker's holder is still working: 409 (or 422
when the marker's fingerprint is another request's). The marker stays after a success (retries then go
straight to the stored answer) and is deleted after an error answer, so the key is free again. Without
Redis, or when it fails, every request takes the database's claim; the unique (store, key) constraint
decides in every case, so one key never makes two orders.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter

from core.errors import InvalidInput
from payments.models import MerchantStore
from payments.services.idempotency import (
    Claim,
    FreshKey,
    KeyTaken,
    Replay,
    claim_held_idempotency_key,
    claim_idempotency_key,
    release_idempotency_key,
    request_fingerprint,
)

from .rendering import json_answer
from .throttling import redis_client

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}\Z")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER, location=OpenApiParameter.HEADER, required=False, type=str,
    description=(
        "Any unique string you choose (1–255 visible ASCII characters, e.g. a UUID). Retrying the same request "
        "with the same key returns the first answer — same status and the very same body bytes, with header "
        "`Idempotent-Replayed: true` — for 24 hours, and creates no second order. The same key with a different "
        "body or endpoint is refused with 422 `idempotency_key_reused`; while the first request is still being "
        "processed a second one gets 409 `idempotency_key_in_flight` (retry shortly). Only a successful answer is "
        "kept: after an error answer the key is free again. Keys are per store."
    ),
)


def _key_from(request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not KEY_PATTERN.match(raw):
        raise InvalidInput("Idempotency-Key must be 1–255 visible ASCII characters.", code="invalid_idempotency_key",
                           fields={HEADER: ["1–255 visible ASCII characters."]})
    return raw


@dataclass
class KeyMarker:
    """One request's Idempotency-Key, its fingerprint, and its Redis marker (see the module docstring).

    `owned` is True when this request set the marker, False when another request holds it, and None when
    Redis was not asked (not configured, paused after a failure, or failing): then the database decides.
    """

    store: MerchantStore
    key: str
    fingerprint: str
    owned: bool | None = None

    @property
    def redis_key(self) -> str:
        return f"store-api-idem:{self.store.tenant_id}:{self.store.pk}:{self.key}"

    def add_to(self, pipeline) -> None:
        """Queue the SET NX on the rate limit's pipeline; `took(reply)` reads its answer."""
        pipeline.set(self.redis_key, self.fingerprint, nx=True,
                     px=settings.STORE_API_IDEMPOTENCY_LOCK_SECONDS * 1000)

    def took(self, reply) -> None:
        self.owned = bool(reply)

    def holder_fingerprint(self) -> str | None:
        """The fingerprint of the request holding the marker, or None when it is gone (or Redis is)."""
        try:
            value = redis_client(settings.REDIS_URL).get(self.redis_key)
        except redis.RedisError as error:
            logger.warning("Idempotency marker not read (Redis: %s); the database decides", error)
            return None
        return value.decode() if value is not None else None

    def release(self) -> None:
        """Free the marker this request set (after an error answer)."""
        if not self.owned:
            return
        self.owned = None
        try:
            redis_client(settings.REDIS_URL).delete(self.redis_key)
        except redis.RedisError as error:  # it expires after the lock timeout anyway
            logger.warning("Idempotency marker %s not deleted (Redis: %s)", self.key, error)


def key_marker(request, store: MerchantStore) -> KeyMarker | None:
    """The request's key and fingerprint (None without a key; 400 for a malformed key or body)."""
    key = _key_from(request)
    if key is None:
        return None
    return KeyMarker(store, key, request_fingerprint(method=request.method, path=request.path, body=request.data))


def respond_idempotently(marker: KeyMarker | None,
                         produce: Callable[[Claim | FreshKey | None], HttpResponse]) -> HttpResponse:
    """Run `produce` once per (store, key); replay its successful answer for retries of the same request.

    `produce(claim)` must store its answer's rendered bytes on the claim in the same transaction (or
    statement) as its work — payments.services.idempotency.insert_completing — and answer with those very
    bytes, so a replay is byte-identical; it gets None when the request has no key.
    A marker this request set is freed by the view when it answers an error (OrderCreateView).
    """
    if marker is None:
        return produce(None)
    if marker.owned:
        try:
            return produce(FreshKey(marker.store, marker.key, marker.fingerprint))
        except KeyTaken:
            marker.release()  # the key's row decides, as without Redis
    if marker.owned is False:
        outcome = claim_held_idempotency_key(store=marker.store, key=marker.key, fingerprint=marker.fingerprint,
                                             holder_fingerprint=marker.holder_fingerprint)
    else:
        outcome = claim_idempotency_key(store=marker.store, key=marker.key, fingerprint=marker.fingerprint)
    if isinstance(outcome, Replay):
        return json_answer(outcome.response_content, status=outcome.response_status,
                           headers={REPLAYED_HEADER: "true"})
    try:
        return produce(outcome)
    except BaseException:
        release_idempotency_key(claim=outcome)
        raise
