"""The `Idempotency-Key` header of POST /api/v1/payins and /payouts (services: payments.services.idempotency)."""

import re
from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.response import Response

from config.api_errors import DomainError
from payments.models import MerchantStore
from payments.services.idempotency import (
    Claim,
    Replay,
    claim_idempotency_key,
    release_idempotency_key,
    request_fingerprint,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}\Z")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER, location=OpenApiParameter.HEADER, required=False, type=str,
    description=(
        "Any unique string you choose (1–255 visible ASCII characters, e.g. a UUID). Retrying the same request "
        "with the same key returns the first answer — same status and body, with header "
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
        raise DomainError("Idempotency-Key must be 1–255 visible ASCII characters.", code="invalid_idempotency_key",
                          fields={HEADER: ["1–255 visible ASCII characters."]},
                          status_code=status.HTTP_400_BAD_REQUEST)
    return raw


def respond_idempotently(request, store: MerchantStore, produce: Callable[[Claim | None], Response]) -> Response:
    """Run `produce` once per (store, key); replay its successful answer for retries of the same request.

    `produce(claim)` must store its answer on the claim in the same transaction (or statement) as its
    work — payments.services.idempotency.insert_completing; it gets None when the request has no key.
    """
    key = _key_from(request)
    if key is None:
        return produce(None)
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    outcome = claim_idempotency_key(store=store, key=key, fingerprint=fingerprint)
    if isinstance(outcome, Replay):
        return Response(outcome.response_body, status=outcome.response_status, headers={REPLAYED_HEADER: "true"})
    try:
        return produce(outcome)
    except BaseException:
        release_idempotency_key(claim=outcome)
        raise
