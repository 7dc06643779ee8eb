"""Withdrawals and top-ups in the admin: read-only rows, approved or declined on their own pages.

Staff see the requests of the owners they manage (can_manage_merchants: stores'
withdrawals; can_manage_traders: traders' withdrawals and top-ups). Approving
or declining goes through payments.services.transfers (the ledger, the audit
trail); each asks for a confirmation, and declining for a reason.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.forms import add_domain_errors
from payments.errors import PaymentsError
from payments.models import CryptoTransfer
from payments.permissions import MANAGE_MERCHANTS, MANAGE_TRADERS
from payments.services import transfers

from .base import CREATED, ReadOnlyAdmin, money_column


class DecisionForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))
    tx_reference = forms.CharField(label="Transaction reference", max_length=128, required=False,
                                   help_text="The blockchain transaction that sent or brought the crypto.")
    confirm = forms.BooleanField(label="I have checked the address, the network and the amount", required=True)

    def __init__(self, *args, approving: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not approving:
            del self.fields["tx_reference"]
            self.fields["reason"].required = True
            self.fields["confirm"].label = "Decline this request"


@admin.register(CryptoTransfer)
class CryptoTransferAdmin(ReadOnlyAdmin):
    view_flags = MANAGE_MERCHANTS + MANAGE_TRADERS
    list_display = ("pk", "created_at", "direction", "owner", "amount_shown", "network", "status", "decided_by",
                    "decide_links")
    money_fields = {"amount": "balance.crypto_currency"}
    list_filter = ("status", "direction", "network", CREATED)
    list_select_related = ("store_balance__store", "store_balance__crypto_currency", "trader_balance__trader",
                           "trader_balance__crypto_currency", "decided_by")
    search_fields = ("address", "tx_reference", "store_balance__store__store_name", "trader_balance__trader__last_name",
                     "trader_balance__trader__user__email")

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if not self.has_flags(request, MANAGE_MERCHANTS):
            rows = rows.filter(store_balance__isnull=True)
        if not self.has_flags(request, MANAGE_TRADERS):
            rows = rows.filter(trader_balance__isnull=True)
        return rows

    @admin.display(description="Owner")
    def owner(self, obj):
        if obj.store_balance_id:
            return f"Store {obj.store_balance.store}"
        return f"Trader {obj.trader_balance.trader}"

    amount_shown = money_column("amount", "balance.crypto_currency", description="Amount")

    @admin.display(description="Decide")
    def decide_links(self, obj):
        if obj.status != CryptoTransfer.Status.PENDING:
            return "—"
        return format_html('<a href="{}">Approve</a> · <a href="{}">Decline</a>',
                           reverse("admin:payments_cryptotransfer_approve", args=[obj.pk]),
                           reverse("admin:payments_cryptotransfer_decline", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="payments_cryptotransfer_approve"),
            path("<path:object_id>/decline/", view(self.decline_view), name="payments_cryptotransfer_decline"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_decide"] = (obj is not None and obj.status == CryptoTransfer.Status.PENDING
                                 and transfers.may_decide(request.user, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def approve_view(self, request, object_id):
        return self._decide(request, object_id, approving=True)

    def decline_view(self, request, object_id):
        return self._decide(request, object_id, approving=False)

    def _decide(self, request, object_id, *, approving: bool):
        transfer = self.object_or_404(request, object_id, "No such request.")
        if not transfers.may_decide(request.user, transfer):
            raise PermissionDenied
        change_url = reverse("admin:payments_cryptotransfer_change", args=[transfer.pk])
        form = DecisionForm(request.POST if request.method == "POST" else None, approving=approving)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if approving:
                    transfers.approve_transfer(transfer=transfer, actor=request.user, reason=data["reason"],
                                               tx_reference=data["tx_reference"])
                else:
                    transfers.decline_transfer(transfer=transfer, actor=request.user, reason=data["reason"])
            except PaymentsError as exc:
                add_domain_errors(form, exc)
            else:
                done = "approved and settled" if approving else "declined"
                self.message_user(request, f"{transfer} {done}.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        verb = "Approve" if approving else "Decline"
        context = self.page_context(request, transfer=transfer, form=form, change_url=change_url, verb=verb,
                                    approving=approving, title=f"{verb} {transfer}")
        return TemplateResponse(request, "admin/payments/cryptotransfer/decide.html", context,
                                status=400 if form.errors else 200)
