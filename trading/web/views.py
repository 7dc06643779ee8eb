"""The signal-trading pages. Each view: permission (access.trading_view), the user's own account
(access.own_account_or_404), then one service or selector call."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.forms import add_domain_errors
from trading import selectors
from trading.models import AccountStatus, CredentialStatus, TradingAccount, TradingSettings
from trading.services import accounts as account_services
from trading.services import signals as signal_services
from trading.services import telegram as telegram_services
from trading.services.accounts import SETTINGS_FIELDS

from . import selectors as page_selectors
from .access import may, own_account_or_404, trading_view
from .exports import csv_rows
from .forms import CredentialForm, SettingsForm, TestSignalForm


def _settings_initial(row: TradingSettings) -> dict:
    return {field: getattr(row, field) for field in SETTINGS_FIELDS}


# --- overview --------------------------------------------------------------------------------------

@require_GET
@trading_view("trading_accounts.view")
def overview(request: HttpRequest) -> HttpResponse:
    accounts = list(page_selectors.overview_accounts(request.user))
    for account in accounts:
        account.pnl_today = account.realized_today + account.unrealized
    return render(request, "trading/overview.html", {
        "accounts": accounts,
        "positions": list(page_selectors.open_positions_of(request.user)),
        "pnl_today": sum((a.pnl_today for a in accounts), start=0),
    })


@require_GET
@trading_view("trading_accounts.view")
def account_equity(request: HttpRequest, account_id: int) -> HttpResponse:
    """htmx fragment: the account's equity, read from the exchange (so the page itself never waits on it)."""
    from trading.exchanges.client import ExchangeRefused, ExchangeUnavailable, NoCredential, gateway_for

    account = own_account_or_404(request, account_id)
    equity, problem = None, ""
    if account.exchange is None:
        problem = "no exchange"
    else:
        try:
            equity = gateway_for(account).equity()
        except NoCredential:
            problem = "no key yet"
        except (ExchangeRefused, ExchangeUnavailable):
            problem = "exchange did not answer"
    return render(request, "trading/_equity.html", {"account": account, "equity": equity, "problem": problem})


# --- the account page -------------------------------------------------------------------------------

def _account_page(request: HttpRequest, account: TradingAccount, *, credential_form=None, settings_form=None,
                  signal_form=None, status: int = 200) -> HttpResponse:
    effective = selectors.effective_settings(account)
    override = TradingSettings.objects.filter(account=account).exists()
    return render(request, "trading/account.html", {
        "account": account,
        "credentials": list(page_selectors.credentials_of(account)),
        "active_credential": selectors.active_credential(account),
        "credential_form": credential_form or CredentialForm(),
        "settings_form": settings_form or SettingsForm(initial=_settings_initial(effective)),
        "has_override": override,
        "signal_form": signal_form or TestSignalForm(),
        "positions": list(selectors.open_positions(account)),
        "orders": list(selectors.recent_orders(account).select_related("signal")),
        "signals": list(selectors.recent_signals(account)),
        "sync_logs": list(selectors.recent_sync_logs(account)),
        "webhook_url": selectors.webhook_url(account),
        "tradingview_message": selectors.tradingview_message(account),
        "loss_today": selectors.loss_today(account),
        "can_manage": may(request, "trading_accounts.manage"),
        "can_signal": may(request, "signals.manage"),
        "can_settings": may(request, "trading_settings.manage"),
        "paused": account.status == AccountStatus.PAUSED,
    }, status=status)


@never_cache
@require_GET
@trading_view("trading_accounts.view")
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    return _account_page(request, own_account_or_404(request, account_id))


@require_GET
@trading_view("positions.view")
def account_positions(request: HttpRequest, account_id: int) -> HttpResponse:
    """htmx fragment polled by the account page: open positions, refreshed."""
    account = own_account_or_404(request, account_id)
    return render(request, "trading/_positions.html", {
        "account": account, "positions": list(selectors.open_positions(account)),
    })


@require_GET
@trading_view("positions.view")
def account_pnl(request: HttpRequest, account_id: int) -> JsonResponse:
    """The profit chart's data: running realized PnL after each closed position (strings, not floats)."""
    account = own_account_or_404(request, account_id)
    points = selectors.cumulative_pnl(account)
    return JsonResponse({"labels": [when.strftime("%Y-%m-%d %H:%M") for when, _ in points],
                         "values": [format(value, "f") for _, value in points]})


