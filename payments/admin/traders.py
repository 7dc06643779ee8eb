"""Traders, owners and requisites in the admin.

Flags: trader profiles `can_manage_traders`; switches, priority, requisites and
distribution controls `can_edit_trader_settings` (or `can_manage_traders`);
limits `can_edit_limits` (or `can_edit_trader_settings`); the whole requisite
number `can_view_sensitive_data`, one audited reveal at a time. Numbers are
masked everywhere else and the number input never echoes what was typed.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers

from payments.errors import PaymentsError
from payments.models import FullRequisitesSettings, OwnerOfRequisites, ReqTrader, Trader
from payments.permissions import (
    EDIT_REQUISITE_LIMITS,
    EDIT_TRADER_SETTINGS,
    MANAGE_TRADERS,
    VIEW_SENSITIVE,
    has_any_flag,
)
from payments.services import requisites as requisite_services
from payments.services import traders as trader_services
from payments.services.requisites import SETTINGS_LIMITS, SETTINGS_SWITCHES
from payments.services.traders import TRADER_LIMITS, TRADER_PROFILE, TRADER_SETTINGS
from tenancy.models import Tenant
from tenancy.scoping import current_tenant_id

from .base import AuditedAdmin, FlagGuardedAdmin, ReadOnlyMoneyMixin, TenantScopedModelForm, money_column
from .merchants import _adopt

TRADER_FLAGS = MANAGE_TRADERS + EDIT_TRADER_SETTINGS + EDIT_REQUISITE_LIMITS


@admin.register(Trader)
class TraderAdmin(ReadOnlyMoneyMixin, FlagGuardedAdmin):
    view_flags = TRADER_FLAGS
    add_flags = MANAGE_TRADERS
    change_flags = TRADER_FLAGS
    list_display = ("__str__", "user_email", "in_work", "pay_in", "pay_out", "trafic_priority",
                    "pay_in_limit_shown", "pay_out_limit_shown", "requisite_count")
    pay_in_limit_shown = money_column("base_pay_in_limit", "preferred_fiat_currency", description="base PayIn limit")
    pay_out_limit_shown = money_column("base_pay_out_limit", "preferred_fiat_currency",
                                       description="base PayOut limit")
    list_filter = ("in_work", "pay_in", "pay_out", "verification_level", "preferred_fiat_currency")
    list_select_related = ("user", "preferred_fiat_currency")
    search_fields = ("first_name", "last_name", "user__email")
    raw_id_fields = ("user",)
    fieldsets = (
        (None, {"fields": ("user",) + TRADER_PROFILE}),
        ("Work and distribution", {"fields": TRADER_SETTINGS + ("trafic_priority",),
                                   "description": "Changing the traffic priority re-syncs the distribution "
                                                  "weight of every requisite of this trader."}),
        ("Limits and commissions", {"fields": TRADER_LIMITS}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = ("created_at", "updated_at")
    readonly_money = {"base_pay_in_limit": "preferred_fiat_currency", "base_pay_out_limit": "preferred_fiat_currency"}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(requisite_total=Count("requisites"))

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="requisites", ordering="requisite_total")
    def requisite_count(self, obj):
        return obj.requisite_total

    def readonly_names(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("user")
            if not self.has_flags(request, MANAGE_TRADERS):
                fields.extend(TRADER_PROFILE)
        if not self.has_flags(request, EDIT_TRADER_SETTINGS):
            fields.extend(TRADER_SETTINGS + ("trafic_priority",))
        if not self.has_flags(request, EDIT_REQUISITE_LIMITS):
            fields.extend(TRADER_LIMITS)
        return fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in form.changed_data}
            trader_services.update_trader(trader=obj, changes=changes, actor=request.user)
            return
        saved = trader_services.create_trader(
            tenant=Tenant.objects.get(pk=current_tenant_id()), user=data["user"],
            first_name=obj.first_name, last_name=obj.last_name, verification_level=obj.verification_level,
            trafic_priority=obj.trafic_priority, preferred_fiat_currency=obj.preferred_fiat_currency,
            crypto_currency=obj.crypto_currency, time_zone=obj.time_zone, actor=request.user)
        rest = {name: data[name] for name in form.changed_data
                if name in TRADER_SETTINGS + TRADER_LIMITS + ("avatar_url",)}
        if rest:
            trader_services.update_trader(trader=saved, changes=rest, actor=request.user)
        _adopt(obj, saved)


@admin.register(OwnerOfRequisites)
class OwnerOfRequisitesAdmin(AuditedAdmin):
    view_flags = TRADER_FLAGS
    add_flags = change_flags = EDIT_TRADER_SETTINGS
    list_display = ("full_name", "trader", "created_at")
    list_select_related = ("trader",)
    search_fields = ("full_name", "trader__last_name", "trader__user__email")


class RequisiteForm(TenantScopedModelForm):
    """The number is typed into a field that never renders a value back, and is never a model field here."""

    new_req_number = forms.CharField(
        label="Number", required=False, max_length=64, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Card, account or phone number. Stored encrypted; only its last 4 digits are shown.")
    change_reason = forms.CharField(
        label="Reason", required=False, max_length=200,
        help_text="Recorded in the audit trail with a weight override or an exclusion change.")

    # No Meta: the admin builds the form class per request (fields from the fieldsets); a class built at
    # import would query the tenant-scoped related tables before any tenant is set.

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "new_req_number" not in self.fields:
            return
        if self.instance.pk is None:
            self.fields["new_req_number"].required = True
        else:
            self.fields["new_req_number"].label = "New number"
            self.fields["new_req_number"].help_text = (
                f"Now {self.instance.masked_number}. Leave empty to keep it.")

    def clean(self):
        """The service's own checks, run early so a refusal is a form error with the input kept."""
        data = super().clean()
        raw = data.get("new_req_number") or ""
        method = data.get("method") or (self.instance.method if self.instance.method_id else None)
        bank = data.get("bank") or (self.instance.bank if self.instance.bank_id else None)
        try:
            if raw:
                number = requisite_services.check_requisite_number(raw)
                if method is not None:
                    requisite_services.ensure_unique_number(tenant_id=current_tenant_id(), method=method,
                                                            number=number, exclude_pk=self.instance.pk)
            if method is not None and bank is not None and ("method" in self.changed_data
                                                            or "bank" in self.changed_data):
                requisite_services.ensure_bank_offers_method(bank, method)
        except PaymentsError as exc:
            field = next(iter(exc.fields), None)
            target = {"req_number": "new_req_number"}.get(field, field)
            self.add_error(target if target in self.fields else None, exc.message)
        return data

    def _post_clean(self):
        if self.instance.pk is None and self.instance.distribution_weight is None:
            trader = self.cleaned_data.get("trader")
            self.instance.distribution_weight = trader.trafic_priority if trader else 0
        super()._post_clean()


