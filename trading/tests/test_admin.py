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


@pytest.mark.django_db
def test_staff_pause_and_resume_accounts_from_the_admin_audited(client, in_tenant):
    from audit.models import AuditLog
    from trading.models import AccountStatus

    staff = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(tenant=in_tenant, user=staff, is_default=True)
    one, two = TradingAccountFactory(), TradingAccountFactory(status=AccountStatus.PAUSED)
    client.force_login(staff)
    url = reverse("admin:trading_tradingaccount_changelist")

    response = client.post(url, {"action": "pause_accounts", "_selected_action": [one.pk, two.pk]}, follow=True)

    assert response.status_code == 200 and "1 account(s) paused; 1 were not active." in response.content.decode()
    one.refresh_from_db()
    assert one.status == AccountStatus.PAUSED and staff.email in one.pause_reason and one.paused_at
    paused = AuditLog.objects.get(action="trading.account_paused", target_id=str(one.pk))
    assert paused.actor_id == staff.pk and paused.tenant_id == in_tenant.pk

    response = client.post(url, {"action": "resume_accounts", "_selected_action": [one.pk, two.pk]}, follow=True)

    assert "2 account(s) resumed; 0 were not paused." in response.content.decode()
    assert set(TradingAccount.objects.filter(pk__in=[one.pk, two.pk]).values_list("status", flat=True)) == {
        AccountStatus.ACTIVE}
    assert AuditLog.objects.filter(action="trading.account_resumed", actor=staff).count() == 2
