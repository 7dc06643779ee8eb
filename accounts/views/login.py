"""Login (email + password, then MFA when turned on) and logout."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import LoginForm
from accounts.services.credentials import CredentialsError, EmailNotVerified
from accounts.services.login import authenticate_for_login, record_login, record_logout
from accounts.views.mfa import PENDING_AT, PENDING_NEXT, PENDING_USER, start_mfa_challenge
from audit.context import client_ip

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def safe_next_url(request: HttpRequest, candidate: str | None) -> str | None:
    """`candidate` when it points at this site (no open redirect), else None."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    form = LoginForm(request.POST or None, initial={"next": next_url or ""})
    unverified_email = ""
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            user = authenticate_for_login(email=form.cleaned_data["email"], password=form.cleaned_data["password"],
                                          ip=ip)
        except CredentialsError as exc:
            form.add_error(None, exc.message)
            if isinstance(exc, EmailNotVerified):
                unverified_email = form.cleaned_data["email"]
        else:
            destination = next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
            if user.mfa_enabled:
                # The second factor (accounts.views.mfa.mfa_challenge) finishes the login.
                start_mfa_challenge(request, user=user, next_url=destination)
                return redirect("accounts:mfa_challenge")
            for key in (PENDING_USER, PENDING_NEXT, PENDING_AT):
                request.session.pop(key, None)
            auth_login(request, user, backend=MODEL_BACKEND)
            record_login(user=user, ip=ip)
            return redirect(destination)
    return render(request, "accounts/login.html", {"form": form, "unverified_email": unverified_email})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record_logout(user=request.user, ip=client_ip(request))
        auth_logout(request)
        messages.info(request, "You are logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
