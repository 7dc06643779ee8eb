"""The hosted payment page /pay/<hash_id>: what to pay and where, "I have paid", appeals. No login.

Each view finds the order's tenant from the hash id, then works inside that
tenant only. Responses are never cached (the page shows a whole card number
while the order waits for payment) and an unknown hash id is a plain 404 page.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, Literal

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from core.api_errors import http_status
from payments.errors import PaymentsError
from payments.models import Appeal
from payments.pay.forms import CustomerAppealForm, MarkPaidForm, add_service_errors
from payments.pay.selectors import HostedOrder, Stage, hosted_order, tenant_of_hash_id
from payments.selectors.customer import payment_details_for_customer
from payments.services import execution
from tenancy.scoping import tenant_context


def _not_found(request: HttpRequest) -> HttpResponse:
    response = render(request, "pay/not_found.html", status=404)
    add_never_cache_headers(response)
    return response


def _page(request: HttpRequest, hosted: HostedOrder, *, paid_form=None, appeal_form=None,
          status: int = 200) -> HttpResponse:
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


def _hosted_view(view: Callable[..., HttpResponse]) -> Callable[[HttpRequest, str], HttpResponse]:
    """Runs the view inside the tenant of the hash id's order, with the order as its customer sees it.

    An unknown hash id is the plain 404 page, given outside any order's tenant.
    """
    @wraps(view)
    def wrapper(request: HttpRequest, hash_id: str) -> HttpResponse:
        tenant_id = tenant_of_hash_id(hash_id)
        if tenant_id is not None:
            with tenant_context(tenant_id):
                hosted = hosted_order(hash_id)
                if hosted is not None:
                    return view(request, hosted)
        return _not_found(request)

    return wrapper


def _submit(request: HttpRequest, hosted: HostedOrder, form: forms.Form, form_name: Literal["paid_form", "appeal_form"],
            act: Callable[[dict[str, Any]], object]) -> HttpResponse:
    """A customer's form: a valid one runs `act` (a service) and reloads the page; errors show on the form.

    A refusal is shown on the page as the order is now (the service may have seen it move on).
    """
    if hosted.order is None:
        return _not_found(request)
    if not form.is_valid():
        return _page(request, hosted, **{form_name: form}, status=400)
    try:
        act(form.cleaned_data)
    except PaymentsError as exc:
        add_service_errors(form, exc)
        return _page(request, hosted_order(hosted.hash_id), **{form_name: form}, status=http_status(exc))
    return redirect("pay:order", hash_id=hosted.hash_id)


@require_GET
@_hosted_view
def order_page(request: HttpRequest, hosted: HostedOrder) -> HttpResponse:
    return _page(request, hosted)


@require_POST
@_hosted_view
def mark_paid_view(request: HttpRequest, hosted: HostedOrder) -> HttpResponse:
    return _submit(request, hosted, MarkPaidForm(request.POST, request.FILES), "paid_form",
                   lambda data: execution.mark_paid(order=hosted.order, receipt=data["receipt"]))


@require_POST
@_hosted_view
def appeal_view(request: HttpRequest, hosted: HostedOrder) -> HttpResponse:
    return _submit(request, hosted, CustomerAppealForm(request.POST, request.FILES), "appeal_form",
                   lambda data: execution.open_appeal(order=hosted.order, opened_by_role=Appeal.OpenedBy.CUSTOMER,
                                                      reason=data["reason"], evidence=data["evidence"]))


@require_GET
@_hosted_view
def state_view(request: HttpRequest, hosted: HostedOrder) -> HttpResponse:
    """Polled by the page (htmx): 204 while the stage is the one shown, else a full reload."""
    if request.GET.get("seen") == hosted.stage:
        response = HttpResponse(status=204)
    else:
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
    add_never_cache_headers(response)
    return response
