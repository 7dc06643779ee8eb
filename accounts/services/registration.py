"""Sign-up and email verification.

Link tokens carry 256 random bits, are stored only as a purpose-bound digest,
work once and expire (settings.EMAIL_VERIFICATION_TTL). No answer here says
whether an email is registered: registering a known address creates nothing and
mails its owner a notice instead, and a resend request answers the same either way.
Emails leave after the transaction commits, so a rolled-back sign-up sends nothing.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailVerification, PasswordReset, User
from accounts.selectors import EMAIL_VERIFICATION_PURPOSE, user_by_email
from audit.services import record_event
from core.crypto import digest, new_token
from core.errors import InvalidInput

logger = logging.getLogger(__name__)

# A second link for the same address is not mailed sooner than this (stops mail bombing).
EMAIL_RESEND_COOLDOWN = timedelta(minutes=1)


class LinkError(InvalidInput):
    """An emailed link that cannot be used: unknown, already used or expired."""

    code = "invalid_link"


@dataclass(frozen=True)
class VerifiedEmail:
    user: User
    previous_email: str | None  # set when the link confirmed a change of login email


def site_link(viewname: str, **kwargs) -> str:
    """An absolute link for an email: SITE_URL + the named route."""
    return settings.SITE_URL.rstrip("/") + reverse(viewname, kwargs=kwargs or None)


def send_account_email(*, to: str, subject: str, template: str, context: dict) -> None:
    """Mail one plain-text message (accounts/email/<template>.txt) once the transaction commits.

    A mail server failure is logged, not raised: the change is already committed and
    the person can ask for another link.
    """
    body = render_to_string(f"accounts/email/{template}.txt", {"site_url": settings.SITE_URL, **context})

    def deliver() -> None:
        try:
            send_mail(subject, body, None, [to])
        except Exception:
            logger.exception("Could not send the %s email", template)

    transaction.on_commit(deliver)


def supersede_open_verifications(user: User) -> None:
    """Older unused links of this user stop working; only the newest one counts."""
    now = timezone.now()
    EmailVerification.objects.filter(user=user, verified_at__isnull=True, expires_at__gt=now).update(expires_at=now)


def issue_email_verification(*, user: User, email: str, template: str = "verify_email") -> EmailVerification:
    """Store a new hashed link token for `email` and mail the link there. Needs an open transaction."""
    token = new_token()
    now = timezone.now()
    verification = EmailVerification.objects.create(
        user=user,
        email=email,
        token_hash=digest(token, purpose=EMAIL_VERIFICATION_PURPOSE),
        created_at=now,
        expires_at=now + settings.EMAIL_VERIFICATION_TTL,
    )
    send_account_email(
        to=email,
        subject="Confirm your email address",
        template=template,
        context={
            "user": user,
            "email": email,
            "link": site_link("accounts:verify_email", token=token),
            "valid_hours": int(settings.EMAIL_VERIFICATION_TTL.total_seconds() // 3600),
        },
    )
    return verification


def _notify_existing_owner(owner: User) -> None:
    """Someone tried to register an address that already has an account: tell its owner only."""
    send_account_email(
        to=owner.email,
        subject="Someone tried to register with your email",
        template="register_existing",
        context={
            "user": owner,
            "pending": not owner.email_verified,
            "login_link": site_link("accounts:login"),
            "reset_link": site_link("accounts:password_reset"),
            "resend_link": site_link("accounts:resend_verification"),
        },
    )
    record_event(action="user.registration_attempt_existing", target=owner,
                 description="Registration tried with an address that already has an account.")


def register_user(*, email: str, full_name: str, password: str) -> User | None:
    """Create a pending account and mail its verification link.

    Returns None when the address is already registered (any letter case): nothing
    is created and the owner gets a notice, so the caller answers exactly as for a
    new account.
    """
    email = User.objects.normalize_email(email.strip())
    existing = user_by_email(email)
    if existing is not None:
        _notify_existing_owner(existing)
        return None
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=password,
                full_name=full_name.strip(),
                status=User.Status.PENDING,
                email_verified=False,
            )
            issue_email_verification(user=user, email=user.email)
            record_event(action="user.registered", actor=user, target=user, description="Account registered.",
                         details={"email": user.email, "status": user.status})
    except IntegrityError:
        # A concurrent sign-up with the same address won the race; answer as for a known address.
        existing = user_by_email(email)
        if existing is None:
            raise
        _notify_existing_owner(existing)
        return None
    return user


def resend_verification(*, email: str) -> None:
    """Mail a fresh link to an unverified account; silently nothing for any other address."""
    user = user_by_email(email)
    if user is None or user.email_verified or user.status == User.Status.BLOCKED:
        return
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        recently_sent = EmailVerification.objects.filter(
            user=user, email__iexact=user.email, created_at__gt=timezone.now() - EMAIL_RESEND_COOLDOWN
        ).exists()
        if recently_sent:
            return
        supersede_open_verifications(user)
        issue_email_verification(user=user, email=user.email)
        record_event(action="user.verification_resent", actor=user, target=user,
                     description="A new email verification link was sent.", details={"email": user.email})


def verify_email(*, token: str) -> VerifiedEmail:
    """Follow a verification link: confirms a new account's email, or switches the login email.

    Raises LinkError (nothing changed) for an unknown, used, expired or superseded link.
    """
    now = timezone.now()
    token_hash = digest(token or "", purpose=EMAIL_VERIFICATION_PURPOSE)
    with transaction.atomic():
        verification = EmailVerification.objects.select_for_update().filter(token_hash=token_hash).first()
        if verification is None:
            raise LinkError("This verification link is not valid. Check that you copied the whole link.")
        if verification.verified_at is not None:
            raise LinkError("This verification link was already used.", code="link_used")
        if verification.expires_at <= now:
            raise LinkError("This verification link has expired or was replaced by a newer one. "
                            "Request a new link.", code="link_expired")
        user = User.objects.select_for_update().get(pk=verification.user_id)
        if user.status == User.Status.BLOCKED:
            raise LinkError("This verification link is not valid.")

        previous_email = None
        changes = {"email_verified": {"old": user.email_verified, "new": True}}
        if verification.email.lower() != user.email.lower():
            previous_email = _switch_login_email(user=user, new_email=verification.email)
            changes["email"] = {"old": previous_email, "new": user.email}
        user.email_verified = True
        if user.status == User.Status.PENDING:
            changes["status"] = {"old": user.status, "new": User.Status.ACTIVE.value}
            user.status = User.Status.ACTIVE
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified", "status", "updated_at"])
        except IntegrityError:
            raise LinkError("This address now belongs to another account; the link cannot be used.",
                            code="email_taken")
        verification.verified_at = now
        verification.save(update_fields=["verified_at"])
        supersede_open_verifications(user)
        record_event(action="user.email_verified", actor=user, target=user,
                     description="Login email changed." if previous_email else "Email verified.", details=changes)
    return VerifiedEmail(user=user, previous_email=previous_email)


def _switch_login_email(*, user: User, new_email: str) -> str:
    """Make a confirmed new address the login email; returns the old one.

    Reset links mailed to the old address stop working with it.
    """
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        raise LinkError("This address now belongs to another account; the link cannot be used.",
                        code="email_taken")
    previous_email = user.email
    user.email = new_email
    PasswordReset.objects.filter(user=user, used_at__isnull=True, expires_at__gt=timezone.now()).update(
        expires_at=timezone.now()
    )
    return previous_email
