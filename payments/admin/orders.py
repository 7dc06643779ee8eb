"""Orders and appeals in the admin: seen with `can_view_orders`, acted on through services by flag.

Rows are read-only here; every change goes through a service, which checks the
flag again and audits:
- incoming orders not yet assigned: cancel (`can_manage_orders`);
- assigned orders: change the status by hand within the transition table, with
  a reason (`can_manage_orders`); a PayOut's customer requisite is shown to
  `can_view_sensitive_data` (audited); receipts open for whoever sees the order;
- appeals: resolve by completing or cancelling the order (`can_handle_appeals`).
Each order's page shows its audit trail, its balance movements and its appeals beside it.
"""

import mimetypes

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from audit.models import AuditLog
from core.forms import add_domain_errors
from core.money_display import money_html
from payments.errors import PaymentsError
from payments.models import (
    Appeal,
    BalanceStoreHistory,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    CallbackEvent,
    IncomingOrder,
    OrderHistory,
    OrderType,
    StoreStatus,
)
from payments.models.orders import store_status_condition
from payments.permissions import HANDLE_APPEALS, MANAGE_ORDERS, VIEW_ORDERS, VIEW_SENSITIVE
from payments.services import execution, staff_orders
from payments.services.execution import REASON_MAX
from payments.services.orders import cancel_incoming_order

from .base import CREATED, ReadOnlyAdmin, money_column

RECEIPT_FIELDS = {"customer": "customer_receipt", "trader": "trader_receipt"}


class ReadOnlyOrderAdmin(ReadOnlyAdmin):
    view_flags = VIEW_ORDERS
    change_flags = MANAGE_ORDERS


def _serve_file(field_file):
    if not field_file:
        raise Http404("No file.")
    content_type = mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    response = FileResponse(field_file.open("rb"), content_type=content_type)
    add_never_cache_headers(response)
    return response


class StoreStatusFilter(admin.SimpleListFilter):
    """The lifecycle status the store sees (payments.models.StoreStatus), across intake and execution."""

    title = "status"
    parameter_name = "lifecycle"

    def lookups(self, request, model_admin):
        return StoreStatus.choices

    def queryset(self, request, queryset):
        if self.value() in StoreStatus.values:
            return queryset.filter(store_status_condition(self.value()))
        return queryset


class IntakeStatusFilter(admin.ChoicesFieldListFilter):
    title = "intake status"


@admin.register(IncomingOrder)
class IncomingOrderAdmin(ReadOnlyOrderAdmin):
    list_display = ("hash_id", "order_type", "lifecycle_status", "intake_status", "store", "fiat_amount",
                    "crypto_amount", "retry_count", "created_at")
    list_filter = (StoreStatusFilter, ("status", IntakeStatusFilter), "order_type", "fiat_currency", "crypto_currency",
                   CREATED)
    list_select_related = ("store", "fiat_currency", "crypto_currency", "assigned_order")
    search_fields = ("=hash_id", "=client_id", "=customer_id", "store__store_name")
    hidden_fields = ("customer_requisite",)
    money_fields = {"amount_fiat": "fiat_currency", "total_fiat": "fiat_currency", "amount_crypto": "crypto_currency",
                    "amount_currency": "crypto_currency", "store_commission": "crypto_currency"}
    rate_fields = {"exchange_rate": ("fiat_currency", "crypto_currency")}
    readonly_fields = ("assigned_order_link",)
    actions = ("cancel_orders",)

    @admin.display(description="status")
    def lifecycle_status(self, obj):
        """What the store sees (a completed order reads Completed); the intake row's own status is beside it."""
        return obj.store_status.label

    fiat_amount = money_column("total_fiat", "fiat_currency", description="fiat amount")
    crypto_amount = money_column("amount_currency", "crypto_currency", description="crypto amount")

    @admin.display(description="intake status", ordering="status")
    def intake_status(self, obj):
        return obj.get_status_display()

    @admin.display(description="assigned order")
    def assigned_order_link(self, obj):
        order = OrderHistory.objects.filter(incoming_order=obj).only("hash_id", "status").first()
        if order is None:
            return "—"
        return format_html('<a href="{}">{} ({})</a>', reverse("admin:payments_orderhistory_change", args=[order.pk]),
                           order.hash_id, order.get_status_display())

    @admin.action(description="Cancel… (only orders not yet assigned; asks for a reason)")
    def cancel_orders(self, request, queryset):
        if not self.has_flags(request, MANAGE_ORDERS):
            raise PermissionDenied
        form = ReasonForm(request.POST if request.POST.get("confirm") else None)
        if not form.is_valid():
            return confirmation_page(self, request, queryset, form, action_name="cancel_orders",
                                     label="Cancel orders not yet assigned",
                                     explanation="These orders are cancelled before any trader gets them; the "
                                                 "store gets a callback. Orders already assigned are left as "
                                                 "they are (change those from their own page).",
                                     submit="Cancel these orders")
        reason = form.cleaned_data["reason"]
        done, refused = 0, 0
        for order in queryset:
            try:
                cancel_incoming_order(order=order, actor=request.user, reason=reason)
                done += 1
            except PaymentsError:
                refused += 1
        if done:
            self.message_user(request, f"{done} order(s) cancelled.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} order(s) were already assigned or closed and were left as they "
                                       "are.", messages.WARNING)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Recorded in the audit trail with your name.")


