"""The audit log in Django admin: read-only. Staff with can_view_full_logs see the entries of the tenants they
belong to (platform-wide entries, with no tenant, only a super admin); everyone else their own actions."""

import json

from django.apps import apps
from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from audit.models import AuditLog
from core.pagination import LargeListPaginator
from tenancy import authz


def visible_entries(user, queryset):
    """The part of the trail `user` may read (see the module docstring)."""
    if authz.is_super_admin(user):
        return queryset
    own = Q(actor_id=user.pk)
    if authz.has_flag(user, "can_view_full_logs"):
        return queryset.filter(own | Q(tenant_id__in=authz.member_tenant_ids(user)))
    return queryset.filter(own)


def _model_of_table(table: str):
    for model in apps.get_models():
        if model._meta.db_table == table:
            return model
    return None


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "actor_label", "action", "target_link", "ip_address", "description")
    # No actor filter (its choices were a DISTINCT over the whole trail: search by actor instead) and no
    # date_hierarchy (a scan of every row for its years); the trail pages ids first (core.pagination).
    list_filter = (
        "action",
        "target_entity",
        ("timestamp", admin.DateFieldListFilter),
        "tenant",
    )
    search_fields = ("action", "target_entity", "target_id", "description", "actor_label")
    fields = ("timestamp", "actor_label", "actor_id", "tenant_id", "ip_address", "action", "target_entity",
              "target_link", "description", "details_pretty")
    readonly_fields = fields
    list_per_page = 50
    paginator = LargeListPaginator
    show_full_result_count = False

    @admin.display(description="details")
    def details_pretty(self, obj: AuditLog) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True, ensure_ascii=False))

    @admin.display(description="target", ordering="target_id")
    def target_link(self, obj: AuditLog) -> str:
        """`entity #id`, linked to the target's admin page when it has one."""
        label = f"{obj.target_entity} #{obj.target_id}" if obj.target_id else obj.target_entity
        model = _model_of_table(obj.target_entity) if obj.target_id else None
        if model is None or not self.admin_site.is_registered(model):
            return label
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.target_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    def get_queryset(self, request):
        return visible_entries(request.user, super().get_queryset(request))

    def get_actions(self, request):
        return {}

    def has_view_permission(self, request, obj=None) -> bool:
        if not request.user.has_perm("audit.view_auditlog"):
            return False
        return obj is None or visible_entries(request.user, AuditLog.objects.filter(pk=obj.pk)).exists()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
