"""The hosted payment page /pay/<hash_id>: what to pay and where, "I have paid", appeals. No login.

Each view finds the order's tenant from the hash id, then works inside that
tenant only. Responses are never cached (the page shows a whole card number
while the order waits for payment) and an unknown hash id is a plain 404 page.
"""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from payments.errors import PaymentsError
from payments.forms_pay import CustomerAppealForm, MarkPaidForm, add_service_errors
from payments.models import Appeal
from payments.selectors import payment_details_for_customer
from payments.selectors_pay import Stage, hosted_order, tenant_of_hash_id
from payments.services import execution
from tenancy.scoping import tenant_context


def _not_found(request):
    response = render(request, "pay/not_found.html", status=404)
    add_never_cache_headers(response)
    return response


def _page(request, hosted, *, paid_form=None, appeal_form=None, status=200):
    details = payment_details_for_customer(hosted.hash_id) if hosted.stage == Stage.PAY else None
    context = {
        "hosted": hosted, "details": details, "stage": hosted.stage, "Stage": Stage,
        "paid_form": paid_form or MarkPaidForm(), "appeal_form": appeal_form or CustomerAppealForm(),
        "polls": hosted.stage in (Stage.WAITING, Stage.PAID, Stage.DISPUTED, Stage.PAYOUT),
    }
    response = render(request, "pay/order.html", context, status=status)
    add_never_cache_headers(response)
    # The default same-origin Referrer-Policy keeps the hash out of the store's logs when the customer
    # follows return_url; "no-referrer" would make browsers send `Origin: null` and fail the CSRF check.
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def order_page(request, hash_id: str):
    tenant_id = tenant_of_hash_id(hash_id)
    if tenant_id is None:
        return _not_found(request)
    with tenant_context(tenant_id):
        hosted = hosted_order(hash_id)
        if hosted is None:
            return _not_found(request)
        return _page(request, hosted)


@require_POST
def mark_paid_view(request, hash_id: str):
    tenant_id = tenant_of_hash_id(hash_id)
    if tenant_id is None:
        return _not_found(request)
    with tenant_context(tenant_id):
        hosted = hosted_order(hash_id)
        if hosted is None or hosted.order is None:
            return _not_found(request)
        form = MarkPaidForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                execution.mark_paid(order=hosted.order, receipt=form.cleaned_data["receipt"])
            except PaymentsError as exc:
                add_service_errors(form, exc)
                return _page(request, hosted_order(hash_id), paid_form=form, status=exc.status_code)
            return redirect("pay:order", hash_id=hash_id)
        return _page(request, hosted, paid_form=form, status=400)


@require_POST
def appeal_view(request, hash_id: str):
    tenant_id = tenant_of_hash_id(hash_id)
    if tenant_id is None:
        return _not_found(request)
    with tenant_context(tenant_id):
        hosted = hosted_order(hash_id)
        if hosted is None or hosted.order is None:
            return _not_found(request)
        form = CustomerAppealForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                execution.open_appeal(order=hosted.order, opened_by_role=Appeal.OpenedBy.CUSTOMER,
                                      reason=form.cleaned_data["reason"], evidence=form.cleaned_data["evidence"])
            except PaymentsError as exc:
                add_service_errors(form, exc)
                return _page(request, hosted_order(hash_id), appeal_form=form, status=exc.status_code)
            return redirect("pay:order", hash_id=hash_id)
        return _page(request, hosted, appeal_form=form, status=400)


@require_GET
def state_view(request, hash_id: str):
    """Polled by the page (htmx): 204 while the stage is the one shown, else a full reload."""
    tenant_id = tenant_of_hash_id(hash_id)
    if tenant_id is None:
        return _not_found(request)
    with tenant_context(tenant_id):
        hosted = hosted_order(hash_id)
    if hosted is None:
        return _not_found(request)
    if request.GET.get("seen") == hosted.stage:
        response = HttpResponse(status=204)
    else:
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
    add_never_cache_headers(response)
    return response
