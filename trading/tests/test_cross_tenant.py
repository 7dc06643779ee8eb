"""Cross-tenant: through the API and the webhook, no trading account, key, signal or position of one tenant is
visible or usable from another (PostgreSQL's RLS on the tables is tested by tenancy's RLS test)."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from tenancy.services import assign_role
from trading import selectors
from trading.models import (
    ExchangeCredential,
    ExchangeKind,
    Order,
    Position,
    Signal,
    SignalStatus,
    TradingAccount,
)

from .factories import (
    ExchangeCredentialFactory,
    ExchangeFactory,
    PositionFactory,
    SignalFactory,
    TradingAccountFactory,
    TradingSettingsFactory,
)


def trading_tenant(name: str, settings) -> dict:
    """A tenant with a trader who has a paper account, a credential, a signal and a position."""
    tenant = Tenant.objects.create(name=name)
    user = UserFactory()
    assign_role(tenant=tenant, user=user, role_key="trading_trader")
    with tenant_context(tenant):
        exchange = ExchangeFactory(name=f"Paper {name}", kind=ExchangeKind.PAPER, ccxt_id="paper")
        account = TradingAccountFactory(user=user, exchange=exchange)
        TradingSettingsFactory(user=user, require_stop_loss=False)
        credential = ExchangeCredentialFactory(account=account)
        signal = SignalFactory(account=account, status=SignalStatus.ACCEPTED)
        position = PositionFactory(account=account, signal=signal)
    return {"tenant": tenant, "user": user, "account": account, "credential": credential, "signal": signal,
            "position": position}


@pytest.fixture
def two(db, settings):
    settings.TRADING_PAPER_STEP_SECONDS = 3600
    return trading_tenant("Alpha Trading", settings), trading_tenant("Beta Trading", settings)


def api_as(user) -> APIClient:
    api = APIClient()
    tokens = api.post("/api/v1/auth/token", {"email": user.email, "password": TEST_PASSWORD}, format="json")
    assert tokens.status_code == 201, tokens.content
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}")
    return api


def signals_url(account) -> str:
    return f"/api/v1/trading/accounts/{account.pk}/signals"


def test_the_api_sends_signals_to_own_accounts_only(two, django_capture_on_commit_callbacks):
    a, b = two
    api = api_as(a["user"])

    foreign = api.post(signals_url(b["account"]), {"symbol": "BTCUSDT", "signal": "buy"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        own = api.post(signals_url(a["account"]), {"symbol": "BTCUSDT", "signal": "buy", "leverage": 2},
                       format="json")

    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert own.status_code == 202, own.content
    with tenant_context(b["tenant"]):
        assert list(Signal.objects.values_list("pk", flat=True)) == [b["signal"].pk]  # nothing reached B
    with tenant_context(a["tenant"]):
        signal = Signal.objects.get(pk=own.json()["signal_id"])
        assert signal.account_id == a["account"].pk and signal.status == SignalStatus.ACCEPTED, signal.reason
        assert Order.objects.filter(signal=signal).exists()


def test_a_member_of_both_tenants_acts_in_one_and_cannot_reach_the_others_account(two):
    a, b = two
    assign_role(tenant=b["tenant"], user=a["user"], role_key="trading_trader")
    with tenant_context(b["tenant"]):
        own_in_b = TradingAccountFactory(user=a["user"], exchange=b["account"].exchange)
    api = api_as(a["user"])  # acts in A, the user's default tenant

    response = api.post(signals_url(own_in_b), {"symbol": "BTCUSDT", "signal": "buy"}, format="json")

    assert response.status_code == 404
    with tenant_context(b["tenant"]):
        assert not Signal.objects.filter(account=own_in_b).exists()


def test_the_webhook_of_one_tenant_takes_nothing_signed_for_another(client, two):
    a, b = two
    body = {"symbol": "BTCUSDT", "signal": "buy", "stop_price": "1"}

    wrong = client.post(f"/hooks/signals/{b['account'].webhook_token_encrypted}",
                        data=json.dumps({**body, "passphrase": a["account"].webhook_passphrase}),
                        content_type="application/json")
    api_key_as_token = client.post(f"/hooks/signals/{b['account'].api_key_encrypted}",
                                   data=json.dumps({**body, "passphrase": b["account"].webhook_passphrase}),
                                   content_type="application/json")

    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_passphrase"
    assert api_key_as_token.status_code == 404
    for side in (a, b):
        with tenant_context(side["tenant"]):
            assert Signal.objects.count() == 1


@pytest.mark.django_db
def test_rows_of_another_tenant_are_invisible_in_this_one(two):
    a, b = two

    with tenant_context(a["tenant"]):
        seen = {
            "accounts": set(TradingAccount.objects.values_list("pk", flat=True)),
            "credentials": set(ExchangeCredential.objects.values_list("pk", flat=True)),
            "signals": set(Signal.objects.values_list("pk", flat=True)),
            "positions": set(Position.objects.values_list("pk", flat=True)),
            "b_accounts_of_b_user": list(selectors.accounts_of(b["user"])),
            "b_open_positions": list(selectors.open_positions(b["account"])),
            "b_signals": list(selectors.recent_signals(b["account"])),
        }

    assert seen["accounts"] == {a["account"].pk} and seen["credentials"] == {a["credential"].pk}
    assert seen["signals"] == {a["signal"].pk} and seen["positions"] == {a["position"].pk}
    assert seen["b_accounts_of_b_user"] == seen["b_open_positions"] == seen["b_signals"] == []
    assert b["position"].quantity == Decimal("0.010")  # B's rows exist; A just cannot see them
