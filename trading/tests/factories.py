"""Factories for trading rows. Call them inside tenant_context (the `in_tenant` fixture)."""

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from trading.models import (
    CopiedTrade,
    CopyDelivery,
    CopySettings,
    DeliveryKind,
    EAConnection,
    Exchange,
    ExchangeCredential,
    Fill,
    MasterTrade,
    Notification,
    NotificationKind,
    Order,
    OrderLeg,
    PaperExchangeState,
    Position,
    PositionSide,
    Signal,
    SignalAction,
    SignalSource,
    SyncLog,
    TelegramAccount,
    TradeSide,
    TradingAccount,
    TradingSettings,
)
from trading.services import accounts as account_services


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exchange

    name = factory.Sequence(lambda n: f"Binance {n}")
    ccxt_id = "binanceusdm"
    api_base_url = ""


class TradingAccountFactory(factory.django.DjangoModelFactory):
    """Made through the service, so keys, digests and the webhook secrets are real."""

    class Meta:
        model = TradingAccount

    user = factory.SubFactory(UserFactory)
    exchange = factory.SubFactory(ExchangeFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
    role = "follower"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        status = kwargs.pop("status", None)
        account = account_services.create_trading_account(actor=None, **kwargs)
        if status:
            TradingAccount.objects.filter(pk=account.pk).update(status=status)
            account.status = status
        return account


class ExchangeCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeCredential

    account = factory.SubFactory(TradingAccountFactory)
    api_key = factory.Sequence(lambda n: f"fakekey{n:08d}ABCD")
    secret = factory.Sequence(lambda n: f"fakesecret{n:08d}")
    api_key_last4 = factory.LazyAttribute(lambda o: o.api_key[-4:])


class TradingSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TradingSettings

    user = factory.SubFactory(UserFactory)
    risk_per_trade = Decimal("1")
    min_leverage = 1
    max_leverage = 10


class TelegramAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TelegramAccount

    user = factory.SubFactory(UserFactory)
    chat_id = factory.Sequence(lambda n: str(100000 + n))


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    account = factory.SubFactory(TradingAccountFactory)
    user = factory.LazyAttribute(lambda o: o.account.user)
    source = SignalSource.WEBHOOK
    action = SignalAction.BUY
    symbol = "BTCUSDT"
    price = Decimal("60000")
    stop_price = Decimal("59000")
    body_digest = factory.Sequence(lambda n: f"{n:064d}")


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    account = factory.SubFactory(TradingAccountFactory)
    user = factory.LazyAttribute(lambda o: o.account.user)
    symbol = factory.Sequence(lambda n: f"X{n}/USDT:USDT")
    side = PositionSide.LONG
    quantity = Decimal("0.010")
    entry_price = Decimal("60000")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(TradingAccountFactory)
    user = factory.LazyAttribute(lambda o: o.account.user)
    leg = OrderLeg.ENTRY
    client_order_id = factory.Sequence(lambda n: f"p2p-f{n}-entry")
    symbol = "BTC/USDT:USDT"
    side = "buy"
    type = "market"
    quantity = Decimal("0.010")


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    account = factory.SubFactory(TradingAccountFactory)
    exchange_trade_id = factory.Sequence(lambda n: f"t{n}")
    symbol = "BTC/USDT:USDT"
    side = "buy"
    price = Decimal("60000")
    quantity = Decimal("0.010")
    traded_at = factory.LazyFunction(timezone.now)


class SyncLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncLog

    account = factory.SubFactory(TradingAccountFactory)
    user = factory.LazyAttribute(lambda o: o.account.user)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    account = factory.SubFactory(TradingAccountFactory)
    user = factory.LazyAttribute(lambda o: o.account.user)
    kind = NotificationKind.SIGNAL_ACCEPTED
    text = "Signal accepted"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")


class PaperExchangeStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaperExchangeState

    account = factory.SubFactory(TradingAccountFactory)
    state = factory.LazyFunction(dict)


class MasterAccountFactory(TradingAccountFactory):
    role = "master"


class CopySettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CopySettings

    account = factory.SubFactory(TradingAccountFactory)


class MasterTradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MasterTrade

    master = factory.SubFactory(MasterAccountFactory)
    ticket = factory.Sequence(lambda n: 1000 + n)
    symbol = "EURUSD"
    side = TradeSide.BUY
    lots = Decimal("0.10")
    initial_lots = Decimal("0.10")
    open_price = Decimal("1.08500")


class CopyDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CopyDelivery

    follower = factory.SubFactory(TradingAccountFactory)
    master_trade = factory.SubFactory(MasterTradeFactory)
    kind = DeliveryKind.OPEN
    symbol = "EURUSD"
    side = TradeSide.BUY
    lots = Decimal("0.10")
    price = Decimal("1.08500")


class CopiedTradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CopiedTrade

    follower = factory.SubFactory(TradingAccountFactory)
    master_trade = factory.SubFactory(MasterTradeFactory)
    follower_ticket = factory.Sequence(lambda n: 5000 + n)
    symbol = "EURUSD"
    side = TradeSide.BUY
    lots = Decimal("0.10")


class EAConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EAConnection

    account = factory.SubFactory(TradingAccountFactory)
