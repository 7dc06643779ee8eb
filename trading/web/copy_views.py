"""The copy-trading pages of seed 001: /accounts, /dashboard/<id>, /masters, /users/settings, and the
re-auth step before a key is revealed. Each view: permission (trading_view), the person's own account
(own_account_or_404: another person's account is a 404), then one service or selector call."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import PasswordChangeForm, ProfileForm
from accounts.middleware import SESSION_ROW_KEY
from accounts.services import passwords as password_services
from accounts.services import profile as profile_services
from accounts.services import reauth
from audit.context import client_ip
from core.errors import DomainError
from core.forms import add_domain_errors
from core.views import login_first
from trading.models import AccountRole, TradingAccount
from trading.services import accounts as account_services
from trading.services import copy_accounts

from . import copy_selectors as selectors
from .access import may, own_account_or_404, trading_view
from .copy_forms import CopyModeForm, CopyOptionsForm, FollowForm, NewAccountForm, ReauthForm, RenameForm

VIEW, MANAGE = "trading_accounts.view", "trading_accounts.manage"


# --- /accounts ------------------------------------------------------------------------------------------

def _accounts_page(request: HttpRequest, form: NewAccountForm | None = None, status: int = 200) -> HttpResponse:
    return render(request, "copytrade/accounts.html", {
        "accounts": list(selectors.accounts_of(request.user)), "form": form or NewAccountForm(),
        "open_dialog": form is not None and bool(form.errors), "can_manage": may(request, MANAGE),
    }, status=status)


@never_cache
@require_GET
@trading_view(VIEW)
def accounts(request: HttpRequest) -> HttpResponse:
    return _accounts_page(request)


@require_GET
@trading_view(VIEW)
def accounts_list(request: HttpRequest) -> HttpResponse:
    """htmx fragment: the list, re-fetched when an account was created (event `accounts-changed`)."""
    return render(request, "copytrade/_account_list.html", {"accounts": list(selectors.accounts_of(request.user))})


@require_POST
@trading_view(MANAGE)
def account_create(request: HttpRequest) -> HttpResponse:
    form = NewAccountForm(request.POST)
    htmx = bool(request.headers.get("HX-Request"))
    if form.is_valid():
        try:
            account = account_services.create_trading_account(actor=request.user, user=request.user,
                                                              name=form.cleaned_data["name"],
                                                              role=form.cleaned_data["role"])
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            if htmx:
                response = render(request, "copytrade/_new_account_form.html", {"form": NewAccountForm(),
                                                                                 "created": account})
                response["HX-Trigger"] = "accounts-changed"
                return response
            messages.success(request, f"{account.name} created.")
            return redirect("copytrade:accounts")
    if htmx:  # htmx swaps only 2xx answers: the form with its errors comes back as 200
        return render(request, "copytrade/_new_account_form.html", {"form": form})
    return _accounts_page(request, form, status=400)


# --- /dashboard/<id> -------------------------------------------------------------------------------------

def _dashboard(request: HttpRequest, account: TradingAccount, *, rename_form=None, options_form=None,
               mode_form=None, status: int = 200) -> HttpResponse:
    context = {
        "account": account, "can_manage": may(request, MANAGE),
        "rename_form": rename_form or RenameForm(initial={"name": account.name}),
        "connection": selectors.connection_of(account),
        "copy_settings": selectors.copy_settings_of(account),
    }
    if account.role == AccountRole.MASTER:
        context.update(followers=selectors.followers_of(account),
                       mode_form=mode_form or CopyModeForm(initial={"copy_mode": account.copy_mode}),
                       open_trades=list(selectors.open_master_trades(account)))
    else:
        context.update(open_copies=list(selectors.open_copies(account)),
                       closed_copies=list(selectors.closed_copies(account)),
                       options_form=options_form or CopyOptionsForm(
                           initial=CopyOptionsForm.initial_from(context["copy_settings"])))
    return render(request, "copytrade/dashboard.html", context, status=status)


@never_cache
@require_GET
@trading_view(VIEW)
def dashboard(request: HttpRequest, account_id: int) -> HttpResponse:
    return _dashboard(request, own_account_or_404(request, account_id))


@require_GET
@trading_view(VIEW)
def dashboard_status(request: HttpRequest, account_id: int) -> HttpResponse:
    """htmx fragment polled every 5 s: the EA's connection (and a master's followers' connections)."""
    account = own_account_or_404(request, account_id)
    context = {"account": account, "connection": selectors.connection_of(account)}
    if account.role == AccountRole.MASTER:
        context["followers"] = selectors.followers_of(account)
    else:
        context["open_copies"] = list(selectors.open_copies(account))
    return render(request, "copytrade/_status.html", context)


