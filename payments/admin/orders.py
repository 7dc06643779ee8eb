"""Orders in the admin: seen with `can_view_orders`, acted on with `can_manage_orders`.

Rows are read-only here; status changes go through services (cancelling an
order that has no requisite yet is the one action of this stage).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from payments.errors import PaymentsError
from payments.models import IncomingOrder, OrderHistory
from payments.permissions import MANAGE_ORDERS, VIEW_ORDERS
from payments.services.orders import cancel_incoming_order

from .base import FlagGuardedAdmin


class ReadOnlyOrderAdmin(FlagGuardedAdmin):
    view_flags = VIEW_ORDERS
    change_flags = MANAGE_ORDERS
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "tenant"] + list(
            self.readonly_fields)


@admin.register(IncomingOrder)
class IncomingOrderAdmin(ReadOnlyOrderAdmin):
    list_display = ("hash_id", "order_type", "status", "store", "total_fiat", "fiat_currency", "amount_currency",
                    "crypto_currency", "retry_count", "created_at")
    list_filter = ("status", "order_type", "fiat_currency", "crypto_currency")
    list_select_related = ("store", "fiat_currency", "crypto_currency")
    search_fields = ("=hash_id", "=client_id", "=customer_id", "store__store_name")
    readonly_fields = ("assigned_order_link",)
    actions = ("cancel_orders",)

    @admin.display(description="assigned order")
    def assigned_order_link(self, obj):
        order = OrderHistory.objects.filter(incoming_order=obj).only("hash_id", "status").first()
        return f"{order.hash_id} ({order.get_status_display()})" if order else "—"

    @admin.action(description="Cancel (only orders not yet assigned)")
    def cancel_orders(self, request, queryset):
        if not self.has_flags(request, MANAGE_ORDERS):
            raise PermissionDenied
        done, refused = 0, 0
        for order in queryset:
            try:
                cancel_incoming_order(order=order, cancelled_by=request.user, reason="Cancelled by staff.")
                done += 1
            except PaymentsError:
                refused += 1
        if done:
            self.message_user(request, f"{done} order(s) cancelled.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} order(s) were already assigned or closed and were left as they "
                                       "are.", messages.WARNING)


@admin.register(OrderHistory)
class OrderHistoryAdmin(ReadOnlyOrderAdmin):
    list_display = ("hash_id", "order_type", "status", "store", "trader", "requisite", "total_fiat", "fiat",
                    "amount_currency", "crypto_currency", "created_at")
    list_filter = ("status", "order_type", "fiat", "crypto_currency", "method", "bank")
    list_select_related = ("store", "trader", "requisite", "fiat", "crypto_currency")
    search_fields = ("=hash_id", "=client_id", "=requisite__req_number_last4", "trader__user__email",
                     "store__store_name")
