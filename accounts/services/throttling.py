"""Lockouts for login, OTP and MFA codes: 5 failures of one subject from one IP
within 15 minutes lock that pair for 15 minutes (settings.LOCKOUT_*).

One mechanism for every kind of code, kept in the database so it holds across
processes and restarts. A success clears the pair's failures.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from accounts.models import FailedAttempt

LOGIN = "login"
OTP = "otp"
MFA = "mfa"
REAUTH = "reauth"  # the current password asked again (password change, email change)


def _pair(scope: str, subject: str, ip: str | None):
    return FailedAttempt.objects.filter(scope=scope, subject=subject.lower(), ip_address=ip)


def locked_until(*, scope: str, subject: str, ip: str | None) -> datetime | None:
    """When the pair's lock ends, or None when it is not locked."""
    limit = settings.LOCKOUT_FAILURES
    recent = list(
        _pair(scope, subject, ip)
        .filter(created_at__gte=timezone.now() - settings.LOCKOUT_WINDOW - settings.LOCKOUT_DURATION)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    newest, oldest = recent[0], recent[-1]
    if newest - oldest > settings.LOCKOUT_WINDOW:
        return None
    until = newest + settings.LOCKOUT_DURATION
    return until if until > timezone.now() else None


def is_locked(*, scope: str, subject: str, ip: str | None) -> bool:
    return locked_until(scope=scope, subject=subject, ip=ip) is not None


def record_failure(*, scope: str, subject: str, ip: str | None) -> None:
    FailedAttempt.objects.create(scope=scope, subject=subject.lower(), ip_address=ip)


def clear_failures(*, scope: str, subject: str, ip: str | None) -> None:
    _pair(scope, subject, ip).delete()


def clear_subject(*, scope: str, subject: str) -> None:
    """Forget a subject's failures from every IP (after a password reset proves ownership)."""
    FailedAttempt.objects.filter(scope=scope, subject=subject.lower()).delete()
