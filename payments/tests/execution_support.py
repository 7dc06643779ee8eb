"""Helpers of the execution and ledger tests: funded traders and stores, held orders, small valid files."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from payments.models import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    MerchantStore,
    MovementKind,
    OrderHistory,
    OrderType,
    ReqTrader,
    Trader,
)
from payments.services import execution, ledger

from .factories import Refs, TraderFactory, make_assigned_order, make_requisite, make_store

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def png(name: str = "receipt.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def pdf(name: str = "receipt.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@dataclass
class World:
    refs: Refs
    store: MerchantStore
    trader: Trader
    requisite: ReqTrader


def make_world(refs: Refs, *, trader_crypto: str = "100", trader_fiat: str | None = None,
               store_crypto: str | None = None, trader: Trader | None = None,
               store: MerchantStore | None = None) -> World:
    """A store and a trader with an approved requisite; the trader's crypto (and optionally fiat and the
    store's crypto) deposited through the ledger."""
    store = store or make_store(refs)[0]
    trader = trader or TraderFactory()
    requisite = make_requisite(refs, trader=trader)
    fund(refs, trader=trader, crypto=trader_crypto, fiat=trader_fiat)
    if store_crypto:
        ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal(store_crypto),
                                   kind=MovementKind.DEPOSIT)
    return World(refs=refs, store=store, trader=trader, requisite=requisite)


def fund(refs: Refs, *, trader: Trader, crypto: str | None = None, fiat: str | None = None) -> None:
    if crypto:
        ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                           amount=Decimal(crypto), kind=MovementKind.DEPOSIT)
    if fiat:
        ledger.post_trader_fiat_movement(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                         amount=Decimal(fiat), kind=MovementKind.DEPOSIT)


def held_order(world: World, *, order_type: str = OrderType.PAY_IN, **overrides) -> OrderHistory:
    """An assigned order with its hold placed, as the assignment worker leaves it."""
    values = {"trader_commission": Decimal("0.27434842"), **overrides}
    order = make_assigned_order(world.store, world.requisite, order_type=order_type, **values)
    execution.place_order_hold(order=order)
    order.refresh_from_db()
    return order


def trader_balance(world: World) -> BalanceTrader:
    return BalanceTrader.objects.get(trader=world.trader, fiat_currency=world.refs.thb,
                                     crypto_currency=world.refs.usdt)


def store_balance(world: World) -> BalanceStore:
    return BalanceStore.objects.get_or_create(store=world.store, crypto_currency=world.refs.usdt)[0]


def order_movements(order: OrderHistory) -> dict:
    """{(table, kind): (amount, hold_change)} of the order's history rows."""
    rows = {}
    for table, model in (("store", BalanceStoreHistory), ("crypto", BalanceTraderCryptoHistory),
                         ("fiat", BalanceTraderFiatHistory)):
        for row in model.objects.filter(order=order):
            rows[(table, row.kind)] = (row.amount, getattr(row, "hold_change", None))
    return rows
