"""The profile page: name, and a change of login email (verified before it takes effect)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailChangeForm, ProfileForm
from accounts.selectors import pending_email_change
from accounts.services import profile as profile_service
from accounts.services.passwords import CurrentPasswordError
from audit.context import client_ip

PROFILE_FORM = "profile"
EMAIL_FORM = "email"


@sensitive_post_parameters("current_password")
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    which = request.POST.get("form") if request.method == "POST" else None
    profile_form = ProfileForm(request.POST if which == PROFILE_FORM else None,
                               initial={"full_name": user.full_name})
    email_form = EmailChangeForm(user, request.POST if which == EMAIL_FORM else None)

    if which == PROFILE_FORM and profile_form.is_valid():
        changes = profile_service.update_profile(user=user, full_name=profile_form.cleaned_data["full_name"])
        messages.success(request, "Profile saved." if changes else "Nothing to change.")
        return redirect("accounts:profile")
    if which == EMAIL_FORM and email_form.is_valid():
        try:
            profile_service.request_email_change(user=user, new_email=email_form.cleaned_data["new_email"],
                                                 current_password=email_form.cleaned_data["current_password"],
                                                 ip=client_ip(request))
        except CurrentPasswordError as exc:
            email_form.add_error("current_password", exc.message)
        else:
            messages.success(request, f"We sent a link to {email_form.cleaned_data['new_email']}. Your login "
                                      f"email changes when you follow it; until then keep using {user.email}.")
            return redirect("accounts:profile")

    return render(request, "accounts/profile.html", {
        "profile_form": profile_form,
        "email_form": email_form,
        "pending_change": pending_email_change(user),
    })
