"""P2P payment processing tables, every one tenant-scoped and under RLS."""

from .balances import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    MovementKind,
)
from .execution import Appeal, CallbackAttempt, CallbackEvent
from .figures import MerchantDayFigures, TraderDayFigures
from .idempotency import IdempotencyKey
from .merchants import Merchant, MerchantStore, VerificationLevel
from .orders import AmountMismatch, IncomingOrder, OrderHistory, OrderType, StoreStatus, store_status
from .reference import (
    AvailableBankMethod,
    Bank,
    Country,
    CryptoCurrency,
    ExchangeRate,
    FiatCurrency,
    PaymentMethod,
    TimeZone,
)
from .traders import (
    FullRequisitesSettings,
    OwnerOfRequisites,
    ReqTrader,
    RequisiteStatus,
    RequisiteTurnover,
    Trader,
)
from .transfers import CryptoTransfer, TransferNetwork

__all__ = [
    "AmountMismatch",
    "Appeal",
    "CallbackAttempt",
    "CallbackEvent",
    "AvailableBankMethod",
    "BalanceStore",
    "BalanceStoreHistory",
    "BalanceTrader",
    "BalanceTraderCryptoHistory",
    "BalanceTraderFiatHistory",
    "Bank",
    "Country",
    "CryptoCurrency",
    "CryptoTransfer",
    "ExchangeRate",
    "FiatCurrency",
    "FullRequisitesSettings",
    "IdempotencyKey",
    "IncomingOrder",
    "MerchantDayFigures",
    "Merchant",
    "MerchantStore",
    "MovementKind",
    "OrderHistory",
    "OrderType",
    "OwnerOfRequisites",
    "PaymentMethod",
    "ReqTrader",
    "RequisiteStatus",
    "RequisiteTurnover",
    "StoreStatus",
    "Trader",
    "TraderDayFigures",
    "TransferNetwork",
    "TimeZone",
    "VerificationLevel",
    "store_status",
]