def confirmation_page(model_admin, request, queryset, form, *, action_name: str, label: str, explanation: str,
                      submit: str, status: int | None = None):
    """The intermediate page of a list action: the selected rows, a reason, confirm or go back."""
    rows = list(queryset[:100])
    context = model_admin.page_context(
        request, title=label, action_label=label, explanation=explanation, items=[str(row) for row in rows],
        selected=[row.pk for row in rows], action_name=action_name, form=form, submit_label=submit,
        back_url=request.get_full_path())
    return TemplateResponse(request, "admin/payments/orderhistory/action.html", context,
                            status=status or (400 if form.is_bound else 200))


class ExtendExpiryForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=staff_orders.EXTEND_MAX_MINUTES, initial=30,
                                 help_text="Counted from the current deadline, or from now if it has passed.")
    reason = ReasonForm.base_fields["reason"]


REASSIGN_CHOICES = 200


class ReassignForm(forms.Form):
    requisite = forms.ModelChoiceField(queryset=None, label="Move to requisite")
    reason = ReasonForm.base_fields["reason"]

    def __init__(self, *args, order: OrderHistory, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["requisite"]
        field.queryset = staff_orders.reassign_candidates(order)
        # The list shows the best REASSIGN_CHOICES in assignment's order (an operator may have 100 000
        # requisites); the field still accepts any candidate, which the service checks again.
        field.widget.choices = [("", "---------")] + [
            (r.pk, f"{r} — {r.trader.user.email} · {r.method} · {r.bank}")
            for r in field.queryset[:REASSIGN_CHOICES]]


class ResendForm(forms.Form):
    only_undelivered = forms.BooleanField(required=False, initial=True, label="Only those not delivered yet")
    reason = ReasonForm.base_fields["reason"]


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    reason = forms.CharField(max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Recorded in the audit trail.")
    confirmed_fiat = forms.DecimalField(
        required=False, max_digits=20, decimal_places=2, min_value=0.01, label="Confirmed fiat amount",
        help_text="Only when completing: the amount actually paid, if it differs from the order's.")

    def __init__(self, *args, order: OrderHistory, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(OrderHistory.Status.choices)
        self.fields["status"].choices = [(value, labels[value]) for value in execution.allowed_targets(order.status)]


class ResolveAppealForm(forms.Form):
    resolution = forms.ChoiceField(choices=[(Appeal.Resolution.COMPLETED, "Complete the order"),
                                            (Appeal.Resolution.CANCELLED, "Cancel the order")],
                                   widget=forms.RadioSelect)
    note = forms.CharField(max_length=REASON_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="Recorded in the audit trail.")
    confirmed_fiat = forms.DecimalField(
        required=False, max_digits=20, decimal_places=2, min_value=0.01, label="Confirmed fiat amount",
        help_text="Only when completing: the amount actually paid, if it differs from the order's.")


@admin.register(OrderHistory)
class OrderHistoryAdmin(ReadOnlyOrderAdmin):
    list_display = ("hash_id", "order_type", "status", "store", "trader", "requisite", "fiat_amount",
                    "crypto_amount", "amount_mismatch", "expires_at", "created_at")
    list_filter = ("status", "order_type", "amount_mismatch", "fiat", "crypto_currency", "method", "bank", CREATED)
    list_select_related = ("store", "trader", "requisite", "fiat", "crypto_currency")
    search_fields = ("=hash_id", "=client_id", "=requisite__req_number_last4", "trader__user__email",
                     "store__store_name")
    hidden_fields = ("customer_receipt", "trader_receipt")
    money_fields = {"total_fiat": "fiat", "confirmed_fiat": "fiat", "amount_currency": "crypto_currency",
                    "store_commission": "crypto_currency", "trader_commission": "crypto_currency",
                    "confirmed_crypto": "crypto_currency", "hold_amount": "crypto_currency"}
    rate_fields = {"exchange_rate": ("fiat", "crypto_currency")}
    readonly_fields = ("receipts", "appeals_list", "ledger_movements", "audit_trail")
    actions = ("cancel_selected",)

    fiat_amount = money_column("total_fiat", "fiat", description="fiat amount")
    crypto_amount = money_column("amount_currency", "crypto_currency", description="crypto amount")

    # --- beside the order: receipts, appeals, movements, audit trail ---

    @admin.display(description="receipts")
    def receipts(self, obj):
        links = [(reverse("admin:payments_orderhistory_receipt", args=[obj.pk, which]), f"{which} receipt")
                 for which, field in RECEIPT_FIELDS.items() if getattr(obj, field)]
        return format_html_join(" · ", '<a href="{}">{}</a>', links) if links else "—"

    @admin.display(description="appeals")
    def appeals_list(self, obj):
        appeals = Appeal.objects.filter(order=obj).order_by("-created_at", "-id")
        if not appeals:
            return "—"
        return format_html_join(
            mark_safe("<br>"), '<a href="{}">#{} {} by {} ({})</a>',
            ((reverse("admin:payments_appeal_change", args=[a.pk]), a.pk, a.get_status_display(),
              a.get_opened_by_role_display(), a.created_at.strftime("%Y-%m-%d %H:%M")) for a in appeals))

    @admin.display(description="balance movements")
    def ledger_movements(self, obj):
        rows = []
        for label, model in (("store", BalanceStoreHistory), ("trader crypto", BalanceTraderCryptoHistory),
                             ("trader fiat", BalanceTraderFiatHistory)):
            for row in model.objects.filter(order=obj).order_by("id"):
                hold = getattr(row, "hold_change", None)
                crypto = label != "trader fiat"
                currency = obj.crypto_currency if crypto else obj.fiat
                rows.append((row.created_at.strftime("%Y-%m-%d %H:%M:%S"), label, row.get_kind_display(),
                             money_html(row.amount, currency, signed=True) if row.amount else "",
                             money_html(hold, currency, signed=True) if hold else "",
                             money_html(row.balance_after, currency)))
        if not rows:
            return "—"
        return format_html(
            "<table><thead><tr><th>when</th><th>balance</th><th>kind</th><th>amount</th><th>hold</th>"
            "<th>after</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                             rows))

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        appeal_ids = [str(pk) for pk in Appeal.objects.filter(order=obj).values_list("pk", flat=True)]
        entries = (AuditLog.objects.filter(tenant_id=obj.tenant_id)
                   .filter(Q(target_entity="order_history", target_id=str(obj.pk))
                           | Q(target_entity="incoming_orders", target_id=str(obj.incoming_order_id))
                           | Q(target_entity="order_appeals", target_id__in=appeal_ids))
                   .order_by("timestamp", "id")[:200])
        if not entries:
            return "—"
        return format_html(
            "<table><thead><tr><th>when (UTC)</th><th>who</th><th>action</th><th>what</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((e.timestamp.strftime("%Y-%m-%d %H:%M:%S"), e.actor_label or "system/customer",
                               e.action, e.description) for e in entries)))

    # --- actions ---

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/status/", view(self.change_status_view), name="payments_orderhistory_status"),
            path("<path:object_id>/reassign/", view(self.reassign_view), name="payments_orderhistory_reassign"),
            path("<path:object_id>/extend/", view(self.extend_view), name="payments_orderhistory_extend"),
            path("<path:object_id>/callbacks/", view(self.resend_view), name="payments_orderhistory_resend"),
            path("<path:object_id>/receipt/<str:which>/", view(self.receipt_view),
                 name="payments_orderhistory_receipt"),
            path("<path:object_id>/customer-requisite/", view(self.customer_requisite_view),
                 name="payments_orderhistory_customer_requisite"),
            *super().get_urls(),
        ]

    def _order_or_404(self, request, object_id) -> OrderHistory:
        return self.object_or_404(request, object_id, "No such order.")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        manager = obj is not None and self.has_flags(request, MANAGE_ORDERS)
        context["can_change_status"] = manager and bool(execution.allowed_targets(obj.status))
        context["can_reassign"] = manager and obj.status in staff_orders.REASSIGNABLE_STATUSES
        context["can_extend"] = manager and obj.status in execution.EXPIRING_STATUSES
        context["can_resend"] = manager and CallbackEvent.objects.filter(
            incoming_order_id=obj.incoming_order_id).exists()
        context["can_reveal_customer_requisite"] = (obj is not None and obj.order_type == OrderType.PAY_OUT
                                                    and self.has_flags(request, VIEW_SENSITIVE))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def change_status_view(self, request, object_id):
        if not self.has_flags(request, MANAGE_ORDERS):
            raise PermissionDenied
        order = self._order_or_404(request, object_id)
        change_url = reverse("admin:payments_orderhistory_change", args=[order.pk])
        form = StatusChangeForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                execution.set_order_status_by_staff(
                    order=order, status=form.cleaned_data["status"], actor=request.user,
                    reason=form.cleaned_data["reason"], confirmed_fiat=form.cleaned_data["confirmed_fiat"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                self.message_user(request, f"Order {order.hash_id} is now {form.cleaned_data['status']}.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = self.page_context(request, order=order, form=form, change_url=change_url,
                                    title=f"Change the status of {order}")
        return TemplateResponse(request, "admin/payments/orderhistory/change_status.html", context,
                                status=400 if form.errors else 200)

    def _managed_order(self, request, object_id) -> OrderHistory:
        if not self.has_flags(request, MANAGE_ORDERS):
            raise PermissionDenied
        return self._order_or_404(request, object_id)

    def _action_page(self, request, order, form, *, label: str, explanation: str, submit: str, items=()):
        change_url = reverse("admin:payments_orderhistory_change", args=[order.pk])
        context = self.page_context(request, order=order, form=form, change_url=change_url, back_url=change_url,
                                    title=f"{label}: {order}", action_label=label, explanation=explanation,
                                    submit_label=submit, items=list(items))
        return TemplateResponse(request, "admin/payments/orderhistory/action.html", context,
                                status=400 if form.errors else 200)

    def _done(self, request, order, text: str):
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payments_orderhistory_change", args=[order.pk]))

    def reassign_view(self, request, object_id):
        order = self._managed_order(request, object_id)
        form = ReassignForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                staff_orders.reassign_order(order=order, requisite=form.cleaned_data["requisite"],
                                            actor=request.user, reason=form.cleaned_data["reason"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                return self._done(request, order, f"{order} moved to requisite {form.cleaned_data['requisite']}.")
        return self._action_page(
            request, order, form, label="Reassign", submit="Move the order",
            explanation="The order moves to another approved requisite in its currency; the customer's pay page "
                        "shows the new one. A PayIn's hold moves to the new trader's crypto (refused if it does "
                        "not cover it). Only an order nobody has paid yet can move.")

    def extend_view(self, request, object_id):
        order = self._managed_order(request, object_id)
        form = ExtendExpiryForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                order = staff_orders.extend_order_expiry(order=order, minutes=form.cleaned_data["minutes"],
                                                         actor=request.user, reason=form.cleaned_data["reason"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                return self._done(request, order, f"{order} now expires {order.expires_at:%Y-%m-%d %H:%M} UTC.")
        return self._action_page(request, order, form, label="Extend expiry", submit="Give more time",
                                 explanation="The order stays open longer before the expiry sweeper closes it.")

    def resend_view(self, request, object_id):
        order = self._managed_order(request, object_id)
        form = ResendForm(request.POST or None, initial={"only_undelivered": True})
        events = list(staff_orders.order_callback_events(order)[:staff_orders.MAX_RESEND + 1])
        if request.method == "POST" and form.is_valid():
            try:
                result = staff_orders.resend_order_callbacks(
                    order=order, actor=request.user, reason=form.cleaned_data["reason"],
                    only_undelivered=form.cleaned_data["only_undelivered"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                for line in result.failed:
                    self.message_user(request, f"Not delivered — {line}", messages.WARNING)
                return self._done(request, order, f"{result.delivered} callback(s) delivered, "
                                                  f"{len(result.failed)} not.")
        items = [f"{e.event_type} · {e.get_status_display()} · {e.attempts} tries" for e in events]
        if not order.store.callback_url:
            items = ["The store has no callback URL: not configured, nothing to send."]
        return self._action_page(request, order, form, label="Resend callbacks", submit="Resend now", items=items,
                                 explanation="Each event is posted to the store again now, as a manual attempt "
                                             "(the page waits for the store's answers).")

    @admin.action(description="Cancel… (asks for a reason; releases the holds)")
    def cancel_selected(self, request, queryset):
        if not self.has_flags(request, MANAGE_ORDERS):
            raise PermissionDenied
        form = ReasonForm(request.POST if request.POST.get("confirm") else None)
        if not form.is_valid():
            return confirmation_page(self, request, queryset, form, action_name="cancel_selected",
                                     label="Cancel orders",
                                     explanation="Each order is cancelled within the transition table and its hold "
                                                 "released; the store gets a callback. Closed orders are left as "
                                                 "they are.", submit="Cancel these orders")
        done, refused = 0, []
        for order in queryset:
            try:
                execution.set_order_status_by_staff(order=order, status=OrderHistory.Status.CANCELLED,
                                                    actor=request.user, reason=form.cleaned_data["reason"])
                done += 1
            except PaymentsError as exc:
                refused.append(f"{order}: {exc.message}")
        if done:
            self.message_user(request, f"{done} order(s) cancelled.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Left as it is — {line}", messages.WARNING)
        return None

    def receipt_view(self, request, object_id, which):
        if not self.has_view_permission(request) or which not in RECEIPT_FIELDS:
            raise PermissionDenied
        order = self._order_or_404(request, object_id)
        return _serve_file(getattr(order, RECEIPT_FIELDS[which]))

    def customer_requisite_view(self, request, object_id):
        if not self.has_flags(request, VIEW_SENSITIVE):
            raise PermissionDenied
        order = self._order_or_404(request, object_id)
        change_url = reverse("admin:payments_orderhistory_change", args=[order.pk])
        context = self.page_context(request, order=order, change_url=change_url,
                                    title=f"Customer requisite of {order}")
        if request.method == "POST":
            reason = (request.POST.get("reason") or "").strip()[:200]
            try:
                context["number"] = execution.reveal_customer_requisite(order=order, viewer=request.user,
                                                                        reason=reason)
            except PaymentsError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
        response = TemplateResponse(request, "admin/payments/orderhistory/customer_requisite.html", context)
        add_never_cache_headers(response)
        return response


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    view_flags = VIEW_ORDERS
    change_flags = HANDLE_APPEALS
    list_display = ("pk", "order", "opened_by_role", "status", "resolution", "created_at", "resolved_at")
    list_filter = ("status", "opened_by_role", "resolution", CREATED)
    list_select_related = ("order",)
    search_fields = ("=order__hash_id", "reason")
    hidden_fields = ("order", "evidence")  # shown as links
    readonly_fields = ("order_link", "order_status", "evidence_link")

    @admin.display(description="order")
    def order_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:payments_orderhistory_change", args=[obj.order_id]),
                           obj.order)

    @admin.display(description="order status")
    def order_status(self, obj):
        return obj.order.get_status_display()

    @admin.display(description="evidence")
    def evidence_link(self, obj):
        if not obj.evidence:
            return "—"
        return format_html('<a href="{}">open</a>', reverse("admin:payments_appeal_evidence", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/resolve/", view(self.resolve_view), name="payments_appeal_resolve"),
            path("<path:object_id>/evidence/", view(self.evidence_view), name="payments_appeal_evidence"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_resolve"] = (obj is not None and obj.status == Appeal.Status.OPEN
                                  and self.has_flags(request, HANDLE_APPEALS))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _appeal_or_404(self, request, object_id) -> Appeal:
        return self.object_or_404(request, object_id, "No such appeal.")

    def resolve_view(self, request, object_id):
        if not self.has_flags(request, HANDLE_APPEALS):
            raise PermissionDenied
        appeal = self._appeal_or_404(request, object_id)
        change_url = reverse("admin:payments_appeal_change", args=[appeal.pk])
        form = ResolveAppealForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                execution.resolve_appeal(appeal=appeal, actor=request.user,
                                         resolution=form.cleaned_data["resolution"], note=form.cleaned_data["note"],
                                         confirmed_fiat=form.cleaned_data["confirmed_fiat"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                self.message_user(request, f"Appeal #{appeal.pk} resolved.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = self.page_context(request, appeal=appeal, form=form, change_url=change_url,
                                    title=f"Resolve appeal #{appeal.pk} on {appeal.order}")
        return TemplateResponse(request, "admin/payments/appeal/resolve.html", context,
                                status=400 if form.errors else 200)

    def evidence_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _serve_file(self._appeal_or_404(request, object_id).evidence)
