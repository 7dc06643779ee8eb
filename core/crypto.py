"""Secrets at rest: field encryption with rotatable keys, and one-way token digests.

`FIELD_ENCRYPTION_KEYS` is a list of Fernet keys: the first encrypts, all of them
decrypt, so a new key is put in front, `manage.py reencrypt_fields` is run, and
the old key is dropped afterwards.
"""

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64 bytes each); "
            "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def keyring() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    return _keyring(keys)


def encrypt(plaintext: str) -> str:
    return keyring().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return keyring().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret could not be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
            "was a key removed before `manage.py reencrypt_fields` ran?"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token under the first (newest) key."""
    return keyring().rotate(token.encode()).decode()


def digest(value: str, *, purpose: str) -> str:
    """Keyed, purpose-bound SHA-256 digest for tokens and codes stored hashed.

    Keyed with SECRET_KEY so a leaked table alone cannot be brute-forced for short
    codes; bound to a purpose so a digest of one kind never matches another.
    """
    key = f"{purpose}:{settings.SECRET_KEY}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def new_token(nbytes: int = 32) -> str:
    """A url-safe random token; 32 bytes = 256 bits."""
    return secrets.token_urlsafe(nbytes)


def mask(value: str | None, *, visible: int = 4) -> str:
    """Show only the last `visible` characters: '•••• 1234'."""
    if not value:
        return ""
    tail = value[-visible:] if len(value) > visible else value
    return f"•••• {tail}"
