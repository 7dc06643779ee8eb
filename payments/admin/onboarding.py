"""Operator applications in the admin: staff of the operator review, approve or decline (with a reason).

The list shows the applications of the current tenant whose kind the staff member
may decide (can_manage_merchants: merchants, can_manage_traders: traders);
deciding goes through payments.services.onboarding.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin import ReadOnlyAdmin
from accounts.models import OperatorApplication
from core.errors import DomainError
from core.forms import add_domain_errors
from payments.permissions import MANAGE_MERCHANTS, MANAGE_TRADERS, has_any_flag
from payments.services import onboarding
from tenancy.scoping import current_tenant_id

from .base import CREATED

Status = OperatorApplication.Status


class ApplicationDecisionForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Sent to the applicant.")
    confirm = forms.BooleanField(label="I have reviewed the application", required=True)

    def __init__(self, *args, approving: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not approving:
            self.fields["reason"].required = True


@admin.register(OperatorApplication)
class OperatorApplicationAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "kind", "applicant", "company_or_banks", "status", "decided_by",
                    "decide_links")
    list_filter = ("status", "kind", CREATED)
    list_select_related = ("applicant", "decided_by")
    search_fields = ("applicant__email", "company", "site", "banks")
    list_per_page = 50
    readonly_fields = ("applicant", "tenant", "kind", "status", "company", "site", "expected_monthly_volume", "banks",
                       "methods", "currency", "note", "decided_by", "decided_at", "decision_reason", "created_at")
    fields = readonly_fields

    def has_module_permission(self, request):
        return has_any_flag(request.user, MANAGE_MERCHANTS + MANAGE_TRADERS)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or onboarding.may_decide(request.user, obj))

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        tenant_id = current_tenant_id()
        if tenant_id is None:
            return rows.none()
        rows = rows.filter(tenant_id=tenant_id)
        if not has_any_flag(request.user, MANAGE_MERCHANTS):
            rows = rows.exclude(kind=OperatorApplication.Kind.MERCHANT)
        if not has_any_flag(request.user, MANAGE_TRADERS):
            rows = rows.exclude(kind=OperatorApplication.Kind.TRADER)
        return rows

    @admin.display(description="Company / banks")
    def company_or_banks(self, obj):
        return obj.company if obj.kind == OperatorApplication.Kind.MERCHANT else f"{obj.banks} ({obj.currency})"

    @admin.display(description="Decide")
    def decide_links(self, obj):
        if obj.status != Status.PENDING:
            return "—"
        return format_html('<a href="{}">Approve</a> · <a href="{}">Decline</a>',
                           reverse("admin:accounts_operatorapplication_approve", args=[obj.pk]),
                           reverse("admin:accounts_operatorapplication_decline", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="accounts_operatorapplication_approve"),
            path("<path:object_id>/decline/", view(self.decline_view), name="accounts_operatorapplication_decline"),
            *super().get_urls(),
        ]

    def approve_view(self, request, object_id):
        return self._decide(request, object_id, approving=True)

    def decline_view(self, request, object_id):
        return self._decide(request, object_id, approving=False)

    def _decide(self, request, object_id, *, approving: bool):
        application = self.get_queryset(request).filter(pk=unquote(object_id)).first()
        if application is None:
            raise Http404("No such application.")
        if not onboarding.may_decide(request.user, application):
            raise PermissionDenied
        change_url = reverse("admin:accounts_operatorapplication_change", args=[application.pk])
        form = ApplicationDecisionForm(request.POST if request.method == "POST" else None, approving=approving)
        if request.method == "POST" and form.is_valid():
            try:
                if approving:
                    onboarding.approve_application(application=application, actor=request.user,
                                                   reason=form.cleaned_data["reason"])
                else:
                    onboarding.decline_application(application=application, actor=request.user,
                                                   reason=form.cleaned_data["reason"])
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                self.message_user(request, f"{application} {'approved' if approving else 'declined'}; "
                                           "the applicant gets an email.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        verb = "Approve" if approving else "Decline"
        context = {**self.admin_site.each_context(request), "opts": self.opts, "application": application,
                   "form": form, "change_url": change_url, "verb": verb, "approving": approving,
                   "title": f"{verb} {application}"}
        return TemplateResponse(request, "admin/accounts/operatorapplication/decide.html", context,
                                status=400 if form.errors else 200)
