"""The audit log in Django admin: read-only; full for staff with can_view_full_logs, otherwise one's own actions."""

import json

from django.contrib import admin
from django.utils.html import format_html

from audit.models import AuditLog
from tenancy.authz import has_flag


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "actor_label", "action", "target_entity", "target_id", "ip_address",
                    "description")
    list_filter = (
        ("actor", admin.RelatedOnlyFieldListFilter),
        "action",
        "target_entity",
        ("timestamp", admin.DateFieldListFilter),
        ("tenant", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "timestamp"
    search_fields = ("action", "target_entity", "target_id", "description", "actor_label")
    fields = ("timestamp", "actor_label", "actor_id", "tenant_id", "ip_address", "action", "target_entity",
              "target_id", "description", "details_pretty")
    readonly_fields = fields
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description="details")
    def details_pretty(self, obj: AuditLog) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True, ensure_ascii=False))

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if has_flag(request.user, "can_view_full_logs"):
            return queryset
        return queryset.filter(actor_id=request.user.pk)

    def get_actions(self, request):
        return {}

    def has_view_permission(self, request, obj=None) -> bool:
        if not request.user.has_perm("audit.view_auditlog"):
            return False
        return obj is None or obj.actor_id == request.user.pk or has_flag(request.user, "can_view_full_logs")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