class RequisiteSettingsInline(ReadOnlyMoneyMixin, admin.StackedInline):
    model = FullRequisitesSettings
    form = TenantScopedModelForm
    can_delete = False
    max_num = 1
    min_num = 1
    fields = SETTINGS_SWITCHES + SETTINGS_LIMITS
    readonly_money = dict.fromkeys(("lower_limit", "upper_limit", "total_limit", "turnover_day_max"), "requisite.fiat")

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return has_any_flag(request.user, EDIT_TRADER_SETTINGS + EDIT_REQUISITE_LIMITS)

    def has_delete_permission(self, request, obj=None):
        return False

    def readonly_names(self, request, obj=None):
        fields = []
        if not has_any_flag(request.user, EDIT_TRADER_SETTINGS):
            fields.extend(SETTINGS_SWITCHES)
        if not has_any_flag(request.user, EDIT_REQUISITE_LIMITS):
            fields.extend(SETTINGS_LIMITS)
        return fields


@admin.register(ReqTrader)
class ReqTraderAdmin(FlagGuardedAdmin):
    view_flags = TRADER_FLAGS + VIEW_SENSITIVE
    add_flags = EDIT_TRADER_SETTINGS
    change_flags = EDIT_TRADER_SETTINGS + EDIT_REQUISITE_LIMITS
    form = RequisiteForm
    list_display = ("number", "trader", "owner_of_requisites", "bank", "method", "fiat", "status",
                    "distribution_weight", "is_excluded_from_distribution", "last_used_at")
    list_filter = ("status", "is_excluded_from_distribution", "fiat", "method", "bank")
    list_select_related = ("trader", "owner_of_requisites", "bank", "method", "fiat")
    search_fields = ("=req_number_last4", "trader__first_name", "trader__last_name", "trader__user__email",
                     "owner_of_requisites__full_name")
    readonly_fields = ("number", "last_used_at", "created_at", "updated_at")
    actions = ("exclude_from_distribution", "return_to_distribution")
    PLAIN_FIELDS = ("status", "owner_of_requisites", "bank", "method", "fiat")

    @admin.display(description="number", ordering="req_number_last4")
    def number(self, obj):
        return obj.masked_number

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("trader", "owner_of_requisites", "fiat", "method", "bank",
                                       "new_req_number", "status")}),)
        editor = self.has_flags(request, EDIT_TRADER_SETTINGS)
        return (
            (None, {"fields": ("trader", "number") + (("new_req_number",) if editor else ())
                    + ("owner_of_requisites", "fiat", "method", "bank", "status")}),
            ("Distribution", {"fields": ("distribution_weight", "is_excluded_from_distribution")
                              + (("change_reason",) if editor else ()) + ("last_used_at",),
                              "description": "The weight follows the trader's traffic priority; an override "
                                             "lasts until the priority next changes."}),
            ("Dates", {"fields": ("created_at", "updated_at")}),
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("trader")
            if not self.has_flags(request, EDIT_TRADER_SETTINGS):
                fields.extend(self.PLAIN_FIELDS + ("distribution_weight", "is_excluded_from_distribution"))
        return fields

    def get_inlines(self, request, obj):
        return [RequisiteSettingsInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            saved = requisite_services.create_requisite(
                trader=data["trader"], fiat=data["fiat"], method=data["method"], bank=data["bank"],
                req_number=data["new_req_number"], owner_of_requisites=data.get("owner_of_requisites"),
                status=data["status"], actor=request.user)
            _adopt(obj, saved)
            return
        user, reason = request.user, data.get("change_reason", "")
        if data.get("new_req_number"):
            requisite_services.change_requisite_number(requisite=obj, req_number=data["new_req_number"],
                                                       actor=user)
        plain = {name: data[name] for name in form.changed_data if name in self.PLAIN_FIELDS}
        if plain:
            requisite_services.update_requisite(requisite=obj, changes=plain, actor=user)
        if "distribution_weight" in form.changed_data:
            requisite_services.set_distribution_weight(requisite=obj, distribution_weight=data["distribution_weight"],
                                                       actor=user, reason=reason)
        if "is_excluded_from_distribution" in form.changed_data:
            requisite_services.set_requisite_exclusion(requisite=obj, excluded=data["is_excluded_from_distribution"],
                                                       actor=user, reason=reason)

    def save_formset(self, request, form, formset, change):
        if formset.model is not FullRequisitesSettings:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            changes = {name: inline_form.cleaned_data[name] for name in inline_form.changed_data
                       if name in SETTINGS_SWITCHES + SETTINGS_LIMITS}
            if changes:
                saved = requisite_services.update_requisite_settings(requisite=form.instance, changes=changes,
                                                                     actor=request.user)
                formset.changed_objects.append((saved, list(changes)))

    def response_add(self, request, obj, post_url_continue=None):
        # Settings (switches, limits) are edited on the change page, which is where a new requisite goes next.
        self.message_user(request, f"Requisite {obj.masked_number} added; set its switches and limits below.",
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payments_reqtrader_change", args=[obj.pk]))

    @admin.action(description="Exclude from distribution")
    def exclude_from_distribution(self, request, queryset):
        self._set_exclusion(request, queryset, True)

    @admin.action(description="Return to distribution")
    def return_to_distribution(self, request, queryset):
        self._set_exclusion(request, queryset, False)

    def _set_exclusion(self, request, queryset, excluded: bool) -> None:
        if not self.has_flags(request, EDIT_TRADER_SETTINGS):
            raise PermissionDenied
        for requisite in queryset:
            requisite_services.set_requisite_exclusion(requisite=requisite, excluded=excluded,
                                                       actor=request.user, reason="admin bulk action")
        self.message_user(request, f"{len(queryset)} requisite(s) updated.", messages.SUCCESS)

    def get_urls(self):
        return [
            path("<path:object_id>/reveal-number/", self.admin_site.admin_view(self.reveal_number_view),
                 name="payments_reqtrader_reveal_number"),
            *super().get_urls(),
        ]

    def reveal_number_view(self, request, object_id):
        if not self.has_flags(request, VIEW_SENSITIVE):
            raise PermissionDenied
        requisite = self.object_or_404(request, object_id, "No such requisite.")
        context = self.page_context(request, requisite=requisite,
                                    title=f"Whole number of requisite {requisite.masked_number}",
                                    change_url=reverse("admin:payments_reqtrader_change", args=[requisite.pk]))
        if request.method == "POST":
            reason = (request.POST.get("reason") or "").strip()[:200]
            context["number"] = requisite_services.reveal_requisite_number(requisite=requisite,
                                                                           viewer=request.user, reason=reason)
        response = TemplateResponse(request, "admin/payments/reqtrader/reveal_number.html", context)
        add_never_cache_headers(response)
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_reveal_number"] = obj is not None and self.has_flags(request, VIEW_SENSITIVE)
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(FullRequisitesSettings)
class FullRequisitesSettingsAdmin(FlagGuardedAdmin):
    """A read-only overview; settings are edited on their requisite's page."""

    view_flags = TRADER_FLAGS
    list_display = ("requisite", "trader", "pay_in", "pay_out", "lower_limit_shown", "upper_limit_shown",
                    "total_limit_shown", "day_max_shown", "turnover_limit_minutes")
    lower_limit_shown = money_column("lower_limit", "requisite.fiat", description="lower limit")
    upper_limit_shown = money_column("upper_limit", "requisite.fiat", description="upper limit")
    total_limit_shown = money_column("total_limit", "requisite.fiat", description="total limit")
    day_max_shown = money_column("turnover_day_max", "requisite.fiat", description="turnover per day")
    list_filter = ("pay_in", "pay_out")
    list_select_related = ("requisite__trader", "requisite__fiat")
    search_fields = ("=requisite__req_number_last4", "requisite__trader__last_name")

    @admin.display(description="trader")
    def trader(self, obj):
        return obj.requisite.trader
