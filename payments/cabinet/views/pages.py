"""What the merchant's and the trader's pages do alike: a page of a list, one owner's row, a form about an order."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms as django_forms
from django.contrib import messages
from django.core.paginator import Page
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect

from core.errors import DomainError
from core.forms import add_domain_errors
from core.pagination import LargeListPaginator
from payments.models import OrderHistory
from payments.services import execution

from .. import forms

PAGE_SIZE = 50

Row = TypeVar("Row")


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE) -> Page:
    """One page of the list (out-of-range or junk page numbers give the nearest page); core.pagination keeps it
    fast however long the list."""
    return LargeListPaginator(queryset, per_page).get_page(request.GET.get("page"))


def found_or_404(row: Row | None, message: str) -> Row:
    """The owner's row from a selector; the selectors filter by owner, so another owner's row is not found either."""
    if row is None:
        raise Http404(message)
    return row


def submit_order_form(request: HttpRequest, form: django_forms.Form, *, act: Callable[[dict[str, Any]], object],
                      done: str, order_url: str, page: Callable[[django_forms.Form], HttpResponse]) -> HttpResponse:
    """A POSTed form about one order: a valid form runs `act` (a service) with its cleaned data.

    Success is a message on the order's page. A refusal about a field goes on the form,
    shown by `page` (a 400); a refusal about the order itself (it moved on meanwhile) is
    a message on the order's page, as it is now, since the form no longer applies.
    """
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except DomainError as exc:
            if not exc.fields:
                messages.error(request, exc.message)
                return redirect(order_url)
            add_domain_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect(order_url)
    return page(form)


def submit_appeal(request: HttpRequest, order: OrderHistory, *, role: str, order_url: str,
                  page: Callable[[django_forms.Form], HttpResponse]) -> HttpResponse:
    """The appeal form of an order's page, the same in both cabinets but for who opens it."""
    form = forms.AppealForm(request.POST, request.FILES)
    return submit_order_form(
        request, form, order_url=order_url, page=page, done="Appeal opened; support will answer it.",
        act=lambda data: execution.open_appeal(order=order, opened_by_role=role, actor=request.user,
                                               reason=data["reason"], evidence=data["evidence"]))


def post_or_go_to(url_name: str, kwarg: str | None = None):
    """A POST-only action whose URL is opened with GET (a reload, a pasted link) goes to the page the action
    belongs to, where the person can do it (rather than to core.error_pages' styled 405); other methods are
    still refused with a 405."""
    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                return redirect(url_name, **({kwarg: kwargs[kwarg]} if kwarg else {}))
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
