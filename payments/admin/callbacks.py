"""Store callbacks in the admin: events and their attempts, read-only; a resend action for staff with a flag.

Seen by whoever may see orders or manage merchants; resending (a real HTTP call
to the store, recorded as a manual attempt and audited) needs one of
payments.callbacks.delivery.RESEND_FLAGS.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html

from payments.callbacks.delivery import RESEND_FLAGS, resend_callback
from payments.models import CallbackAttempt, CallbackEvent
from payments.permissions import MANAGE_MERCHANTS, VIEW_ORDERS, has_any_flag

from .base import CREATED, ReadOnlyAdmin

VIEW_CALLBACKS = tuple(dict.fromkeys(VIEW_ORDERS + MANAGE_MERCHANTS))
# One resend waits for the store's answer; more than this per click would hold the page too long.
MAX_RESEND_PER_ACTION = 20


class ReadOnlyCallbackAdmin(ReadOnlyAdmin):
    view_flags = VIEW_CALLBACKS


class CallbackAttemptInline(admin.TabularInline):
    model = CallbackAttempt
    fields = ("attempted_at", "manual", "status_code", "latency_ms", "error")
    readonly_fields = fields
    ordering = ("-attempted_at", "-id")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return has_any_flag(request.user, VIEW_CALLBACKS)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CallbackEvent)
class CallbackEventAdmin(ReadOnlyCallbackAdmin):
    list_display = ("event_id", "event_type", "store", "order_hash_id", "delivery", "attempts", "last_status_code",
                    "next_attempt_at", "delivered_at", "created_at")
    list_filter = ("status", "event_type", "store", "last_status_code", CREATED)
    list_select_related = ("store", "incoming_order")
    search_fields = ("=event_id", "=incoming_order__hash_id", "=incoming_order__client_id", "store__store_name")
    readonly_fields = ("payload_pretty",)
    hidden_fields = ("payload",)  # shown pretty-printed
    inlines = (CallbackAttemptInline,)
    actions = ("resend_events",)

    @admin.display(description="order", ordering="incoming_order__hash_id")
    def order_hash_id(self, obj):
        return obj.incoming_order.hash_id if obj.incoming_order_id else "—"

    @admin.display(description="status", ordering="status")
    def delivery(self, obj):
        """A store with no callback URL reads "Not configured", not a failure after 0 tries."""
        return obj.delivery_label

    @admin.display(description="body")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False))

    def has_resend_permission(self, request):
        return self.has_flags(request, RESEND_FLAGS)

    @admin.action(description="Resend now (waits for the store's answer)", permissions=["resend"])
    def resend_events(self, request, queryset):
        if not self.has_resend_permission(request):
            raise PermissionDenied
        events = list(queryset.select_related("store")[:MAX_RESEND_PER_ACTION + 1])
        if len(events) > MAX_RESEND_PER_ACTION:
            self.message_user(request, f"Select at most {MAX_RESEND_PER_ACTION} events to resend at once.",
                              messages.ERROR)
            return
        delivered, failed = 0, []
        for event in events:
            attempt = resend_callback(event=event, actor=request.user)
            if attempt.error:
                failed.append(f"{event.event_id}: {attempt.error}")
            else:
                delivered += 1
        if delivered:
            self.message_user(request, f"{delivered} event(s) delivered.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, f"Not delivered — {line}", messages.WARNING)


@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(ReadOnlyCallbackAdmin):
    list_display = ("attempted_at", "event", "event_type", "store", "manual", "status_code", "latency_ms", "error")
    list_filter = ("manual", "status_code", "event__event_type", "event__store",
                   ("attempted_at", admin.DateFieldListFilter))
    list_select_related = ("event__store",)
    search_fields = ("=event__event_id", "=event__incoming_order__hash_id")

    @admin.display(description="type", ordering="event__event_type")
    def event_type(self, obj):
        return obj.event.event_type

    @admin.display(description="store", ordering="event__store__store_name")
    def store(self, obj):
        return obj.event.store
