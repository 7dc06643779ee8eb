"""What every payments admin shares: flag guards, the current tenant, audited plain edits.

Each ModelAdmin says which staff flags let a person view, add, change or delete
its rows; Django's own model permissions are not consulted, so the staff
profiles' flags are the final word here as everywhere (payments.permissions).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.utils.functional import cached_property
from django.utils.text import capfirst

from audit.services import field_changes
from core.money_display import money_html, rate_html
from core.pagination import LargeListPaginator
from payments.errors import PaymentsError
from payments.permissions import ANY_PAYMENTS_FLAG, has_any_flag
from payments.services.audit_trail import record
from tenancy.scoping import current_tenant_id


def _follow(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


def money_column(attr: str, currency: str, *, description: str, signed: bool = False, sortable: bool = True):
    """A list column showing `obj.<attr>` as money in `obj.<currency>` (core.money_display: separators, display
    precision, the exact value on hover). `currency` may be a dotted path (`balance.fiat_currency`)."""

    def column(self, obj):
        return money_html(getattr(obj, attr), _follow(obj, currency), signed=signed)

    column.short_description = description
    if sortable:
        column.admin_order_field = attr
    return column


# The date filter of the lists that grow with the orders. Django's date_hierarchy scans every row of the list
# for its years and months on each page view (a DISTINCT over 100 000 orders); this filter costs nothing.
CREATED = ("created_at", admin.DateFieldListFilter)


def shown_field(field, *, money: str | None = None, rate: tuple[str, str] | None = None):
    """A read-only field of a change form shown as money in the currency at `money` (a dotted path from the row),
    or as a rate of the `rate` (fiat path, crypto path) pair: the exact stored value stays on hover. Named and
    labelled as the field (its help text and CSS class too)."""

    def cell(obj):
        value = getattr(obj, field.name)
        if rate is not None:
            return rate_html(value, _follow(obj, rate[0]), _follow(obj, rate[1]))
        return money_html(value, _follow(obj, money))

    cell.__name__ = field.name
    cell.short_description = field.verbose_name
    return cell


class ReadOnlyMoneyMixin:
    """Amount fields that are read-only for this viewer (a flag they lack) shown as money — separators, the
    currency's code, the stored value on hover — instead of Django's bare number.

    `readonly_money`: amount field -> the dotted path of its currency from the row. Admins name their read-only
    fields in `readonly_names()`; the same shown_field() cell then replaces the field's name in the read-only
    fields and in the fieldsets alike, so the form leaves the field out: still never editable through it.
    """

    readonly_money: dict[str, str] = {}

    def readonly_names(self, request, obj=None) -> list:
        return list(self.readonly_fields)

    @cached_property
    def _money_cells(self) -> dict:
        field = self.model._meta.get_field
        return {name: shown_field(field(name), money=path) for name, path in self.readonly_money.items()}

    def get_readonly_fields(self, request, obj=None):
        return [self._money_cells.get(name, name) if isinstance(name, str) else name
                for name in self.readonly_names(request, obj)]

    def get_fieldsets(self, request, obj=None):
        shown = {cell.__name__: cell for cell in self.get_readonly_fields(request, obj)
                 if cell in self._money_cells.values()}
        return [(title, {**options, "fields": tuple(shown.get(name, name) if isinstance(name, str) else name
                                                     for name in options["fields"])})
                for title, options in super().get_fieldsets(request, obj)]


def in_tenant() -> bool:
    return current_tenant_id() is not None


class TenantScopedModelForm(forms.ModelForm):
    """Validates per-tenant unique constraints (the tenant is not a form field, so Django would skip them)."""

    def _post_clean(self):
        if getattr(self.instance, "tenant_id", None) is None and in_tenant():
            self.instance.tenant_id = current_tenant_id()
        super()._post_clean()

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if getattr(self.instance, "tenant_id", None) is not None:
            exclude.discard("tenant")
        return exclude


class FlagGuardedAdmin(admin.ModelAdmin):
    view_flags: tuple[str, ...] = ANY_PAYMENTS_FLAG
    add_flags: tuple[str, ...] = ()
    change_flags: tuple[str, ...] = ()
    delete_flags: tuple[str, ...] = ()
    form = TenantScopedModelForm
    list_per_page = 50
    # Long lists (orders, histories, callbacks) page ids first with a capped count (core.pagination); the
    # second count of the whole unfiltered table beside the filtered one is not made.
    paginator = LargeListPaginator
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_flags(self, request, flags: tuple[str, ...]) -> bool:
        return bool(flags) and has_any_flag(request.user, flags)

    def has_module_permission(self, request):
        return has_any_flag(request.user, ANY_PAYMENTS_FLAG)

    def has_view_permission(self, request, obj=None):
        return self.has_flags(request, self.view_flags + self.change_flags)

    def has_add_permission(self, request):
        return in_tenant() and self.has_flags(request, self.add_flags)

    def has_change_permission(self, request, obj=None):
        return in_tenant() and self.has_flags(request, self.change_flags)

    def has_delete_permission(self, request, obj=None):
        return in_tenant() and self.has_flags(request, self.delete_flags)

    def get_queryset(self, request):
        # No current tenant (e.g. a staff member without a membership): an empty list, never another tenant's rows.
        if not in_tenant():
            return self.model.objects.unscoped().none()
        return super().get_queryset(request)

    def get_list_filter(self, request):
        # Filters list related rows, which are tenant-scoped too: none without a tenant.
        return super().get_list_filter(request) if in_tenant() else ()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A business rule refusing the save shows as a message; the transaction is rolled back, nothing changed.

        (A flag a service checks again is already enforced by the fields shown, so its
        PermissionDenied stays a 403.)
        """
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PaymentsError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    # --- the pages of a row's own actions (rotate keys, reveal a number, change a status...) ---

    def object_or_404(self, request, object_id: str, message: str):
        """The row of an action page, through get_queryset (so in the current tenant only)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(message)
        return obj

    def page_context(self, request, **extra) -> dict:
        """The context of an action page: the admin's own (site header, sidebar) and the model's options."""
        return {**self.admin_site.each_context(request), "opts": self.opts, **extra}


class ReadOnlyAdmin(FlagGuardedAdmin):
    """Rows shown, not edited, in the form: every field read-only but the tenant (not shown).

    `hidden_fields` are not shown at all (a secret, a file served by a view of its own);
    changes, where there are any, go through the admin's own action pages and services.
    """

    hidden_fields: tuple[str, ...] = ()
    money_fields: dict[str, str] = {}  # amount field -> the dotted path of its currency from the row
    rate_fields: dict[str, tuple[str, str]] = {}  # rate field -> (fiat path, crypto path)

    def get_readonly_fields(self, request, obj=None):
        cells = self._shown_cells
        return [cells.get(field.name, field.name) for field in self.model._meta.fields
                if field.name != "tenant" and field.name not in self.hidden_fields] + list(self.readonly_fields)

    @cached_property
    def _shown_cells(self) -> dict:
        """shown_field() of each amount and rate, made once per admin: Django leaves read-only fields out of the
        form by identity, so the same function must come back on every call."""
        field = self.model._meta.get_field
        cells = {name: shown_field(field(name), money=path) for name, path in self.money_fields.items()}
        cells.update({name: shown_field(field(name), rate=pair) for name, pair in self.rate_fields.items()})
        return cells

    def get_exclude(self, request, obj=None):
        # Amounts and rates are shown by shown_field(), so their model fields must not become form fields.
        excluded = (*self.hidden_fields, *self.money_fields, *self.rate_fields)
        return excluded or super().get_exclude(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Nothing on the page is editable, so no Save buttons that would do nothing.
        context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False,
                       show_save_as_new=False)
        if obj is not None:
            context["title"] = capfirst(self.opts.verbose_name)  # not "Change …": its actions are the buttons
        return super().render_change_form(request, context, add, change, form_url, obj)


class AuditedAdmin(FlagGuardedAdmin):
    """Plain edits (reference data) written by the admin itself, recorded in the audit trail."""

    def save_model(self, request, obj, form, change):
        old = {}
        if change:
            current = type(obj)._base_manager.filter(pk=obj.pk).first()
            old = {name: getattr(current, name, None) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        new = {name: getattr(obj, name, None) for name in form.changed_data}
        action = f"{obj._meta.model_name}.{'changed' if change else 'created'}"
        record(action=action, target=obj, actor=request.user, description=str(obj),
               details={"changes": field_changes(old, new)})

    def delete_model(self, request, obj):
        record(action=f"{obj._meta.model_name}.deleted", target=obj, actor=request.user, description=str(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            record(action=f"{obj._meta.model_name}.deleted", target=obj, actor=request.user, description=str(obj))
        super().delete_queryset(request, queryset)
