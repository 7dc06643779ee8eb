"""Django admin for copy trading: master trades, deliveries, paired trades and EA connections (read-only:
the EAs write them), and copy options (editable). Imported by trading/admin.py."""

from django.contrib import admin

from trading.admin import ReadOnlyAdmin
from trading.models import CopiedTrade, CopyDelivery, CopySettings, EAConnection, MasterTrade


@admin.register(MasterTrade)
class MasterTradeAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "master", "symbol", "side", "initial_lots", "lots", "open_price", "status", "profit",
                    "opened_at", "closed_at")
    list_filter = ("status", "side")
    search_fields = ("ticket", "symbol", "master__name")


@admin.register(CopyDelivery)
class CopyDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "follower", "kind", "symbol", "side", "lots", "status", "reason", "follower_ticket",
                    "created_at", "acked_at")
    list_filter = ("status", "kind")
    search_fields = ("seq", "follower__name", "master_trade__ticket")


@admin.register(CopiedTrade)
class CopiedTradeAdmin(ReadOnlyAdmin):
    list_display = ("follower", "master_trade", "follower_ticket", "symbol", "side", "lots", "status", "profit",
                    "opened_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("follower__name", "follower_ticket", "master_trade__ticket")


@admin.register(EAConnection)
class EAConnectionAdmin(ReadOnlyAdmin):
    list_display = ("account", "connected", "server_id", "remote_addr", "last_seen_at", "balance", "equity")
    list_filter = ("connected",)


@admin.register(CopySettings)
class CopySettingsAdmin(admin.ModelAdmin):
    list_display = ("account", "listed", "lot_mode", "lot_value", "reverse", "max_delay_seconds")
    list_filter = ("listed", "lot_mode", "reverse")
    raw_id_fields = ("account",)
