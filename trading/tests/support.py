"""Helpers of the trading tests."""

import json

from trading.models import Signal


def post_signal(client, account, captured, **fields):
    """POST a JSON signal to the account's webhook with its passphrase; run what it queued (the task, then
    the reconciliation after placement). Returns the response."""
    body = {"passphrase": account.webhook_passphrase, **fields}
    with captured(execute=True):
        return client.post(f"/hooks/signals/{account.webhook_token_encrypted}", data=json.dumps(body),
                           content_type="application/json")


def last_signal(account) -> Signal:
    return Signal.objects.filter(account=account).order_by("-id").first()