@require_POST
@trading_view("trading_accounts.manage")
def credential_add(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    form = CredentialForm(request.POST)
    if form.is_valid():
        try:
            credential = account_services.add_credential(actor=request.user, account=account,
                                                         api_key=form.cleaned_data["api_key"],
                                                         secret=form.cleaned_data["secret"],
                                                         passphrase=form.cleaned_data["passphrase"])
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Key {credential.api_key_masked} checked with the exchange and saved.")
            return redirect("trading:account", account_id=account.pk)
    return _account_page(request, account, credential_form=_blank_secrets(form), status=400)


def _blank_secrets(form: CredentialForm) -> CredentialForm:
    """The refused form again with its errors, but nothing the person typed (it is a secret)."""
    fresh = CredentialForm()
    fresh._errors = form.errors
    fresh.is_bound = False
    return fresh


@require_POST
@trading_view("trading_accounts.manage")
def credential_revoke(request: HttpRequest, account_id: int, credential_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    credential = page_selectors.credential_of(account, credential_id)
    if credential is None:
        raise Http404("No such key.")
    if credential.status != CredentialStatus.REVOKED:
        account_services.revoke_credential(actor=request.user, credential=credential)
        messages.success(request, f"Key {credential.api_key_masked} removed.")
    return redirect("trading:account", account_id=account.pk)


@require_POST
@trading_view("trading_settings.manage")
def account_settings(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    form = SettingsForm(request.POST)
    if form.is_valid():
        try:
            account_services.update_settings(actor=request.user, user=request.user, account=account,
                                             market_max_leverage=page_selectors.market_max_leverage(account),
                                             **form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Settings of {account.name} saved.")
            return redirect("trading:account", account_id=account.pk)
    return _account_page(request, account, settings_form=form, status=400)


def _back(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    """To the overview when the button was there, else to the account page."""
    if request.POST.get("next") == "overview":
        return redirect("trading:overview")
    return redirect("trading:account", account_id=account.pk)


@require_POST
@trading_view("trading_accounts.manage")
def account_pause(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    if account_services.pause_account(actor=request.user, account=account, reason="paused by you"):
        messages.success(request, f"{account.name} is paused: new signals are rejected.")
    return _back(request, account)


@require_POST
@trading_view("trading_accounts.manage")
def account_resume(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    if account_services.resume_account(actor=request.user, account=account):
        messages.success(request, f"{account.name} takes signals again.")
    return _back(request, account)


@require_POST
@trading_view("signals.manage")
def test_signal(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account_or_404(request, account_id)
    form = TestSignalForm(request.POST)
    if form.is_valid():
        try:
            signal, duplicate = signal_services.send_test_signal(actor=request.user, account=account,
                                                                 fields=form.signal_fields())
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            if duplicate:
                messages.warning(request, f"Same as signal #{signal.pk} a moment ago: nothing placed.")
            else:
                messages.success(request, f"Test signal #{signal.pk} queued; its result shows under Signals.")
            return redirect("trading:account", account_id=account.pk)
    return _account_page(request, account, signal_form=form, status=400)


# --- exports -----------------------------------------------------------------------------------------

def _csv(header, rows, *, filename: str, tenant_id) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_rows(header, rows, tenant_id=tenant_id), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@trading_view("trading_orders.view")
def orders_csv(request: HttpRequest, account_id: int) -> StreamingHttpResponse:
    account = own_account_or_404(request, account_id)
    return _csv([name for name, _ in page_selectors.ORDER_EXPORT_COLUMNS], page_selectors.order_export_rows(account),
                filename=f"orders-{account.pk}.csv", tenant_id=account.tenant_id)


@require_GET
@trading_view("positions.view")
def positions_csv(request: HttpRequest, account_id: int) -> StreamingHttpResponse:
    account = own_account_or_404(request, account_id)
    return _csv([name for name, _ in page_selectors.POSITION_EXPORT_COLUMNS],
                page_selectors.closed_position_export_rows(account),
                filename=f"closed-positions-{account.pk}.csv", tenant_id=account.tenant_id)


# --- settings and Telegram -----------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
@trading_view("trading_settings.manage")
def user_settings(request: HttpRequest) -> HttpResponse:
    """The person's default risk settings (every account without its own override uses them)."""
    current = (TradingSettings.objects.filter(user=request.user, account__isnull=True).first()
               or TradingSettings(user=request.user))
    form = SettingsForm(request.POST or None, initial=_settings_initial(current))
    if request.method == "POST":
        if form.is_valid():
            try:
                account_services.update_settings(actor=request.user, user=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("trading:settings")
        return render(request, "trading/settings.html", {"form": form}, status=400)
    return render(request, "trading/settings.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@trading_view("trading_accounts.view")
def telegram(request: HttpRequest) -> HttpResponse:
    """Link a Telegram chat: a POST makes a one-time code, shown once in the answer (never stored whole)."""
    code = ""
    if request.method == "POST":
        code = telegram_services.new_link_code(actor=request.user, user=request.user)
    username = settings.TELEGRAM_BOT_USERNAME
    return render(request, "trading/telegram.html", {
        "links": list(page_selectors.telegram_links_of(request.user)),
        "code": code,
        "bot_username": username,
        "deep_link": f"https://t.me/{username}?start={code}" if code and username else "",
        "bot_configured": telegram_services.bot_configured(),
        "minutes": settings.TELEGRAM_LINK_CODE_MINUTES,
    })


@require_POST
@trading_view("trading_accounts.view")
def telegram_unlink(request: HttpRequest, link_id: int) -> HttpResponse:
    link = page_selectors.telegram_links_of(request.user).filter(pk=link_id).first()
    if link is None:
        raise Http404("No such Telegram link.")
    telegram_services.unlink_chat(actor=request.user, telegram_account=link)
    messages.success(request, "Telegram chat unlinked: it gets no more notifications.")
    return redirect(reverse("trading:telegram"))
