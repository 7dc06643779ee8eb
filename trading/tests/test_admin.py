"""Trading admin: every page renders, and no secret (exchange key/secret, sk_live_ key, webhook token,
passphrase) appears in any of them."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.tests.factories import UserFactory
from tenancy.models import Membership
from trading.models import ExchangeCredential, Signal, TradingAccount

from .factories import (
    ExchangeCredentialFactory,
    FillFactory,
    NotificationFactory,
    OrderFactory,
    PaperExchangeStateFactory,
    PositionFactory,
    SignalFactory,
    SyncLogFactory,
    TelegramAccountFactory,
    TradingAccountFactory,
    TradingSettingsFactory,
)


@pytest.mark.django_db
def test_trading_admin_pages_render_with_secrets_masked(client, in_tenant):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(tenant=in_tenant, user=superuser, is_default=True)
    account = TradingAccountFactory(role="master")
    credential = ExchangeCredentialFactory(account=account, api_key="EXCHKEY-SECRET-9999", secret="EXCHSECRET-XYZ")
    from trading.services.accounts import rotate_api_key

    raw_key = rotate_api_key(actor=None, account=account)
    account.refresh_from_db()
    for factory in (TradingSettingsFactory, TelegramAccountFactory, SyncLogFactory, NotificationFactory,
                    PaperExchangeStateFactory):
        factory(**({"user": account.user} if factory in (TradingSettingsFactory, TelegramAccountFactory)
                   else {"account": account}))
    SignalFactory(account=account)
    OrderFactory(account=account)
    PositionFactory(account=account)
    FillFactory(account=account)
    client.force_login(superuser)
    secrets = [credential.api_key, credential.secret, raw_key, account.webhook_token_encrypted,
               account.webhook_passphrase]

    rendered = 0
    for model, _model_admin in admin.site._registry.items():
        if model._meta.app_label != "trading":
            continue
        opts = model._meta
        pages = [reverse(f"admin:trading_{opts.model_name}_changelist")]
        obj = model.objects.order_by("-pk").first()
        if obj is not None:
            pages.append(reverse(f"admin:trading_{opts.model_name}_change", args=[obj.pk]))
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            body = response.content.decode()
            for secret in secrets:
                assert secret not in body, (page, secret[:6])
            rendered += 1
    assert rendered >= 24
    page = client.get(reverse("admin:trading_exchangecredential_change", args=[credential.pk])).content.decode()
    assert "•••• 9999" in page
    page = client.get(reverse("admin:trading_tradingaccount_change", args=[account.pk])).content.decode()
    assert f"sk_live_•••• {raw_key[-4:]}" in page
    assert ExchangeCredential.objects.count() == 1 and Signal.objects.count() == 1
    assert TradingAccount.objects.get(pk=account.pk).master_token.startswith("MST-")
