"""Store API credentials: formats and the keyed digest the private key is stored as."""

from core import crypto

PRIVATE_KEY_PURPOSE = "payments.store_private_api_key"
PRIVATE_KEY_PREFIX_LENGTH = 10


def private_key_digest(raw_key: str) -> str:
    return crypto.digest(raw_key, purpose=PRIVATE_KEY_PURPOSE)


def new_private_key() -> str:
    return f"sk_{crypto.new_token(32)}"


def new_public_key() -> str:
    return f"pk_{crypto.new_token(18)}"


def new_callback_secret() -> str:
    return f"whsec_{crypto.new_token(32)}"
