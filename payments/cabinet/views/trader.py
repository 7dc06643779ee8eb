"""The trader's cabinet: work switch, orders to confirm (live), history, requisites, balances, appeals."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.forms import add_domain_errors
from payments.models import Appeal, OrderHistory, ReqTrader, Trader
from payments.services import execution, transfers
from tenancy import authz

from .. import dashboards, forms, selectors, services
from .access import TRADER, WITHDRAW, no_permission, trader_view
from .files import receipt_response
from .pages import found_or_404, paginate, post_or_go_to, submit_appeal, submit_order_form


def _order_or_404(trader: Trader, hash_id: str) -> OrderHistory:
    return found_or_404(selectors.trader_order(trader, hash_id), "No such order.")


def _order_url(order: OrderHistory) -> str:
    return reverse("cabinet:trader_order", kwargs={"hash_id": order.hash_id})


def _requisite_or_404(trader: Trader, pk: int) -> ReqTrader:
    return found_or_404(selectors.trader_requisite(trader, pk), "No such requisite.")


# --- dashboard and live orders -------------------------------------------------------------------

@require_GET
@trader_view("orders.view")
def dashboard(request: HttpRequest, trader: Trader) -> HttpResponse:
    return _dashboard_page(request, trader)


def _dashboard_page(request: HttpRequest, trader: Trader) -> HttpResponse:
    days = dashboards.days_param(request.GET.get("days"))
    stats = dashboards.trader_stats(trader, days)
    return render(request, "cabinet/trader/dashboard.html", {
        "trader": trader,
        "days": days,
        "ranges": dashboards.RANGES,
        "stats": stats,
        "chart_data": stats.chart_data(),
        "usage": dashboards.requisite_usage(trader),
        "balances": list(selectors.trader_balances(trader)),
        "orders": list(selectors.trader_active_orders(trader)),
        "open_appeals": selectors.trader_appeals(trader).filter(status=Appeal.Status.OPEN).count(),
        "now": timezone.now(),
    })


@require_GET
@trader_view("orders.view")
def active_orders(request: HttpRequest, trader: Trader) -> HttpResponse:
    """The live part of the dashboard, fetched by htmx every few seconds; opened directly, the whole page."""
    if request.headers.get("HX-Request") != "true":
        return _dashboard_page(request, trader)
    return render(request, "cabinet/trader/_active_orders.html", {
        "orders": list(selectors.trader_active_orders(trader)), "now": timezone.now(), "trader": trader,
    })


@post_or_go_to("cabinet:trader_dashboard")
@trader_view("traders.view")
def set_in_work(request: HttpRequest, trader: Trader) -> HttpResponse:
    in_work = request.POST.get("in_work") == "1"
    services.set_trader_in_work(trader=trader, in_work=in_work, actor=request.user)
    messages.success(request, "You are in work: new orders can come to you." if in_work
                     else "You are out of work: no new orders come to you.")
    return redirect("cabinet:trader_dashboard")


# --- one order -----------------------------------------------------------------------------------

def _order_page(request: HttpRequest, trader: Trader, order: OrderHistory, *, confirm_form=None, dispute_form=None,
                appeal_form=None, payout_destination: str = "", status: int = 200) -> HttpResponse:
    active = order.status in selectors.TRADER_ACTIVE_STATUSES
    appeals = list(order.appeals.all())
    return render(request, "cabinet/trader/order_detail.html", {
        "trader": trader,
        "order": order,
        "active": active,
        "payout_destination": payout_destination,
        "confirm_form": confirm_form or forms.ConfirmOrderForm(order=order),
        "dispute_form": dispute_form or forms.DisputeForm(),
        "appeal_form": appeal_form or forms.AppealForm(),
        "appeals": appeals,
        "can_appeal": execution.can_open_appeal(order, appeals),
    }, status=status)


@require_GET
@trader_view("orders.view")
def order_detail(request: HttpRequest, trader: Trader, hash_id: str) -> HttpResponse:
    return _order_page(request, trader, _order_or_404(trader, hash_id))


@never_cache
@post_or_go_to("cabinet:trader_order", "hash_id")
@trader_view("orders.manage")
def order_reveal(request: HttpRequest, trader: Trader, hash_id: str) -> HttpResponse:
    """A PayOut's destination account, whole, for the trader who has to pay it (audited by the service)."""
    order = _order_or_404(trader, hash_id)
    try:
        number = execution.reveal_customer_requisite(order=order, viewer=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_order_url(order))
    return _order_page(request, trader, order, payout_destination=number)


