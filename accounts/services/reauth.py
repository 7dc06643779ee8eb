"""A fresh proof of identity before showing a secret: the password again (and a second-factor code when MFA
is on), remembered in the session for `REAUTH_MINUTES`. A stolen, already logged-in browser alone cannot
reveal a trading key."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from accounts.services import mfa
from accounts.services.passwords import check_current_password
from audit.services import record_event

SESSION_KEY = "reauth_at"


def confirm_identity(*, user: User, session, password: str, code: str, ip: str | None) -> None:
    """Check the password (throttled) and, when MFA is on, a code; then stamp the session.

    Raises CurrentPasswordError or an MfaError (both DomainError) and stamps nothing on failure.
    """
    check_current_password(user=user, password=password, ip=ip)
    if user.mfa_enabled:
        mfa.check_second_factor(user=user, code=(code or "").strip(), ip=ip)
    session[SESSION_KEY] = f"{user.pk}|{timezone.now().timestamp()}"
    record_event(action="user.reauth", actor=user, target=user, description="Identity confirmed again.")


def recently_confirmed(*, user: User, session) -> bool:
    """True when this session confirmed this user's identity within the last REAUTH_MINUTES."""
    stamp = session.get(SESSION_KEY, "")
    owner, _, when = stamp.partition("|")
    if owner != str(user.pk):
        return False
    try:
        moment = float(when)
    except ValueError:
        return False
    age = timezone.now().timestamp() - moment
    return 0 <= age <= timedelta(minutes=settings.REAUTH_MINUTES).total_seconds()