@require_GET
@trading_view(VIEW)
def dashboard_profit(request: HttpRequest, account_id: int) -> JsonResponse:
    """The cumulative profit chart's data (strings, not floats), in trading.js's pnl format."""
    points = selectors.cumulative_profit(own_account_or_404(request, account_id))
    return JsonResponse({"labels": [when.strftime("%Y-%m-%d %H:%M") for when, _ in points],
                         "values": [format(value, "f") for _, value in points]})


def _managed(view):
    """POST, trading_accounts.manage, the person's own account; a DomainError becomes a message."""
    @require_POST
    @trading_view(MANAGE)
    def wrapper(request: HttpRequest, account_id: int) -> HttpResponse:
        account = own_account_or_404(request, account_id)
        try:
            return view(request, account)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("copytrade:dashboard", account_id=account.pk)

    wrapper.__name__ = view.__name__
    return wrapper


def _back(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    if request.POST.get("next") == "settings":
        return redirect("copytrade:user_settings")
    return redirect("copytrade:dashboard", account_id=account.pk)


@_managed
def account_rename(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            copy_accounts.rename_account(actor=request.user, account=account, name=form.cleaned_data["name"])
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Account renamed.")
            return redirect("copytrade:dashboard", account_id=account.pk)
    return _dashboard(request, account, rename_form=form, status=400)


@_managed
def account_active(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    active = request.POST.get("active") == "1"
    copy_accounts.set_account_active(actor=request.user, account=account, active=active)
    messages.success(request, f"{account.name} is {'on' if active else 'off'}.")
    return redirect("copytrade:dashboard", account_id=account.pk)


@never_cache
@require_http_methods(["GET", "POST"])
@trading_view(MANAGE)
def account_delete(request: HttpRequest, account_id: int) -> HttpResponse:
    """GET: the confirmation page (type the account's name); POST: delete."""
    account = own_account_or_404(request, account_id)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != account.name:
            error = "Type the account's name exactly to confirm."
        else:
            try:
                copy_accounts.delete_account(actor=request.user, account=account)
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, f"{account.name} deleted.")
                return redirect("copytrade:accounts")
    return render(request, "copytrade/delete.html", {"account": account, "error": error},
                  status=400 if error else 200)


@_managed
def account_mode(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    form = CopyModeForm(request.POST)
    if not form.is_valid():
        return _dashboard(request, account, mode_form=form, status=400)
    copy_accounts.set_copy_mode(actor=request.user, account=account, copy_mode=form.cleaned_data["copy_mode"])
    messages.success(request, f"Copy mode: {form.cleaned_data['copy_mode']}.")
    return redirect("copytrade:dashboard", account_id=account.pk)


@_managed
def account_partner(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    raw = request.POST.get("partner", "")
    partner = None
    if raw:
        partner = TradingAccount.objects.filter(pk=raw if raw.isdigit() else 0, following=account).first()
        if partner is None:
            raise DomainError("The partner must be one of this master's followers.")
    copy_accounts.set_partner(actor=request.user, account=account, partner=partner)
    messages.success(request, f"Partner: {partner.name if partner else 'none'}.")
    return redirect("copytrade:dashboard", account_id=account.pk)


@_managed
def account_listed(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    listed = request.POST.get("listed") == "1"
    copy_accounts.set_listed(actor=request.user, account=account, listed=listed)
    messages.success(request, "Shown on the masters list." if listed else "Hidden from the masters list.")
    return redirect("copytrade:dashboard", account_id=account.pk)


@_managed
def account_options(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    form = CopyOptionsForm(request.POST)
    if form.is_valid():
        try:
            copy_accounts.update_copy_options(actor=request.user, account=account, **form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Copy options saved.")
            return redirect("copytrade:dashboard", account_id=account.pk)
    return _dashboard(request, account, options_form=form, status=400)


@_managed
def account_unfollow(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    copy_accounts.unfollow(actor=request.user, follower=account)
    messages.success(request, f"{account.name} follows no master now.")
    return redirect("copytrade:dashboard", account_id=account.pk)


@_managed
def rotate_key(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    account_services.rotate_api_key(actor=request.user, account=account)
    messages.success(request, f"New API key for {account.name}: the old one no longer works. Put the new one "
                              f"in your EA.")
    return _back(request, account)


@_managed
def rotate_token(request: HttpRequest, account: TradingAccount) -> HttpResponse:
    copy_accounts.rotate_master_token(actor=request.user, account=account)
    messages.success(request, f"New master token for {account.name}.")
    return _back(request, account)


@require_POST
@trading_view(VIEW)
def reveal_key(request: HttpRequest, account_id: int) -> HttpResponse:
    """The whole API key, only within REAUTH_MINUTES of a confirmed password (and MFA code)."""
    account = own_account_or_404(request, account_id)
    back = request.POST.get("back") or reverse("copytrade:dashboard", args=[account.pk])
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("copytrade:dashboard", args=[account.pk])
    if not reauth.recently_confirmed(user=request.user, session=request.session):
        target = f"{reverse('copytrade:reauth')}?next={back}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    response = render(request, "copytrade/_key_revealed.html", {"account": account,
                                                                "key": account.api_key_encrypted})
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def reauth_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return login_first(request)
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("copytrade:user_settings")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("copytrade:user_settings")
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reauth.confirm_identity(user=request.user, session=request.session,
                                    password=form.cleaned_data["password"], code=form.cleaned_data["code"],
                                    ip=client_ip(request))
        except DomainError as exc:
            form.add_error("code" if "code" in exc.code or "mfa" in exc.code else "password", exc.message)
        else:
            messages.success(request, "Confirmed: you can reveal keys for the next few minutes.")
            return redirect(next_url)
    status = 400 if request.method == "POST" else 200
    return render(request, "copytrade/reauth.html", {"form": form, "next": next_url,
                                                     "mfa": request.user.mfa_enabled}, status=status)


# --- /masters --------------------------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
@trading_view(VIEW)
def masters(request: HttpRequest) -> HttpResponse:
    followers = [a for a in selectors.accounts_of(request.user) if a.role == AccountRole.FOLLOWER]
    form = FollowForm(request.POST or None, followers=followers,
                      initial={"master_token": request.GET.get("token", "")})
    status = 200
    if request.method == "POST":
        if not may(request, "masters.follow"):
            return render(request, "trading/no_permission.html", {"perm": "masters.follow"}, status=403)
        if form.is_valid():
            follower = next(a for a in followers if a.pk == form.cleaned_data["follower"])
            try:
                follower = copy_accounts.follow_master(actor=request.user, follower=follower,
                                                       master_token=form.cleaned_data["master_token"])
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"{follower.name} now follows {follower.following.name}.")
                return redirect("copytrade:dashboard", account_id=follower.pk)
        status = 400
    query = request.GET.get("q", "")
    return render(request, "copytrade/masters.html", {
        "masters": list(selectors.listed_masters(query)[:100]), "q": query, "form": form,
        "followers": followers, "can_follow": may(request, "masters.follow"),
    }, status=status)


# --- /users/settings -------------------------------------------------------------------------------------

@never_cache
@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
@trading_view(VIEW)
def user_settings(request: HttpRequest) -> HttpResponse:
    """API keys of every account on top, then name, email (accounts' profile page) and password."""
    user = request.user
    which = request.POST.get("form") if request.method == "POST" else None
    profile_form = ProfileForm(request.POST if which == "profile" else None, initial={"full_name": user.full_name})
    password_form = PasswordChangeForm(user, request.POST if which == "password" else None)
    if which == "profile" and profile_form.is_valid():
        profile_services.update_profile(user=user, full_name=profile_form.cleaned_data["full_name"])
        messages.success(request, "Name saved.")
        return redirect("copytrade:user_settings")
    if which == "password" and password_form.is_valid():
        try:
            password_services.change_password(user=user,
                                              current_password=password_form.cleaned_data["current_password"],
                                              new_password=password_form.cleaned_data["new_password1"],
                                              ip=client_ip(request),
                                              current_session_id=request.session.get(SESSION_ROW_KEY))
        except DomainError as exc:
            password_form.add_error("current_password", exc.message)
        else:
            update_session_auth_hash(request, user)
            password_services.rebind_device_session(session=request.session)
            messages.success(request, "Password changed; your other devices are logged out.")
            return redirect("copytrade:user_settings")
    return render(request, "copytrade/user_settings.html", {
        "accounts": list(selectors.accounts_of(user)), "profile_form": profile_form,
        "password_form": password_form, "can_manage": may(request, MANAGE),
    }, status=400 if which else 200)
