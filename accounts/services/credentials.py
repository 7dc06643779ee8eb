"""The email + password check shared by the web login and the API token endpoint.

Same rules everywhere: the (email, IP) pair is locked after settings.LOCKOUT_FAILURES
wrong passwords within LOCKOUT_WINDOW (scope LOGIN); the answer never tells whether
an email is registered; "blocked" and "verify your email first" are said only after
the right password was given. A success clears the pair's failures.
"""

import math
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User
from accounts.services import throttling
from core.errors import Forbidden, NotAuthenticated, TooManyAttempts

GENERIC_FAILURE = "The email or password is wrong."


class CredentialsError(NotAuthenticated):
    code = "invalid_credentials"


class CredentialsLocked(TooManyAttempts, CredentialsError):
    code = "locked"

    def __init__(self, message: str, *, until: datetime):
        super().__init__(message)
        self.until = until


class AccountBlocked(Forbidden, CredentialsError):
    code = "account_blocked"


class EmailNotVerified(Forbidden, CredentialsError):
    code = "email_not_verified"


def lock_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return f"Too many attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def check_credentials(*, email: str, password: str, ip: str | None) -> User:
    """The user for a right email + password, or a CredentialsError subclass saying why not."""
    subject = (email or "").strip().lower()
    until = throttling.locked_until(scope=throttling.LOGIN, subject=subject, ip=ip)
    if until is not None:
        raise CredentialsLocked(lock_message(until, timezone.now()), until=until)
    user = User.objects.filter(email__iexact=subject).first() if subject else None
    if user is None:
        make_password(password)  # spend the same time as a real check: no enumeration by timing
        password_ok = False
    else:
        password_ok = user.check_password(password or "")
    if not password_ok:
        throttling.record_failure(scope=throttling.LOGIN, subject=subject, ip=ip)
        until = throttling.locked_until(scope=throttling.LOGIN, subject=subject, ip=ip)
        if until is not None:
            raise CredentialsLocked(lock_message(until, timezone.now()), until=until)
        raise CredentialsError(GENERIC_FAILURE)
    throttling.clear_failures(scope=throttling.LOGIN, subject=subject, ip=ip)
    if user.status == User.Status.BLOCKED:
        raise AccountBlocked("This account is blocked. Contact support.")
    if user.status == User.Status.PENDING or not user.email_verified:
        raise EmailNotVerified("Verify your email first: follow the link we sent you.")
    return user
