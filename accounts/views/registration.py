"""Sign-up, the email verification link, and asking for a new link."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import EmailForm, RegistrationForm
from accounts.services import registration as signup
from accounts.services.registration import LinkError


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The same page whether the address was new or already registered (no enumeration).
        signup.register_user(email=form.cleaned_data["email"], full_name=form.cleaned_data["full_name"],
                             password=form.cleaned_data["new_password1"])
        return render(request, "accounts/register_done.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/register.html", {"form": form})


@never_cache
@require_GET
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        result = signup.verify_email(token=token)
    except LinkError as exc:
        return render(request, "accounts/verify_failed.html", {"message": exc.message}, status=400)
    if result.previous_email:
        messages.success(request, f"Your login email is now {result.user.email}.")
        return redirect("accounts:profile" if request.user.is_authenticated else "accounts:login")
    messages.success(request, "Your email is verified. You can log in now.")
    return redirect("accounts:login")


@never_cache
@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        signup.resend_verification(email=form.cleaned_data["email"])
        return render(request, "accounts/verify_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/verify_resend.html", {"form": form})

