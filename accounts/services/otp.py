"""Phone one-time codes (table `otp_verifications`: hashed, purpose-bound, expiring, attempt-limited) and
phone verification.

A code is 6 random digits, stored only as a keyed digest bound to its purpose and
row id (equal codes never share a hash, a code for one purpose never verifies
another), lives settings.OTP_TTL, dies after settings.OTP_MAX_ATTEMPTS wrong tries,
is single use, and a new one for the same phone and purpose can be requested only
after settings.OTP_RESEND_COOLDOWN; requesting a new one retires the older codes.
Wrong codes also count towards the lockout of scope OTP (subject = phone, per IP).
"""

import hmac
import math
import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import E164, OtpVerification, User
from accounts.services import throttling
from accounts.sms import SmsDeliveryError, send_sms
from audit.services import record_event
from core.crypto import digest, mask
from core.errors import InvalidInput, TooManyAttempts, Unavailable

Purpose = OtpVerification.Purpose

SMS_TEXTS = {
    Purpose.REGISTRATION: "Your registration code is {code}. It expires in {minutes} minutes.",
    Purpose.LOGIN: "Your login code is {code}. It expires in {minutes} minutes. Never share it.",
    Purpose.PASSWORD_RESET: "Your password reset code is {code}. It expires in {minutes} minutes.",
    Purpose.PHONE_VERIFICATION: "Your phone verification code is {code}. It expires in {minutes} minutes.",
}


class OtpError(InvalidInput):
    code = "otp_error"


class OtpRejected(OtpError):
    code = "invalid_code"


class OtpLocked(TooManyAttempts, OtpError):
    code = "locked"


class OtpCooldown(TooManyAttempts, OtpError):
    code = "resend_too_soon"


class OtpNotSent(Unavailable, OtpError):
    code = "sms_not_sent"


class PhoneError(OtpError):
    code = "invalid_phone"


def normalize_phone(raw: str) -> str:
    """'+66 81-234 5678' -> '+66812345678'; raises PhoneError unless it is E.164."""
    phone = "".join(ch for ch in (raw or "") if ch not in " -().")
    if not E164.match(phone):
        raise PhoneError("Enter the phone number in international format, e.g. +66812345678.",
                         fields={"phone": ["Not an E.164 number."]})
    return phone


def _code_digest(*, code: str, purpose: str, row_id: uuid.UUID) -> str:
    return digest(code, purpose=f"otp:{purpose}:{row_id}")


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def _lock_message(until: datetime) -> str:
    return f"Too many wrong codes. Try again in {_minutes((until - timezone.now()).total_seconds())}."


def resend_available_at(*, phone: str, purpose: str) -> datetime | None:
    """When a new code may be sent, or None when it may be sent now."""
    latest = (OtpVerification.objects.filter(phone_number=phone, purpose=purpose)
              .order_by("-created_at").values_list("created_at", flat=True).first())
    if latest is None:
        return None
    ready = latest + settings.OTP_RESEND_COOLDOWN
    return ready if ready > timezone.now() else None


