"""Forgotten password (emailed link) and password change."""

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailForm, PasswordChangeForm, SetPasswordForm
from accounts.middleware import SESSION_ROW_KEY
from accounts.selectors import usable_password_reset
from accounts.services import passwords
from accounts.services.passwords import CurrentPasswordError
from accounts.services.registration import LinkError
from audit.context import client_ip

INVALID_RESET_LINK = "This password reset link is not valid, was already used or has expired. Request a new one."


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_request(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The same answer whether or not the address is registered.
        passwords.request_password_reset(email=form.cleaned_data["email"])
        return render(request, "accounts/password_reset_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/password_reset.html", {"form": form})


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, token: str) -> HttpResponse:
    reset = usable_password_reset(token)
    if reset is None:
        return render(request, "accounts/password_reset_confirm.html", {"invalid": INVALID_RESET_LINK}, status=400)
    form = SetPasswordForm(reset.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = passwords.reset_password(token=token, new_password=form.cleaned_data["new_password1"])
        except LinkError as exc:
            return render(request, "accounts/password_reset_confirm.html", {"invalid": exc.message}, status=400)
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        else:
            if request.user.is_authenticated and request.user.pk == user.pk:
                auth_logout(request)
            messages.success(request, "Your password was changed and every device was logged out. "
                                      "Log in with the new password.")
            return redirect("accounts:login")
    return render(request, "accounts/password_reset_confirm.html", {"form": form})


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ended = passwords.change_password(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
                ip=client_ip(request),
                current_session_id=request.session.get(SESSION_ROW_KEY),
            )
        except CurrentPasswordError as exc:
            form.add_error("current_password", exc.message)
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        else:
            update_session_auth_hash(request, request.user)
            passwords.rebind_device_session(session=request.session)
            messages.success(request, f"Your password was changed. Other devices logged out: {ended}.")
            return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form})
