"""Security overview, MFA set-up / disable / backup codes, and the MFA step of the login."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms_security import BackupCodesRegenerateForm, MfaChallengeForm, MfaDisableForm, TotpCodeForm
from accounts.models import User
from accounts.services import mfa
from accounts.services.login import record_login
from accounts.services.sessions import live_sessions
from audit.context import client_ip
from core.errors import DomainError

# Set by the login view after a right password for a user with MFA on.
PENDING_USER = "mfa_pending_user_id"
PENDING_NEXT = "mfa_pending_next"
PENDING_AT = "mfa_pending_at"  # unix time the challenge started
PENDING_TTL_SECONDS = 5 * 60


def start_mfa_challenge(request, *, user: User, next_url: str = "") -> None:
    """What the login view stores before redirecting to `accounts:mfa_challenge`."""
    request.session[PENDING_USER] = str(user.pk)
    request.session[PENDING_NEXT] = next_url
    request.session[PENDING_AT] = int(time.time())


def _clear_pending(request) -> None:
    for key in (PENDING_USER, PENDING_NEXT, PENDING_AT):
        request.session.pop(key, None)


def _codes_page(request, codes: list[str], *, title: str):
    response = render(request, "accounts/backup_codes.html", {"codes": codes, "title": title,
                                                               "codes_left": len(codes)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def security(request):
    user = request.user
    return render(request, "accounts/security.html", {
        "backup_codes_left": mfa.backup_codes_left(user=user) if user.mfa_enabled else 0,
        "device_count": live_sessions(user=user).count(),
    })


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    user = request.user
    if user.mfa_enabled:
        messages.info(request, "Two-factor authentication is already on.")
        return redirect("accounts:security")
    secret = mfa.start_setup(user=user)
    form = TotpCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.enable_mfa(user=user, code=form.cleaned_data["code"], ip=client_ip(request))
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            messages.success(request, "Two-factor authentication is on.")
            return _codes_page(request, codes, title="Two-factor authentication is on")
    uri = mfa.provisioning_uri(user=user, secret=secret)
    response = render(request, "accounts/mfa_setup.html", {
        "form": form, "qr_svg": mfa.qr_svg(uri), "secret": secret,
        "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    })
    response["Cache-Control"] = "no-store"
    return response


@login_required
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def mfa_disable(request):
    user = request.user
    if not user.mfa_enabled:
        messages.info(request, "Two-factor authentication is already off.")
        return redirect("accounts:security")
    form = MfaDisableForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            mfa.disable_mfa(user=user, password=form.cleaned_data["password"], code=form.cleaned_data["code"],
                            ip=client_ip(request))
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("accounts:security")
    return render(request, "accounts/mfa_disable.html", {"form": form})


@login_required
@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def backup_codes(request):
    user = request.user
    if not user.mfa_enabled:
        messages.info(request, "Turn on two-factor authentication first.")
        return redirect("accounts:security")
    form = BackupCodesRegenerateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.regenerate_backup_codes(user=user, ip=client_ip(request), code=form.cleaned_data["code"],
                                                password=form.cleaned_data["password"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "New backup codes made; the old ones no longer work.")
            return _codes_page(request, codes, title="Your new backup codes")
    return render(request, "accounts/backup_codes.html", {
        "form": form, "codes_left": mfa.backup_codes_left(user=user), "title": "Backup codes",
    })


def _pending_user(request) -> tuple[User | None, bool]:
    """(user waiting for the second factor, expired?) from the session."""
    user_id = request.session.get(PENDING_USER)
    if not user_id:
        return None, False
    started = request.session.get(PENDING_AT)
    if started is None:  # the login view did not stamp it: the challenge starts now
        started = request.session[PENDING_AT] = int(time.time())
    if time.time() - float(started) > PENDING_TTL_SECONDS:
        _clear_pending(request)
        return None, True
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active or not user.mfa_enabled:
        _clear_pending(request)
        return None, False
    return user, False


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def mfa_challenge(request):
    user, expired = _pending_user(request)
    if user is None:
        if expired:
            messages.warning(request, "That took too long. Log in again.")
        return redirect(settings.LOGIN_URL)
    form = MfaChallengeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            kind = mfa.check_second_factor(user=user, code=form.cleaned_data["code"], ip=ip)
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            next_url = request.session.get(PENDING_NEXT) or ""
            _clear_pending(request)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            record_login(user=user, ip=ip, second_factor=kind)
            if kind == "backup":
                left = mfa.backup_codes_left(user=user)
                messages.warning(request, f"You used a backup code; {left} left. Make new ones on the security page "
                                          "if you are running low.")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
                next_url = settings.LOGIN_REDIRECT_URL
            return redirect(next_url)
    return render(request, "accounts/mfa_challenge.html", {"form": form, "pending_email": user.email})
