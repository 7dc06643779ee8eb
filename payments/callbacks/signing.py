"""Signing a callback: HMAC-SHA256 over "<timestamp>.<body>" with the store's secret (and the previous one
while its grace period after a rotation lasts), sent as `X-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`.

The secrets are never logged, stored in attempts or events, or put in the audit trail.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime

from payments.models import CallbackEvent, MerchantStore

SIGNATURE_HEADER = "X-Signature"


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """hex HMAC-SHA256(secret, "<timestamp>.<body>"), the `v1` value of the X-Signature header."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + raw, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per secret, the current one first."""
    return ",".join([f"t={int(timestamp)}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets if secret)])


def signing_secrets(store: MerchantStore, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period after a rotation lasts."""
    secrets = [store.secret_key]
    if (store.previous_secret_key and store.previous_secret_valid_until is not None
            and store.previous_secret_valid_until > now):
        secrets.append(store.previous_secret_key)
    return secrets


def event_body(event: CallbackEvent) -> bytes:
    """The bytes every attempt of the event sends (keys sorted, so the same row gives the same bytes)."""
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
