"""Adding a phone number to the profile: enter it, get an SMS code, type the code."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms_security import PhoneCodeForm, PhoneForm
from accounts.models import OtpVerification
from accounts.services import otp
from audit.context import client_ip
from core.crypto import mask
from core.errors import DomainError

PENDING_PHONE = "phone_pending"


@login_required
@require_http_methods(["GET", "POST"])
def phone_add(request):
    form = PhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            phone = otp.start_phone_verification(user=request.user, phone=form.cleaned_data["phone"])
        except DomainError as exc:
            form.add_error("phone", exc.message)
        else:
            request.session[PENDING_PHONE] = phone
            messages.success(request, f"We sent a code to {mask(phone)}.")
            return redirect("accounts:phone_verify")
    return render(request, "accounts/phone.html", {"form": form})


@login_required
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def phone_verify(request):
    phone = request.session.get(PENDING_PHONE)
    if not phone:
        messages.info(request, "Enter your phone number first.")
        return redirect("accounts:phone")
    form = PhoneCodeForm()
    if request.method == "POST" and "resend" in request.POST:
        try:
            otp.issue_otp(phone=phone, purpose=OtpVerification.Purpose.PHONE_VERIFICATION, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"We sent a new code to {mask(phone)}.")
        return redirect("accounts:phone_verify")
    if request.method == "POST":
        form = PhoneCodeForm(request.POST)
        if form.is_valid():
            try:
                otp.confirm_phone(user=request.user, phone=phone, code=form.cleaned_data["code"],
                                  ip=client_ip(request))
            except DomainError as exc:
                form.add_error("code", exc.message)
            else:
                request.session.pop(PENDING_PHONE, None)
                messages.success(request, f"Your phone number {mask(phone)} is verified.")
                return redirect("accounts:security")
    return render(request, "accounts/phone_verify.html", {"form": form, "phone": phone,
                                                          "masked_phone": mask(phone)})
