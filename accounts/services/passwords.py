"""Password reset by emailed link, password change, and asking for the current password again.

Reset links carry 256 random bits, are stored only as a purpose-bound digest, work
once and expire after settings.PASSWORD_RESET_TTL. A reset request answers the same
whether or not the address is registered. A new password ends the user's other
devices: a reset ends all of them, a change all but the one making it.
"""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from accounts.middleware import SESSION_ROW_KEY
from accounts.models import PasswordReset, User, UserSession
from accounts.selectors import PASSWORD_RESET_PURPOSE, user_by_email
from accounts.services import throttling
from accounts.services.credentials import lock_message
from accounts.services.registration import EMAIL_RESEND_COOLDOWN, LinkError, send_account_email, site_link
from accounts.services.sessions import revoke_all_sessions, revoke_other_sessions
from accounts.session_store import stored_session_key
from audit.services import record_event
from core.crypto import digest, new_token
from core.errors import Forbidden, TooManyAttempts


class CurrentPasswordError(Forbidden):
    """The current password, asked again before a sensitive change, was wrong (or too many tries)."""

    code = "wrong_current_password"


class CurrentPasswordLocked(TooManyAttempts, CurrentPasswordError):
    """Too many wrong current passwords from this address: locked for a while."""

    code = "wrong_current_password"


def check_current_password(*, user: User, password: str, ip: str | None) -> None:
    """Re-authenticate a logged-in user; 5 wrong tries from one IP lock it for 15 minutes.

    Without the lock a stolen session could guess the password through these forms.
    """
    subject = str(user.pk)
    until = throttling.locked_until(scope=throttling.REAUTH, subject=subject, ip=ip)
    if until is not None:
        raise CurrentPasswordLocked(lock_message(until, timezone.now()), code="locked")
    if not user.check_password(password or ""):
        throttling.record_failure(scope=throttling.REAUTH, subject=subject, ip=ip)
        record_event(action="user.reauth_failed", actor=user, target=user,
                     description="Wrong current password given.")
        raise CurrentPasswordError("Your current password is wrong.")
    throttling.clear_failures(scope=throttling.REAUTH, subject=subject, ip=ip)


def request_password_reset(*, email: str) -> None:
    """Mail a reset link when `email` belongs to an account that may log in; otherwise do nothing.

    The caller shows the same answer either way.
    """
    user = user_by_email(email)
    if user is None or user.status == User.Status.BLOCKED or not user.has_usable_password():
        return
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if PasswordReset.objects.filter(user=user, created_at__gt=now - EMAIL_RESEND_COOLDOWN).exists():
            return
        PasswordReset.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        token = new_token()
        PasswordReset.objects.create(
            user=user,
            email=user.email,
            token_hash=digest(token, purpose=PASSWORD_RESET_PURPOSE),
            created_at=now,
            expires_at=now + settings.PASSWORD_RESET_TTL,
        )
        send_account_email(
            to=user.email,
            subject="Reset your password",
            template="password_reset",
            context={
                "user": user,
                "link": site_link("accounts:password_reset_confirm", token=token),
                "valid_minutes": int(settings.PASSWORD_RESET_TTL.total_seconds() // 60),
            },
        )
        record_event(action="user.password_reset_requested", actor=user, target=user,
                     description="Password reset link sent.", details={"email": user.email})


def reset_password(*, token: str, new_password: str) -> User:
    """Set a new password through a reset link, which is then spent.

    Every device of the user is logged out and the login lockouts on the address are
    lifted (the link proves the person owns it). Raises LinkError, changing nothing,
    for an unknown, used or expired link, and ValidationError for a weak password.
    """
    now = timezone.now()
    token_hash = digest(token or "", purpose=PASSWORD_RESET_PURPOSE)
    with transaction.atomic():
        reset = PasswordReset.objects.select_for_update().filter(token_hash=token_hash).first()
        if reset is None:
            raise LinkError("This password reset link is not valid. Check that you copied the whole link.")
        if reset.used_at is not None:
            raise LinkError("This password reset link was already used. Request a new one.", code="link_used")
        if reset.expires_at <= now:
            raise LinkError("This password reset link has expired or was replaced by a newer one. "
                            "Request a new one.", code="link_expired")
        user = User.objects.select_for_update().get(pk=reset.user_id)
        if user.status == User.Status.BLOCKED or reset.email.lower() != user.email.lower():
            raise LinkError("This password reset link is not valid.")
        validate_password(new_password, user)
        user.set_password(new_password)
        user.save(update_fields=["password", "updated_at"])
        reset.used_at = now
        reset.save(update_fields=["used_at"])
        PasswordReset.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        sessions_ended = revoke_all_sessions(user=user)
        throttling.clear_subject(scope=throttling.LOGIN, subject=user.email)
        throttling.clear_subject(scope=throttling.REAUTH, subject=str(user.pk))
        _notify_password_changed(user)
        record_event(action="user.password_reset", actor=user, target=user,
                     description="Password set through a reset link; all devices logged out.",
                     details={"sessions_revoked": sessions_ended})
    return user


def change_password(*, user: User, current_password: str, new_password: str, ip: str | None,
                    current_session_id: str | None) -> int:
    """Change a logged-in user's password; every other device is logged out.

    Returns how many other devices were logged out. The caller keeps its own browser
    logged in (update_session_auth_hash, then `rebind_device_session`).
    """
    check_current_password(user=user, password=current_password, ip=ip)
    validate_password(new_password, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password", "updated_at"])
        sessions_ended = revoke_other_sessions(user=locked, keep_session_id=current_session_id)
        _notify_password_changed(locked)
        record_event(action="user.password_changed", actor=locked, target=locked,
                     description="Password changed; other devices logged out.",
                     details={"sessions_revoked": sessions_ended})
    user.password = locked.password
    return sessions_ended


def rebind_device_session(*, session) -> None:
    """After the session key was cycled, point this browser's device row at the new key."""
    row_id = session.get(SESSION_ROW_KEY)
    if row_id and session.session_key:
        UserSession.objects.filter(pk=row_id).update(session_digest=stored_session_key(session.session_key))


def _notify_password_changed(user: User) -> None:
    send_account_email(
        to=user.email,
        subject="Your password was changed",
        template="password_changed",
        context={"user": user, "reset_link": site_link("accounts:password_reset")},
    )
