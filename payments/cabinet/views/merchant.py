"""The merchant's cabinet: stores and their keys, orders (+ CSV), balances, callback deliveries, appeals."""

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.forms import add_domain_errors
from payments.callbacks.delivery import resend_callback
from payments.models import Appeal, CallbackEvent, IncomingOrder, Merchant, MerchantStore, OrderHistory
from payments.services import execution, transfers
from tenancy import authz

from .. import dashboards, forms, selectors, services
from ..exports import order_csv_rows
from .access import MERCHANT, WITHDRAW, merchant_view, no_permission
from .files import receipt_response
from .pages import found_or_404, paginate, post_or_go_to, submit_appeal


def _store_or_404(merchant: Merchant, pk: int) -> MerchantStore:
    return found_or_404(selectors.merchant_store(merchant, pk), "No such store.")


def _order_or_404(merchant: Merchant, hash_id: str) -> IncomingOrder:
    return found_or_404(selectors.merchant_order(merchant, hash_id), "No such order.")


def _assigned_or_404(order: IncomingOrder) -> OrderHistory:
    return found_or_404(getattr(order, "assigned_order", None), "This order has no trader yet.")


def _once(request: HttpRequest, store: MerchantStore, *, private_key: str = "", secret: str = "") -> HttpResponse:
    """The page that shows a new key or secret: rendered in the POST's answer, never stored or cached."""
    return render(request, "cabinet/merchant/shown_once.html", {
        "store": store, "private_key": private_key, "secret": secret,
    })


# --- dashboard and stores ------------------------------------------------------------------------

