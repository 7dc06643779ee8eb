"""Apply to an operator as a merchant or trader, and see how one's applications stand."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import OperatorApplication
from accounts.services import onboarding
from core.errors import DomainError
from core.forms import add_domain_errors


class ApplicationForm(forms.Form):
    kind = forms.ChoiceField(label="I want to work as", choices=OperatorApplication.Kind.choices,
                             widget=forms.RadioSelect, initial=OperatorApplication.Kind.MERCHANT)
    tenant = forms.ModelChoiceField(label="Operator", queryset=onboarding.open_tenants(), empty_label=None)
    company = forms.CharField(label="Company", max_length=200, required=False,
                              help_text="Merchants: the legal name of the business.")
    site = forms.CharField(label="Site", max_length=300, required=False, help_text="Merchants: https://…")
    expected_monthly_volume = forms.CharField(label="Expected volume a month", max_length=100, required=False,
                                              help_text="Merchants: e.g. 50,000 USDT.")
    banks = forms.CharField(label="Banks", max_length=300, required=False,
                            help_text="Traders: the banks you hold accounts with.")
    methods = forms.CharField(label="Payment methods", max_length=300, required=False,
                              help_text="Traders: e.g. card, PromptPay.")
    currency = forms.CharField(label="Currency", max_length=3, required=False, help_text="Traders: e.g. THB.")
    note = forms.CharField(label="Anything else", max_length=2000, required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))


@login_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                application = onboarding.submit_application(applicant=request.user, **data)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"Application #{application.pk} sent to {application.tenant.name}. "
                                          "You will get an email when it is decided.")
                return redirect("accounts:apply")
        status = 400
    return render(request, "accounts/apply.html", {
        "form": form, "applications": list(onboarding.applications_of(request.user)),
        "open": form.fields["tenant"].queryset.exists(),
    }, status=status)
