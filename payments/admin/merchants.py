"""Merchants and stores in the admin (`can_manage_merchants`; store limits: `can_edit_limits`).

A new store's private API key, and a rotated one, is shown once on a page of
its own (never in a message, which would travel in a cookie) and then exists
only as a digest.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers

from payments.models import Merchant, MerchantStore
from payments.permissions import EDIT_LIMITS, MANAGE_MERCHANTS
from payments.services import merchants as merchant_services
from payments.services.merchants import STORE_LIMITS, STORE_SETTINGS
from tenancy.models import Tenant
from tenancy.scoping import current_tenant_id

from .base import FlagGuardedAdmin, ReadOnlyMoneyMixin, money_column


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved instance stand for the row a service saved (for redirects and the log)."""
    obj.pk = saved.pk
    obj.tenant_id = saved.tenant_id
    obj._state.adding = False
    obj._state.db = saved._state.db


@admin.register(Merchant)
class MerchantAdmin(FlagGuardedAdmin):
    view_flags = MANAGE_MERCHANTS + EDIT_LIMITS
    add_flags = change_flags = MANAGE_MERCHANTS
    list_display = ("__str__", "user_email", "verification_level", "store_count", "created_at")
    list_filter = ("verification_level",)
    list_select_related = ("user",)
    search_fields = ("first_name", "last_name", "user__email")
    raw_id_fields = ("user",)
    fields = ("user", "first_name", "last_name", "avatar_url", "verification_level", "created_at")
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(store_total=Count("stores"))

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="stores", ordering="store_total")
    def store_count(self, obj):
        return obj.store_total

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("user",) if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            merchant_services.update_merchant(merchant=obj, changes=changes, actor=request.user)
            return
        saved = merchant_services.create_merchant(
            tenant=Tenant.objects.get(pk=current_tenant_id()), user=form.cleaned_data["user"],
            first_name=obj.first_name, last_name=obj.last_name, avatar_url=obj.avatar_url,
            verification_level=obj.verification_level, actor=request.user)
        _adopt(obj, saved)


@admin.register(MerchantStore)
class MerchantStoreAdmin(ReadOnlyMoneyMixin, FlagGuardedAdmin):
    view_flags = MANAGE_MERCHANTS + EDIT_LIMITS
    add_flags = MANAGE_MERCHANTS
    change_flags = MANAGE_MERCHANTS + EDIT_LIMITS
    list_display = ("store_name", "merchant", "fiat_currency", "crypto_currency", "lower_limit_shown",
                    "upper_limit_shown", "pay_in_enabled", "pay_out_enabled", "access", "trafic_access", "key_hint")
    lower_limit_shown = money_column("lower_limit", "fiat_currency", description="lower limit")
    upper_limit_shown = money_column("upper_limit", "fiat_currency", description="upper limit")
    list_filter = ("access", "trafic_access", "pay_in_enabled", "pay_out_enabled", "fiat_currency",
                   "crypto_currency")
    list_select_related = ("merchant", "fiat_currency", "crypto_currency")
    search_fields = ("store_name", "public_api_key", "private_api_key_prefix", "merchant__user__email",
                     "merchant__last_name")
    fieldsets = (
        (None, {"fields": ("merchant", "store_name", "fiat_currency", "crypto_currency")}),
        ("Limits and commissions", {"fields": STORE_LIMITS}),
        ("Access", {"fields": ("pay_in_enabled", "pay_out_enabled", "access", "trafic_access",
                               "gateway_require_customer_id_param", "gateway_require_amount_param")}),
        ("Callbacks and keys", {"fields": ("callback_url", "public_api_key", "key_hint", "keys_rotated_at",
                                           "created_at")}),
    )
    readonly_fields = ("public_api_key", "key_hint", "keys_rotated_at", "created_at")
    readonly_money = {"lower_limit": "fiat_currency", "upper_limit": "fiat_currency"}

    @admin.display(description="private API key")
    def key_hint(self, obj):
        if not obj or not obj.pk:
            return "Shown once, after saving."
        return obj.private_api_key_hint

    def readonly_names(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("merchant")
            if not self.has_flags(request, EDIT_LIMITS):
                fields.extend(STORE_LIMITS)
            if not self.has_flags(request, MANAGE_MERCHANTS):
                fields.extend(STORE_SETTINGS)
        return fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in form.changed_data if name in STORE_SETTINGS + STORE_LIMITS}
            merchant_services.update_store(store=obj, changes=changes, actor=request.user)
            return
        saved, raw_key = merchant_services.create_store(
            merchant=data["merchant"], store_name=data["store_name"], crypto_currency=data["crypto_currency"],
            fiat_currency=data["fiat_currency"], lower_limit=data["lower_limit"], upper_limit=data["upper_limit"],
            pay_in_commission_percent=data["pay_in_commission_percent"],
            pay_out_commission_percent=data["pay_out_commission_percent"], callback_url=data["callback_url"],
            pay_in_enabled=data["pay_in_enabled"], pay_out_enabled=data["pay_out_enabled"], access=data["access"],
            trafic_access=data["trafic_access"],
            gateway_require_customer_id_param=data["gateway_require_customer_id_param"],
            gateway_require_amount_param=data["gateway_require_amount_param"], actor=request.user)
        _adopt(obj, saved)
        request.payments_new_store_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(request, "payments_new_store_key", None)
        if raw_key:
            return self._key_once_response(request, obj, raw_key, created=True)
        return super().response_add(request, obj, post_url_continue)

    def get_urls(self):
        return [
            path("<path:object_id>/rotate-keys/", self.admin_site.admin_view(self.rotate_keys_view),
                 name="payments_merchantstore_rotate_keys"),
            *super().get_urls(),
        ]

    def rotate_keys_view(self, request, object_id):
        if not self.has_flags(request, MANAGE_MERCHANTS):
            raise PermissionDenied
        store = self.object_or_404(request, object_id, "No such store.")
        if request.method == "POST":
            raw_key = merchant_services.rotate_store_keys(store=store, actor=request.user)
            return self._key_once_response(request, store, raw_key, created=False)
        context = self.page_context(request, store=store, title=f"Rotate the API key of {store.store_name}?")
        return TemplateResponse(request, "admin/payments/merchantstore/rotate_keys.html", context)

    def _key_once_response(self, request, store, raw_key: str, *, created: bool):
        context = self.page_context(request, store=store, raw_key=raw_key, created=created,
                                    title=f"API key of {store.store_name}",
                                    change_url=reverse("admin:payments_merchantstore_change", args=[store.pk]))
        response = TemplateResponse(request, "admin/payments/merchantstore/key_once.html", context)
        add_never_cache_headers(response)
        return response
