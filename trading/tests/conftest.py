"""Fixtures of the trading tests: a tenant, a fake Binance on 127.0.0.1 driven by real ccxt, an account on it."""

from decimal import Decimal

import pytest

from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from trading.exchanges.client import reset_clients
from trading.testing.fake_binance import FakeBinance

from .factories import ExchangeCredentialFactory, ExchangeFactory, TradingAccountFactory, TradingSettingsFactory


@pytest.fixture
def tenant(db):
    return Tenant.objects.create(name="Trading Operator A")


@pytest.fixture
def other_tenant(db):
    return Tenant.objects.create(name="Trading Operator B")


@pytest.fixture
def in_tenant(tenant):
    with tenant_context(tenant):
        yield tenant


@pytest.fixture
def fake_binance(settings):
    """A fake Binance USDⓈ-M server; exchange calls time out fast and retry quickly against it."""
    settings.TRADING_EXCHANGE_TIMEOUT_MS = 1500
    settings.TRADING_EXCHANGE_RETRY_BASE_SECONDS = 0.05
    reset_clients()
    with FakeBinance() as fake:
        yield fake
    reset_clients()


@pytest.fixture
def trader(in_tenant, fake_binance):
    """An account on the fake exchange with an active key, 10 000 USDT, 1 % risk, leverage 1–10."""
    exchange = ExchangeFactory(name="Binance (fake)", api_base_url=fake_binance.base_url, requests_per_second=1000)
    account = TradingAccountFactory(exchange=exchange)
    fake_binance.add_account("fake-api-key-0001", "fake-secret", balance=Decimal("10000"))
    ExchangeCredentialFactory(account=account, api_key="fake-api-key-0001", secret="fake-secret")
    TradingSettingsFactory(user=account.user, risk_per_trade=Decimal("1"), min_leverage=1, max_leverage=10)
    return account


@pytest.fixture
def fake_telegram(settings):
    """A fake Bot API on 127.0.0.1 that the real client talks to; the bot configured for it, Telegram's
    per-chat interval shortened so tests do not wait a second per message."""
    from trading.telegram import rate_limit
    from trading.testing.fake_telegram import FakeTelegram

    with FakeTelegram(token="424242:TEST-bot-token") as fake:
        settings.TELEGRAM_BOT_API_URL = fake.base_url
        settings.TELEGRAM_BOT_TOKEN = fake.token
        settings.TELEGRAM_BOT_USERNAME = fake.username
        settings.TELEGRAM_WEBHOOK_SECRET = "test-webhook-secret_123"
        settings.TELEGRAM_CHAT_INTERVAL_SECONDS = 0.01
        settings.TELEGRAM_RETRY_BASE_SECONDS = 0.2
        rate_limit.reset_local()
        yield fake