def issue_otp(*, phone: str, purpose: str, user: User | None = None) -> OtpVerification:
    """Create a code for (phone, purpose) and text it; older live codes for the pair die."""
    phone = normalize_phone(phone)
    if purpose not in Purpose.values:
        raise OtpError("Unknown code purpose.", code="invalid_purpose")
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        # Serialize requests for one user (or phone) so two cannot both pass the cool-down.
        if user is not None:
            User.objects.select_for_update().filter(pk=user.pk).first()
        ready = resend_available_at(phone=phone, purpose=purpose)
        if ready is not None:
            wait = (ready - now).total_seconds()
            raise OtpCooldown(f"A code was sent moments ago. You can ask for a new one in {math.ceil(wait)} seconds.")
        OtpVerification.objects.filter(phone_number=phone, purpose=purpose, is_used=False,
                                       expires_at__gt=now).update(expires_at=now)
        row_id = uuid.uuid4()
        row = OtpVerification.objects.create(
            id=row_id, user=user, phone_number=phone, purpose=purpose,
            code_hash=_code_digest(code=code, purpose=purpose, row_id=row_id),
            created_at=now, expires_at=now + settings.OTP_TTL,
        )
    text = SMS_TEXTS[purpose].format(code=code, minutes=int(settings.OTP_TTL.total_seconds() // 60))
    try:
        send_sms(phone, text)
    except SmsDeliveryError:
        # Nothing was sent: drop the row so the cool-down does not block a retry.
        OtpVerification.objects.filter(pk=row.pk).delete()
        raise OtpNotSent("The SMS could not be sent. Please try again in a moment.")
    return row


def verify_otp(*, phone: str, purpose: str, code: str, ip: str | None, user: User | None = None) -> OtpVerification:
    """Spend the live code for (phone, purpose[, user]) if `code` matches; raises otherwise.

    A wrong code costs the row one attempt (it dies at OTP_MAX_ATTEMPTS) and counts
    towards the (phone, IP) lockout. The counters are written before the error is
    raised, outside any transaction a raise would roll back.
    """
    phone = normalize_phone(phone)
    until = throttling.locked_until(scope=throttling.OTP, subject=phone, ip=ip)
    if until is not None:
        raise OtpLocked(_lock_message(until))
    value = "".join((code or "").split())
    now = timezone.now()
    error: OtpError | None = None
    with transaction.atomic():
        rows = OtpVerification.objects.select_for_update().filter(
            phone_number=phone, purpose=purpose, is_used=False, expires_at__gt=now,
            attempts__lt=settings.OTP_MAX_ATTEMPTS,
        )
        if user is not None:
            rows = rows.filter(user=user)
        row = rows.order_by("-created_at").first()
        if row is None:
            error = OtpRejected("The code is wrong or has expired. Ask for a new one.")
        elif not (len(value) == 6 and value.isdigit() and hmac.compare_digest(
                row.code_hash, _code_digest(code=value, purpose=purpose, row_id=row.pk))):
            OtpVerification.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            left = settings.OTP_MAX_ATTEMPTS - row.attempts - 1
            if left <= 0:
                error = OtpRejected("Too many wrong tries: this code no longer works. Ask for a new one.")
            else:
                error = OtpRejected(f"The code is wrong. {left} {'try' if left == 1 else 'tries'} left.")
        else:
            spent = OtpVerification.objects.filter(pk=row.pk, is_used=False).update(is_used=True)
            if not spent:
                error = OtpRejected("The code is wrong or has expired. Ask for a new one.")
            row.is_used = True
    if error is not None:
        throttling.record_failure(scope=throttling.OTP, subject=phone, ip=ip)
        until = throttling.locked_until(scope=throttling.OTP, subject=phone, ip=ip)
        if until is not None:
            raise OtpLocked(_lock_message(until))
        raise error
    throttling.clear_failures(scope=throttling.OTP, subject=phone, ip=ip)
    return row


# --- phone verification on the profile ---------------------------------------------------------

def _phone_taken(*, phone: str, user: User) -> bool:
    return User.objects.filter(phone=phone).exclude(pk=user.pk).exists()


def start_phone_verification(*, user: User, phone: str) -> str:
    """Check the number is free and text a PHONE_VERIFICATION code; returns the normalized number."""
    phone = normalize_phone(phone)
    if user.phone == phone and user.phone_verified:
        raise PhoneError("This number is already verified on your account.", code="phone_already_verified")
    if _phone_taken(phone=phone, user=user):
        raise PhoneError("This phone number is already in use by another account.", code="phone_taken",
                         fields={"phone": ["Already in use."]})
    issue_otp(phone=phone, purpose=Purpose.PHONE_VERIFICATION, user=user)
    return phone


def confirm_phone(*, user: User, phone: str, code: str, ip: str | None) -> User:
    """Spend the code and make `phone` the user's verified number."""
    phone = normalize_phone(phone)
    if _phone_taken(phone=phone, user=user):
        raise PhoneError("This phone number is already in use by another account.", code="phone_taken")
    verify_otp(phone=phone, purpose=Purpose.PHONE_VERIFICATION, code=code, ip=ip, user=user)
    previous = user.phone
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(phone=phone, phone_verified=True, updated_at=timezone.now())
            record_event(action="phone.verified", actor=user, target=user, description="Phone number verified.",
                         details={"phone": {"old": mask(previous), "new": mask(phone)}})
    except IntegrityError:
        raise PhoneError("This phone number is already in use by another account.", code="phone_taken")
    user.phone, user.phone_verified = phone, True
    return user