@post_or_go_to("cabinet:trader_order", "hash_id")
@trader_view("orders.manage")
def order_confirm(request: HttpRequest, trader: Trader, hash_id: str) -> HttpResponse:
    order = _order_or_404(trader, hash_id)
    return submit_order_form(
        request, forms.ConfirmOrderForm(request.POST, request.FILES, order=order),
        act=lambda data: execution.confirm_order(order=order, actor=request.user,
                                                 confirmed_fiat=data["confirmed_fiat"], receipt=data["receipt"]),
        done=f"Order {order.hash_id} confirmed.", order_url=_order_url(order),
        page=lambda form: _order_page(request, trader, order, confirm_form=form, status=400))


@post_or_go_to("cabinet:trader_order", "hash_id")
@trader_view("orders.manage")
def order_dispute(request: HttpRequest, trader: Trader, hash_id: str) -> HttpResponse:
    order = _order_or_404(trader, hash_id)
    return submit_order_form(
        request, forms.DisputeForm(request.POST),
        act=lambda data: execution.dispute_order(order=order, actor=request.user, reason=data["reason"]),
        done=f"Order {order.hash_id} disputed; support will look at it.", order_url=_order_url(order),
        page=lambda form: _order_page(request, trader, order, dispute_form=form, status=400))


@post_or_go_to("cabinet:trader_order", "hash_id")
@trader_view("orders.view")
def order_appeal(request: HttpRequest, trader: Trader, hash_id: str) -> HttpResponse:
    order = _order_or_404(trader, hash_id)
    return submit_appeal(request, order, role=Appeal.OpenedBy.TRADER, order_url=_order_url(order),
                         page=lambda form: _order_page(request, trader, order, appeal_form=form, status=400))


@require_GET
@trader_view("orders.view")
def order_receipt(request: HttpRequest, trader: Trader, hash_id: str, kind: str) -> HttpResponse:
    return receipt_response(_order_or_404(trader, hash_id), kind)


# --- history and appeals -------------------------------------------------------------------------

@require_GET
@trader_view("orders.view")
def history(request: HttpRequest, trader: Trader) -> HttpResponse:
    form = forms.TraderOrderFilterForm(request.GET or None)
    page = paginate(request, selectors.trader_orders(trader, form.filters()))
    return render(request, "cabinet/trader/history.html", {"trader": trader, "form": form, "page": page})


@require_GET
@trader_view("orders.view")
def appeals(request: HttpRequest, trader: Trader) -> HttpResponse:
    page = paginate(request, selectors.trader_appeals(trader))
    return render(request, "cabinet/trader/appeals.html", {"trader": trader, "page": page})


# --- balances ------------------------------------------------------------------------------------

@require_GET
@trader_view("balances.view")
def balances(request: HttpRequest, trader: Trader) -> HttpResponse:
    rows = list(selectors.trader_balances(trader))
    choices = [(row.pk, f"{row.fiat_currency.code}/{row.crypto_currency.code}") for row in rows]
    form = forms.BalanceFilterForm(request.GET or None, choices=choices)
    balance_id = form.balance_id()
    side = "fiat" if request.GET.get("side") == "fiat" else "crypto"
    history_rows = (selectors.trader_fiat_history(trader, balance_id=balance_id) if side == "fiat"
                    else selectors.trader_crypto_history(trader, balance_id=balance_id))
    return render(request, "cabinet/trader/balances.html", {
        "trader": trader, "balances": rows, "form": form, "side": side, "page": paginate(request, history_rows),
    })


# --- requisites ----------------------------------------------------------------------------------

@require_GET
@trader_view("requisites.view")
def requisites(request: HttpRequest, trader: Trader) -> HttpResponse:
    return render(request, "cabinet/trader/requisites.html", {
        "trader": trader, "requisites": list(selectors.trader_requisites(trader)),
    })


