"""Signal trading (seeds 000 and 001): exchanges, accounts and their keys, settings, signals, orders,
positions, fills, sync logs, the notification outbox and copy trading. Every table is tenant-scoped under RLS."""

from .accounts import (
    AccountRole,
    AccountStatus,
    CopyMode,
    CredentialStatus,
    Exchange,
    ExchangeCredential,
    ExchangeKind,
    TradingAccount,
    TradingSettings,
)
from .copytrade import (
    CopiedTrade,
    CopiedTradeStatus,
    CopyDelivery,
    CopySettings,
    DeliveryKind,
    DeliveryStatus,
    EAConnection,
    LotMode,
    MasterTrade,
    MasterTradeStatus,
    TradeSide,
)
from .execution import (
    CloseReason,
    Fill,
    Order,
    OrderLeg,
    OrderStatus,
    PaperExchangeState,
    Position,
    PositionSide,
    PositionStatus,
    SyncLog,
)
from .notifications import Notification, NotificationKind, NotificationStatus, TelegramAccount, TelegramLinkCode
from .signals import Signal, SignalAction, SignalSource, SignalStatus

__all__ = [
    "CopiedTrade", "CopiedTradeStatus", "CopyDelivery", "CopySettings", "DeliveryKind", "DeliveryStatus",
    "EAConnection", "LotMode", "MasterTrade", "MasterTradeStatus", "TradeSide",
    "AccountRole", "AccountStatus", "CloseReason", "CopyMode", "CredentialStatus", "Exchange", "ExchangeCredential",
    "ExchangeKind", "Fill", "Notification", "NotificationKind", "NotificationStatus", "Order", "OrderLeg",
    "OrderStatus", "PaperExchangeState", "Position", "PositionSide", "PositionStatus", "Signal", "SignalAction",
    "SignalSource", "SignalStatus", "SyncLog", "TelegramAccount", "TelegramLinkCode", "TradingAccount",
    "TradingSettings",
]