@require_GET
@merchant_view("stores.view")
def dashboard(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    days = dashboards.days_param(request.GET.get("days"))
    stats = dashboards.merchant_stats(merchant, days)
    return render(request, "cabinet/merchant/dashboard.html", {
        "merchant": merchant,
        "days": days,
        "ranges": dashboards.RANGES,
        "stats": stats,
        "chart_data": stats.chart_data(),
        "last_orders": selectors.merchant_last_orders(merchant),
        "stores": list(selectors.merchant_stores(merchant)),
        "balances": list(selectors.store_balances(merchant)),
        "open_appeals": selectors.merchant_appeals(merchant).filter(status=Appeal.Status.OPEN).count(),
    })


@never_cache
@require_http_methods(["GET", "POST"])
@merchant_view("stores.manage")
def store_new(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = forms.StoreCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                store, private_key = services.create_store(
                    merchant=merchant, store_name=data["store_name"], crypto_currency=data["crypto_currency"],
                    fiat_currency=data["fiat_currency"], lower_limit=data["lower_limit"],
                    upper_limit=data["upper_limit"], callback_url=data["callback_url"], actor=request.user)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                return _once(request, store, private_key=private_key)
        return render(request, "cabinet/merchant/store_new.html", {"merchant": merchant, "form": form}, status=400)
    return render(request, "cabinet/merchant/store_new.html", {"merchant": merchant, "form": form})


def _store_page(request: HttpRequest, merchant: Merchant, store: MerchantStore, *, form=None,
                status: int = 200) -> HttpResponse:
    form = form or forms.StoreSettingsForm(initial={
        "callback_url": store.callback_url, "pay_in_enabled": store.pay_in_enabled,
        "pay_out_enabled": store.pay_out_enabled})
    recent = list(selectors.callback_events(merchant, store_id=store.pk)[:5])
    return render(request, "cabinet/merchant/store_detail.html", {
        "merchant": merchant, "store": store, "form": form, "recent_events": recent, "now": timezone.now(),
    }, status=status)


@require_GET
@merchant_view("stores.view")
def store_detail(request: HttpRequest, merchant: Merchant, pk: int) -> HttpResponse:
    return _store_page(request, merchant, _store_or_404(merchant, pk))


@post_or_go_to("cabinet:merchant_store", "pk")
@merchant_view("stores.manage")
def store_settings(request: HttpRequest, merchant: Merchant, pk: int) -> HttpResponse:
    store = _store_or_404(merchant, pk)
    form = forms.StoreSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_store_settings(store=store, changes=form.cleaned_data, actor=request.user)
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Store settings saved.")
            return redirect("cabinet:merchant_store", pk=store.pk)
    return _store_page(request, merchant, store, form=form, status=400)


@never_cache
@post_or_go_to("cabinet:merchant_store", "pk")
@merchant_view("stores.manage")
def store_rotate_keys(request: HttpRequest, merchant: Merchant, pk: int) -> HttpResponse:
    store = _store_or_404(merchant, pk)
    private_key = services.rotate_store_keys(store=store, actor=request.user)
    return _once(request, store, private_key=private_key)


@never_cache
@post_or_go_to("cabinet:merchant_store", "pk")
@merchant_view("stores.manage")
def store_rotate_secret(request: HttpRequest, merchant: Merchant, pk: int) -> HttpResponse:
    store = _store_or_404(merchant, pk)
    secret = services.rotate_store_secret(store=store, actor=request.user)
    return _once(request, store, secret=secret)


# --- orders --------------------------------------------------------------------------------------

def _order_filter_form(request: HttpRequest, merchant: Merchant) -> forms.MerchantOrderFilterForm:
    return forms.MerchantOrderFilterForm(request.GET or None, stores=selectors.merchant_stores(merchant))


@require_GET
@merchant_view("orders.view")
def orders(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = _order_filter_form(request, merchant)
    page = paginate(request, selectors.merchant_orders(merchant, form.filters()))
    return render(request, "cabinet/merchant/orders.html", {"merchant": merchant, "form": form, "page": page})


@require_GET
@merchant_view("orders.view")
def orders_export(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = _order_filter_form(request, merchant)
    if form.is_bound and not form.is_valid():
        # The list page shows what is wrong with the filters; an export never ignores them.
        return redirect(f"{reverse('cabinet:merchant_orders')}?{request.GET.urlencode()}")
    rows = selectors.merchant_orders_for_export(merchant, form.filters())
    response = StreamingHttpResponse(order_csv_rows(rows, tenant_id=merchant.tenant_id),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _order_page(request: HttpRequest, merchant: Merchant, order: IncomingOrder, *, appeal_form=None,
                status: int = 200) -> HttpResponse:
    assigned = getattr(order, "assigned_order", None)
    appeals = list(selectors.order_appeals(assigned)) if assigned else []
    return render(request, "cabinet/merchant/order_detail.html", {
        "merchant": merchant,
        "order": order,
        "assigned": assigned,
        "appeals": appeals,
        "can_appeal": execution.can_open_appeal(assigned, appeals),
        "appeal_form": appeal_form or forms.AppealForm(),
        "events": list(selectors.callback_events(merchant).filter(incoming_order=order)),
    }, status=status)


@require_GET
@merchant_view("orders.view")
def order_detail(request: HttpRequest, merchant: Merchant, hash_id: str) -> HttpResponse:
    return _order_page(request, merchant, _order_or_404(merchant, hash_id))


@post_or_go_to("cabinet:merchant_order", "hash_id")
@merchant_view("orders.view")
def order_appeal(request: HttpRequest, merchant: Merchant, hash_id: str) -> HttpResponse:
    order = _order_or_404(merchant, hash_id)
    return submit_appeal(request, _assigned_or_404(order), role=Appeal.OpenedBy.MERCHANT,
                         order_url=reverse("cabinet:merchant_order", kwargs={"hash_id": order.hash_id}),
                         page=lambda form: _order_page(request, merchant, order, appeal_form=form, status=400))


@require_GET
@merchant_view("orders.view")
def order_receipt(request: HttpRequest, merchant: Merchant, hash_id: str, kind: str) -> HttpResponse:
    return receipt_response(_assigned_or_404(_order_or_404(merchant, hash_id)), kind)


@require_GET
@merchant_view("orders.view")
def appeals(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    page = paginate(request, selectors.merchant_appeals(merchant))
    return render(request, "cabinet/merchant/appeals.html", {"merchant": merchant, "page": page})


# --- balances ------------------------------------------------------------------------------------

@require_GET
@merchant_view("balances.view")
def balances(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    rows = list(selectors.store_balances(merchant))
    choices = [(row.pk, f"{row.store.store_name} · {row.crypto_currency.code}") for row in rows]
    form = forms.BalanceFilterForm(request.GET or None, choices=choices)
    history = selectors.store_balance_history(merchant, balance_id=form.balance_id())
    return render(request, "cabinet/merchant/balances.html", {
        "merchant": merchant, "balances": rows, "form": form, "page": paginate(request, history),
    })


# --- callback deliveries -------------------------------------------------------------------------

@require_GET
@merchant_view("stores.view")
def callback_list(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = forms.CallbackFilterForm(request.GET or None, stores=selectors.merchant_stores(merchant))
    page = paginate(request, selectors.callback_events(merchant, **form.values()))
    return render(request, "cabinet/merchant/callbacks.html", {
        "merchant": merchant, "form": form, "page": page, "flagged": list(selectors.flagged_stores(merchant)),
    })


def _event_or_404(merchant: Merchant, event_id) -> CallbackEvent:
    return found_or_404(selectors.callback_event(merchant, event_id), "No such delivery.")


@require_GET
@merchant_view("stores.view")
def callback_detail(request: HttpRequest, merchant: Merchant, event_id) -> HttpResponse:
    event = _event_or_404(merchant, event_id)
    return render(request, "cabinet/merchant/callback_detail.html", {
        "merchant": merchant, "event": event, "attempts": list(event.attempt_rows.all()),
        "payload": json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
    })


@post_or_go_to("cabinet:merchant_callback", "event_id")
@merchant_view("stores.manage")
def callback_resend(request: HttpRequest, merchant: Merchant, event_id) -> HttpResponse:
    event = _event_or_404(merchant, event_id)
    try:
        resend_callback(event=event, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Sent again; the attempt appears below once it has run.")
    return redirect("cabinet:merchant_callback", event_id=event.event_id)


# --- withdrawals ---------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@merchant_view("balances.view")
def withdrawals(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Ask to withdraw a store's balance (held at once, sent when staff approve) and see every request."""
    may_request = authz.can(request.user, WITHDRAW, obj=merchant)
    if request.method == "POST" and not may_request:
        return no_permission(request, MERCHANT, WITHDRAW)
    balances = list(selectors.store_balances(merchant))
    form = forms.TransferForm(request.POST if request.method == "POST" else None, balances=balances, top_ups=False)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                transfer = transfers.request_store_withdrawal(
                    store_balance=data["balance"], amount=data["amount"], network=data["network"],
                    address=data["address"], actor=request.user)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"Withdrawal #{transfer.pk} asked for; the amount is on hold until "
                                          "staff approve it.")
                return redirect("cabinet:merchant_withdrawals")
        status = 400
    page = paginate(request, selectors.store_transfers(merchant))
    return render(request, "cabinet/merchant/withdrawals.html", {
        "merchant": merchant, "form": form, "balances": balances, "page": page, "may_request": may_request},
        status=status)
