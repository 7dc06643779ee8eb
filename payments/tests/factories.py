"""Factories for payments rows. Call them inside tenant_context (the `in_tenant` fixture)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from itertools import count

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from payments.models import (
    AvailableBankMethod,
    BalanceTrader,
    Bank,
    Country,
    CryptoCurrency,
    CryptoTransfer,
    FiatCurrency,
    IncomingOrder,
    Merchant,
    OrderHistory,
    OrderType,
    PaymentMethod,
    Trader,
)
from payments.services import merchants as merchant_services
from payments.services import order_state, turnover
from payments.services import requisites as requisite_services
from tenancy.authz.permissions import ADMIN_FLAGS, SUPPORT_FLAGS
from tenancy.models import AdminProfile, Membership, Role, SupportProfile

_numbers = count(1)


def next_card_number() -> str:
    """A distinct 16-digit number per call, easy to search for in pages and logs."""
    return f"9{next(_numbers):015d}"


@dataclass
class Refs:
    country: Country
    thb: FiatCurrency
    rub: FiatCurrency
    usdt: CryptoCurrency
    bank: Bank
    bank2: Bank
    card: PaymentMethod
    promptpay: PaymentMethod


def make_reference_data() -> Refs:
    country = Country.objects.create(code="TH", name="Thailand")
    refs = Refs(
        country=country,
        thb=FiatCurrency.objects.create(code="THB", name="Thai baht", country=country),
        rub=FiatCurrency.objects.create(code="RUB", name="Russian ruble"),
        usdt=CryptoCurrency.objects.create(code="USDT", name="Tether", network="TRC20"),
        bank=Bank.objects.create(name="Kasikornbank", country=country),
        bank2=Bank.objects.create(name="Siam Commercial Bank", country=country),
        card=PaymentMethod.objects.create(code="card", name="Card transfer"),
        promptpay=PaymentMethod.objects.create(code="promptpay", name="PromptPay"),
    )
    for bank in (refs.bank, refs.bank2):
        for method in (refs.card, refs.promptpay):
            AvailableBankMethod.objects.create(bank=bank, method=method)
    return refs


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    user = factory.SubFactory(UserFactory)
    first_name = "Mila"
    last_name = factory.Sequence(lambda n: f"Merchant{n}")


class TraderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trader

    user = factory.SubFactory(UserFactory)
    first_name = "Tomas"
    last_name = factory.Sequence(lambda n: f"Trader{n}")
    trafic_priority = 5
    in_work = True
    pay_in = True
    pay_out = True


def make_store(refs: Refs, merchant: Merchant | None = None, **overrides):
    """(store, raw private key) made by the service, as production does."""
    options = {"store_name": f"Store {next(_numbers)}", "crypto_currency": refs.usdt, "fiat_currency": refs.thb,
               "lower_limit": Decimal("100.00"), "upper_limit": Decimal("50000.00"), **overrides}
    return merchant_services.create_store(merchant=merchant or MerchantFactory(), **options)


def make_requisite(refs: Refs, trader: Trader | None = None, number: str | None = None, **overrides):
    options = {"fiat": refs.thb, "method": refs.card, "bank": refs.bank, "status": "approve",
               "settings": {"pay_in": True, "pay_out": True}, **overrides}
    return requisite_services.create_requisite(trader=trader or TraderFactory(),
                                               req_number=number or next_card_number(), **options)


def make_incoming_order(store, **overrides) -> IncomingOrder:
    values = {"merchant": store.merchant, "store": store, "fiat_currency": store.fiat_currency,
              "crypto_currency": store.crypto_currency, "order_type": OrderType.PAY_IN,
              "amount_fiat": Decimal("1000.00"), "total_fiat": Decimal("1000.00"),
              "amount_currency": Decimal("27.43484225"), "exchange_rate": Decimal("36.45"),
              "store_commission": Decimal("0.54869684"), "client_id": f"client-{next(_numbers)}", **overrides}
    values.setdefault("state", values.get("status", IncomingOrder.Status.NEW))
    return IncomingOrder.objects.create(**values)


def make_assigned_order(store, requisite, *, status=OrderHistory.Status.PENDING, order_type=OrderType.PAY_IN,
                        **overrides) -> OrderHistory:
    incoming = make_incoming_order(store, order_type=order_type, status=IncomingOrder.Status.ASSIGNED)
    values = {"incoming_order": incoming, "hash_id": incoming.hash_id, "client_id": incoming.client_id,
              "trader": requisite.trader, "requisite": requisite, "merchant": store.merchant, "store": store,
              "method": requisite.method, "bank": requisite.bank, "crypto_currency": store.crypto_currency,
              "fiat": requisite.fiat, "order_type": order_type, "exchange_rate": incoming.exchange_rate,
              "amount_currency": incoming.amount_currency, "total_fiat": incoming.total_fiat,
              "store_commission": incoming.store_commission, "trader_commission": Decimal("0.1"),
              "status": status, "expires_at": timezone.now() + timedelta(minutes=30), **overrides}
    order = OrderHistory.objects.create(**values)
    # Written directly (not by assignment): the requisite's kept turnover is recounted from order_history, and
    # the merchant's state follows the execution row.
    turnover.recount([requisite.pk], today=turnover.utc_day(timezone.now()))
    order_state.follow_execution(order)
    return order


def make_staff(tenant, flags, *, kind: str | None = None, password: str | None = None):
    """An active staff user, member of `tenant`, whose profile has exactly `flags` on."""
    flags = set(flags)
    kind = kind or ("support" if flags <= set(SUPPORT_FLAGS) else "admin")
    user = UserFactory(is_staff=True, password=password)
    if kind == "admin":
        unknown = flags - set(ADMIN_FLAGS)
        assert not unknown, f"not admin flags: {unknown}"
        AdminProfile.objects.create(user=user, username=user.email, role=Role.objects.get(key="admin_limited"),
                                    **{flag: flag in flags for flag in ADMIN_FLAGS})
    else:
        unknown = flags - set(SUPPORT_FLAGS)
        assert not unknown, f"not support flags: {unknown}"
        SupportProfile.objects.create(user=user, username=user.email, role=Role.objects.get(key="support_readonly"),
                                      **{flag: flag in flags for flag in SUPPORT_FLAGS})
    Membership.objects.create(tenant=tenant, user=user, is_default=True)
    return user


_transfer_codes = count(1)


def _transfer_balance() -> BalanceTrader:
    """A trader balance in a pair of its own (the RLS test builds one transfer row per tenant)."""
    n = next(_transfer_codes)
    letters = "".join(chr(65 + (n // 26 ** i) % 26) for i in (2, 1, 0))
    fiat = FiatCurrency.objects.create(code=letters, name=f"Fiat {letters}")
    coin = CryptoCurrency.objects.create(code=f"T{letters}", name=f"Coin {letters}")
    return BalanceTrader.objects.create(trader=TraderFactory(), fiat_currency=fiat, crypto_currency=coin)


class CryptoTransferFactory(factory.django.DjangoModelFactory):
    """A trader's pending top-up (holds nothing); the services make real ones."""

    class Meta:
        model = CryptoTransfer

    direction = "top_up"
    trader_balance = factory.LazyFunction(_transfer_balance)
    amount = Decimal("12.5")
    network = "TRC20"
    address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    requested_by = factory.SubFactory(UserFactory)
