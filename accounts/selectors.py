"""Reads for identity pages: users by email, link tokens, a pending email change."""

from django.utils import timezone

from accounts.models import EmailVerification, PasswordReset, User
from core.crypto import digest

EMAIL_VERIFICATION_PURPOSE = "email-verification"
PASSWORD_RESET_PURPOSE = "password-reset"


def user_by_email(email: str) -> User | None:
    """The account whose login email is `email`, compared case-insensitively."""
    email = (email or "").strip()
    if not email:
        return None
    return User.objects.filter(email__iexact=email).first()


def email_verification_for_token(token: str) -> EmailVerification | None:
    """The verification row a link token belongs to (used, expired or not)."""
    if not token:
        return None
    token_hash = digest(token, purpose=EMAIL_VERIFICATION_PURPOSE)
    return EmailVerification.objects.select_related("user").filter(token_hash=token_hash).first()


def password_reset_for_token(token: str) -> PasswordReset | None:
    """The reset row a link token belongs to (used, expired or not)."""
    if not token:
        return None
    token_hash = digest(token, purpose=PASSWORD_RESET_PURPOSE)
    return PasswordReset.objects.select_related("user").filter(token_hash=token_hash).first()


def usable_password_reset(token: str) -> PasswordReset | None:
    """The reset row when its link can still set a password: unused, unexpired, user not blocked."""
    reset = password_reset_for_token(token)
    if reset is None or reset.used_at is not None or reset.expires_at <= timezone.now():
        return None
    if reset.user.status == User.Status.BLOCKED:
        return None
    return reset


def pending_email_change(user: User) -> EmailVerification | None:
    """The newest open link for a new login email; the old email stays until it is followed."""
    return (
        EmailVerification.objects.filter(user=user, verified_at__isnull=True, expires_at__gt=timezone.now())
        .exclude(email__iexact=user.email)
        .order_by("-created_at")
        .first()
    )
