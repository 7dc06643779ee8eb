"""Balances and their history in the admin: read-only (movements come from the ledger services)."""

from django.contrib import admin

from payments.models import (
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
)
from payments.permissions import EDIT_LIMITS, EDIT_TRADER_SETTINGS, MANAGE_MERCHANTS, VIEW_ORDERS

from .base import CREATED, ReadOnlyAdmin, money_column

STORE_BALANCE_FLAGS = MANAGE_MERCHANTS + EDIT_LIMITS + VIEW_ORDERS
TRADER_BALANCE_FLAGS = EDIT_TRADER_SETTINGS + EDIT_LIMITS + VIEW_ORDERS


@admin.register(BalanceStore)
class BalanceStoreAdmin(ReadOnlyAdmin):
    view_flags = STORE_BALANCE_FLAGS
    list_display = ("store", "balance_shown", "hold_shown", "available_shown", "updated_at")
    balance_shown = money_column("balance", "crypto_currency", description="balance")
    hold_shown = money_column("hold", "crypto_currency", description="hold")
    available_shown = money_column("available", "crypto_currency", description="available", sortable=False)
    money_fields = {"balance": "crypto_currency", "hold": "crypto_currency"}
    list_filter = ("crypto_currency",)
    list_select_related = ("store", "crypto_currency")
    search_fields = ("store__store_name",)


@admin.register(BalanceTrader)
class BalanceTraderAdmin(ReadOnlyAdmin):
    view_flags = TRADER_BALANCE_FLAGS
    list_display = ("trader", "fiat_shown", "crypto_shown", "hold_shown", "available_shown", "updated_at")
    fiat_shown = money_column("fiat_balance", "fiat_currency", description="fiat balance")
    crypto_shown = money_column("crypto_balance", "crypto_currency", description="crypto balance")
    hold_shown = money_column("crypto_hold", "crypto_currency", description="crypto hold")
    available_shown = money_column("crypto_available", "crypto_currency", description="crypto available",
                                   sortable=False)
    money_fields = {"crypto_balance": "crypto_currency", "crypto_hold": "crypto_currency",
                    "fiat_balance": "fiat_currency", "fiat_credit_limit": "fiat_currency"}
    list_filter = ("fiat_currency", "crypto_currency")
    list_select_related = ("trader", "fiat_currency", "crypto_currency")
    search_fields = ("trader__first_name", "trader__last_name", "trader__user__email")


class HistoryAdmin(ReadOnlyAdmin):
    list_filter = ("kind", CREATED)


@admin.register(BalanceStoreHistory)
class BalanceStoreHistoryAdmin(HistoryAdmin):
    view_flags = STORE_BALANCE_FLAGS
    list_display = ("created_at", "store", "kind", "amount_shown", "hold_shown", "after_shown", "order",
                    "description")
    list_select_related = ("store", "order", "balance__crypto_currency")
    amount_shown = money_column("amount", "balance.crypto_currency", description="amount", signed=True)
    hold_shown = money_column("hold_change", "balance.crypto_currency", description="hold change", signed=True)
    after_shown = money_column("balance_after", "balance.crypto_currency", description="balance after")
    money_fields = dict.fromkeys(("amount", "hold_change", "balance_after", "hold_after"), "balance.crypto_currency")
    search_fields = ("store__store_name", "=order__hash_id")


class BalanceTraderHistoryAdmin(HistoryAdmin):
    view_flags = TRADER_BALANCE_FLAGS
    list_select_related = ("trader", "order", "balance__fiat_currency", "balance__crypto_currency")
    search_fields = ("trader__last_name", "trader__user__email", "=order__hash_id")


@admin.register(BalanceTraderFiatHistory)
class BalanceTraderFiatHistoryAdmin(BalanceTraderHistoryAdmin):
    list_display = ("created_at", "trader", "kind", "amount_shown", "after_shown", "order", "description")
    amount_shown = money_column("amount", "balance.fiat_currency", description="amount", signed=True)
    after_shown = money_column("balance_after", "balance.fiat_currency", description="balance after")
    money_fields = dict.fromkeys(("amount", "balance_after"), "balance.fiat_currency")


@admin.register(BalanceTraderCryptoHistory)
class BalanceTraderCryptoHistoryAdmin(BalanceTraderHistoryAdmin):
    list_display = ("created_at", "trader", "kind", "amount_shown", "hold_shown", "after_shown", "order",
                    "description")
    amount_shown = money_column("amount", "balance.crypto_currency", description="amount", signed=True)
    hold_shown = money_column("hold_change", "balance.crypto_currency", description="hold change", signed=True)
    after_shown = money_column("balance_after", "balance.crypto_currency", description="balance after")
    money_fields = dict.fromkeys(("amount", "hold_change", "balance_after", "hold_after"), "balance.crypto_currency")