@require_http_methods(["GET", "POST"])
@trader_view("requisites.manage")
def requisite_new(request: HttpRequest, trader: Trader) -> HttpResponse:
    owners = selectors.trader_requisite_owners(trader)
    form = forms.RequisiteForm(request.POST or None, owners=owners)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                requisite = services.add_requisite(
                    trader=trader, fiat=data["fiat"], method=data["method"], bank=data["bank"],
                    req_number=data["req_number"], owner_of_requisites=data["owner_of_requisites"],
                    new_owner_name=data["new_owner_name"], pay_in=data["pay_in"], pay_out=data["pay_out"],
                    actor=request.user)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"Requisite {requisite.masked_number} added; it takes orders once "
                                          "staff have approved it.")
                return redirect("cabinet:trader_requisite", pk=requisite.pk)
        return render(request, "cabinet/trader/requisite_new.html", {"trader": trader, "form": form}, status=400)
    return render(request, "cabinet/trader/requisite_new.html", {"trader": trader, "form": form})


def _requisite_page(request: HttpRequest, trader: Trader, requisite, *, form=None, status: int = 200):
    current = getattr(requisite, "settings", None)
    if form is None:
        initial = {"pay_in": current.pay_in, "pay_out": current.pay_out} if current else {}
        form = forms.RequisiteSwitchesForm(initial=initial)
    return render(request, "cabinet/trader/requisite_detail.html", {
        "trader": trader, "requisite": requisite, "settings": current, "form": form,
    }, status=status)


@require_GET
@trader_view("requisites.view")
def requisite_detail(request: HttpRequest, trader: Trader, pk: int) -> HttpResponse:
    return _requisite_page(request, trader, _requisite_or_404(trader, pk))


@post_or_go_to("cabinet:trader_requisite", "pk")
@trader_view("requisites.manage")
def requisite_switches(request: HttpRequest, trader: Trader, pk: int) -> HttpResponse:
    requisite = _requisite_or_404(trader, pk)
    form = forms.RequisiteSwitchesForm(request.POST)
    if not form.is_valid():
        return _requisite_page(request, trader, requisite, form=form, status=400)
    services.set_requisite_switches(requisite=requisite, pay_in=form.cleaned_data["pay_in"],
                                    pay_out=form.cleaned_data["pay_out"], actor=request.user)
    messages.success(request, "Saved.")
    return redirect("cabinet:trader_requisite", pk=requisite.pk)


@post_or_go_to("cabinet:trader_requisite", "pk")
@trader_view("requisites.manage")
def requisite_pause(request: HttpRequest, trader: Trader, pk: int) -> HttpResponse:
    requisite = _requisite_or_404(trader, pk)
    resume = request.POST.get("action") == "resume"
    try:
        if resume:
            services.resume_requisite(requisite=requisite, actor=request.user)
        else:
            services.pause_requisite(requisite=requisite, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Requisite resumed: it takes orders again." if resume
                         else "Requisite paused: no new orders go to it.")
    return redirect("cabinet:trader_requisite", pk=requisite.pk)



# --- withdrawals and top-ups ---------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@trader_view("balances.view")
def transfers_page(request: HttpRequest, trader: Trader) -> HttpResponse:
    """Ask to withdraw crypto (held at once) or top it up (credited when staff approve); every request."""
    may_request = authz.can(request.user, WITHDRAW, obj=trader)
    if request.method == "POST" and not may_request:
        return no_permission(request, TRADER, WITHDRAW)
    balances = list(selectors.trader_balances(trader))
    form = forms.TransferForm(request.POST if request.method == "POST" else None, balances=balances, top_ups=True)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                transfer = transfers.request_trader_transfer(
                    trader_balance=data["balance"], direction=data["direction"], amount=data["amount"],
                    network=data["network"], address=data["address"], actor=request.user)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"{transfer.get_direction_display()} #{transfer.pk} asked for; "
                                          "staff will approve it.")
                return redirect("cabinet:trader_transfers")
        status = 400
    page = paginate(request, selectors.trader_transfers(trader))
    return render(request, "cabinet/trader/transfers.html", {
        "trader": trader, "form": form, "balances": balances, "page": page, "may_request": may_request},
        status=status)
