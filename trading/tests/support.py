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


def make_trading_user(tenant, role_key: str = "trading_trader", **fields):
    """A person with a default membership in `tenant` and a trading role there, as sign-up makes one."""
    from accounts.tests.factories import UserFactory
    from tenancy.services import add_membership
    from tenancy.services.roles import assign_role

    user = UserFactory(**fields)
    add_membership(tenant=tenant, user=user, is_default=True)
    assign_role(tenant=tenant, user=user, role_key=role_key)
    return user
