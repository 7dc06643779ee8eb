"""Web login and logout on top of the shared credential check (accounts.services.credentials).

The credential check owns the rules (lockout per email + IP, no enumeration,
"blocked" and "verify your email first" only after the right password); this
module adds the audit trail for the browser flow.
"""

from accounts.models import User
from accounts.selectors import user_by_email
from accounts.services.credentials import CredentialsError, check_credentials
from audit.services import record_event


def authenticate_for_login(*, email: str, password: str, ip: str | None) -> User:
    """The user whose password is right and who may log in, or CredentialsError (audited) saying why not.

    Whether a second factor follows is the caller's business (`user.mfa_enabled`).
    """
    subject = (email or "").strip().lower()
    try:
        return check_credentials(email=subject, password=password, ip=ip)
    except CredentialsError as exc:
        record_event(action="user.login_failed", target=user_by_email(subject), ip_address=ip,
                     description=exc.message, details={"email": subject, "reason": exc.code})
        raise


def record_login(*, user: User, ip: str | None, second_factor: str = "") -> None:
    """Audit a completed login (after django.contrib.auth.login)."""
    record_event(action="user.login", actor=user, target=user, ip_address=ip, description="Logged in.",
                 details={"second_factor": second_factor or "none"})


def record_logout(*, user: User, ip: str | None) -> None:
    """Audit a logout (before django.contrib.auth.logout ends the session)."""
    record_event(action="user.logout", actor=user, target=user, ip_address=ip, description="Logged out.")
