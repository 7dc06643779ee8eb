"""Helpers of the cabinet tests: owners made by the real services (membership + role), logins, files."""

import re
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory, web_login
from payments.models import MovementKind
from payments.services import ledger
from payments.services import merchants as merchant_services
from payments.services import traders as trader_services

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 64


def png(name: str = "receipt.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def not_an_image(name: str = "receipt.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"<html><script>alert(1)</script></html>", content_type="image/png")


def make_trader(tenant, refs=None, **changes):
    """A trader with membership and the `trader` role in `tenant`, as staff create one."""
    trader = trader_services.create_trader(tenant=tenant, user=UserFactory(), first_name="Tomas", last_name="Trader")
    changes = {"in_work": True, "pay_in": True, "pay_out": True, **changes}
    return trader_services.update_trader(trader=trader, changes=changes)


def make_merchant(tenant):
    return merchant_services.create_merchant(tenant=tenant, user=UserFactory(), first_name="Mila",
                                             last_name="Merchant")


def fund_trader(trader, refs, crypto: str = "1000") -> None:
    ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                       amount=Decimal(crypto), kind=MovementKind.DEPOSIT, description="deposit")


def login(client, user):
    web_login(client, user)
    return client


def text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def without_tokens(page: str) -> str:
    """The page without CSRF tokens (random text that could contain anything)."""
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", page)


# A Decimal printed raw (`0E-8`, `+0E-8`, `1.5E-7`) as a number of its own: a token that merely contains
# "3E-5" (a random hash id) has letters, `_` or `-` around it and does not match.
SCIENTIFIC = re.compile(r"(?<![\w.-])[+-]?\d+(?:\.\d+)?E[-+]?\d+(?![\w-])")


def money(shown: str, code: str, stored: str) -> str:
    """An amount as core.money_display shows it: `shown` and the code, the stored value on hover."""
    return f'<span class="money" title="{stored} {code}">{shown}\u00a0{code}</span>'


def fund_store(store, crypto: str = "1000") -> None:
    ledger.post_store_movement(store=store, crypto_currency=store.crypto_currency, amount=Decimal(crypto),
                               kind=MovementKind.DEPOSIT, description="deposit")


def open_order(store, requisite, *, order_type="pay_in", **overrides):
    """An assigned order holding its funds, as the assignment worker leaves it (balances funded first)."""
    from payments.services import execution

    from .factories import make_assigned_order

    if order_type == "pay_in":
        ledger.post_trader_crypto_movement(trader=requisite.trader, fiat_currency=requisite.fiat,
                                           crypto_currency=store.crypto_currency, amount=Decimal("100"),
                                           kind=MovementKind.DEPOSIT, description="deposit")
    else:
        fund_store(store, "100")
        ledger.post_trader_fiat_movement(trader=requisite.trader, fiat_currency=requisite.fiat,
                                         crypto_currency=store.crypto_currency, amount=Decimal("5000"),
                                         kind=MovementKind.DEPOSIT, description="deposit")
    order = make_assigned_order(store, requisite, order_type=order_type, **overrides)
    execution.place_order_hold(order=order)
    return order
