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

from .base import ReadOnlyAdmin

STORE_BALANCE_FLAGS = MANAGE_MERCHANTS + EDIT_LIMITS + VIEW_ORDERS
TRADER_BALANCE_FLAGS = EDIT_TRADER_SETTINGS + EDIT_LIMITS + VIEW_ORDERS


@admin.register(BalanceStore)
class BalanceStoreAdmin(ReadOnlyAdmin):
    view_flags = STORE_BALANCE_FLAGS
    list_display = ("store", "crypto_currency", "balance", "hold", "available", "updated_at")
    list_filter = ("crypto_currency",)
    list_select_related = ("store", "crypto_currency")
    search_fields = ("store__store_name",)


@admin.register(BalanceTrader)
class BalanceTraderAdmin(ReadOnlyAdmin):
    view_flags = TRADER_BALANCE_FLAGS
    list_display = ("trader", "fiat_currency", "fiat_balance", "crypto_currency", "crypto_balance", "crypto_hold",
                    "crypto_available", "updated_at")
    list_filter = ("fiat_currency", "crypto_currency")
    list_select_related = ("trader", "fiat_currency", "crypto_currency")
    search_fields = ("trader__first_name", "trader__last_name", "trader__user__email")


class HistoryAdmin(ReadOnlyAdmin):
    date_hierarchy = "created_at"
    list_filter = ("kind",)


@admin.register(BalanceStoreHistory)
class BalanceStoreHistoryAdmin(HistoryAdmin):
    view_flags = STORE_BALANCE_FLAGS
    list_display = ("created_at", "store", "kind", "amount", "balance_after", "order", "description")
    list_select_related = ("store", "order")
    search_fields = ("store__store_name", "=order__hash_id")


@admin.register(BalanceTraderFiatHistory, BalanceTraderCryptoHistory)
class BalanceTraderHistoryAdmin(HistoryAdmin):
    view_flags = TRADER_BALANCE_FLAGS
    list_display = ("created_at", "trader", "kind", "amount", "balance_after", "order", "description")
    list_select_related = ("trader", "order")
    search_fields = ("trader__last_name", "trader__user__email", "=order__hash_id")
