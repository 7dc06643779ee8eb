"""Two-factor authentication: TOTP (RFC 6238, 30 s steps, ±1 step) and single-use backup codes.

The secret lives encrypted on the user row (EncryptedTextField). Set-up stores a
fresh secret there with `mfa_enabled` still False; only a correct code turns MFA
on. A TOTP code is accepted once: the accepted time step is kept in
`mfa_last_used_step` and a code for that step or an earlier one is refused.
Wrong codes count towards the lockout of scope MFA (subject = user id, per IP).
"""

import hmac
import math
import re
import secrets
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import BackupCode, User
from accounts.services import throttling
from audit.services import record_event
from core.crypto import digest
from core.errors import InvalidInput, NotAuthenticated, TooManyAttempts

TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # steps either side of now
BACKUP_CODE_COUNT = 10
BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
BACKUP_CODE_LENGTH = 10  # ~49 bits each


class MfaError(InvalidInput):
    code = "mfa_error"


class CodeRejected(NotAuthenticated, MfaError):
    """A wrong, reused or expired second-factor code."""

    code = "invalid_code"


class CodeLocked(TooManyAttempts, MfaError):
    code = "locked"


def lock_message(until: datetime) -> str:
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many wrong codes. Try again in {minutes} {unit}."


def _raise_if_locked(*, subject: str, ip: str | None, scope: str = throttling.MFA) -> None:
    until = throttling.locked_until(scope=scope, subject=subject, ip=ip)
    if until is not None:
        raise CodeLocked(lock_message(until))


def _fail(*, user: User, ip: str | None, message: str) -> CodeRejected:
    """Count the failure (outside any transaction that the raise would roll back)."""
    throttling.record_failure(scope=throttling.MFA, subject=str(user.pk), ip=ip)
    until = throttling.locked_until(scope=throttling.MFA, subject=str(user.pk), ip=ip)
    if until is not None:
        return CodeLocked(lock_message(until))
    return CodeRejected(message)


# --- TOTP ---------------------------------------------------------------------------------------

def new_secret() -> str:
    return pyotp.random_base32()


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL)


def current_step(at: datetime | None = None) -> int:
    moment = at or timezone.now()
    return int(moment.timestamp()) // TOTP_INTERVAL


def normalize_totp(code: str) -> str:
    return "".join((code or "").split()).replace("-", "")


def looks_like_totp(code: str) -> bool:
    value = normalize_totp(code)
    return len(value) == 6 and value.isdigit()


def matching_step(secret: str, code: str, *, at: datetime | None = None) -> int | None:
    """The time step (within ±1 of now) whose code equals `code`, else None."""
    value = normalize_totp(code)
    if not (secret and looks_like_totp(value)):
        return None
    totp = _totp(secret)
    now_step = current_step(at)
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * TOTP_INTERVAL), value):
            return step
    return None


def _claim_step(*, user: User, step: int) -> bool:
    """Compare-and-swap: record `step` as used unless it (or a later one) already was."""
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(Q(mfa_last_used_step__isnull=True) | Q(mfa_last_used_step__lt=step))
        .update(mfa_last_used_step=step)
    )
    if claimed:
        user.mfa_last_used_step = step
    return bool(claimed)


def provisioning_uri(*, user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)


def qr_svg(data: str) -> str:
    """An inline <svg> of the QR code (no external requests, no image files)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    markup = image.to_string(encoding="unicode")
    markup = markup[markup.index("<svg"):]
    # Scale with the page instead of the library's fixed millimetre size.
    return re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg width="240" height="240" role="img"', markup)


# --- backup codes -------------------------------------------------------------------------------

def normalize_backup_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _backup_digest(*, user: User, code: str) -> str:
    return digest(normalize_backup_code(code), purpose=f"mfa-backup:{user.pk}")


def _new_backup_code() -> str:
    raw = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _replace_backup_codes(*, user: User) -> list[str]:
    """Old codes die, ten new ones are stored hashed; the plain codes are returned once."""
    BackupCode.objects.filter(user=user).delete()
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.bulk_create(BackupCode(user=user, code_hash=_backup_digest(user=user, code=c)) for c in codes)
    return codes


def backup_codes_left(*, user: User) -> int:
    return BackupCode.objects.filter(user=user, used_at__isnull=True).count()


def _use_backup_code(*, user: User, code: str) -> bool:
    value = normalize_backup_code(code)
    if len(value) != BACKUP_CODE_LENGTH:
        return False
    used = BackupCode.objects.filter(
        user=user, code_hash=_backup_digest(user=user, code=value), used_at__isnull=True
    ).update(used_at=timezone.now())
    return bool(used)


# --- checks -------------------------------------------------------------------------------------

def check_second_factor(*, user: User, code: str, ip: str | None, allow_backup: bool = True) -> str:
    """Accept a current TOTP code (once) or an unused backup code; returns "totp" or "backup".

    Raises CodeLocked while the (user, IP) pair is locked and CodeRejected for a wrong
    or reused code; each refusal counts towards the lock.
    """
    subject = str(user.pk)
    _raise_if_locked(subject=subject, ip=ip)
    if not user.mfa_enabled or not user.mfa_secret:
        raise CodeRejected("Two-factor authentication is not turned on for this account.")
    if looks_like_totp(code):
        step = matching_step(user.mfa_secret, code)
        if step is None:
            raise _fail(user=user, ip=ip, message="That code is wrong or has expired.")
        if not _claim_step(user=user, step=step):
            raise _fail(user=user, ip=ip, message="That code was already used. Wait for the next one.")
        kind = "totp"
    elif allow_backup and _use_backup_code(user=user, code=code):
        kind = "backup"
        record_event(action="mfa.backup_code_used", actor=user, target=user,
                     details={"backups_remaining": backup_codes_left(user=user)})
    else:
        raise _fail(user=user, ip=ip, message="That code is wrong or has expired.")
    throttling.clear_failures(scope=throttling.MFA, subject=subject, ip=ip)
    return kind


def _check_password(*, user: User, password: str, ip: str | None) -> None:
    if not user.check_password(password or ""):
        raise _fail(user=user, ip=ip, message="The password is wrong.")


# --- actions ------------------------------------------------------------------------------------

def start_setup(*, user: User) -> str:
    """The pending secret for set-up: kept (encrypted) on the user until confirmed."""
    if user.mfa_enabled:
        raise MfaError("Two-factor authentication is already on.", code="mfa_already_enabled")
    if not user.mfa_secret:
        user.mfa_secret = new_secret()
        user.mfa_last_used_step = None
        user.save(update_fields=["mfa_secret", "mfa_last_used_step", "updated_at"])
    return user.mfa_secret


def enable_mfa(*, user: User, code: str, ip: str | None) -> list[str]:
    """Confirm set-up with a code from the app: MFA goes on and ten backup codes come back once."""
    subject = str(user.pk)
    _raise_if_locked(subject=subject, ip=ip)
    if user.mfa_enabled:
        raise MfaError("Two-factor authentication is already on.", code="mfa_already_enabled")
    step = matching_step(user.mfa_secret, code) if user.mfa_secret else None
    if step is None:
        raise _fail(user=user, ip=ip, message="That code is wrong or has expired. Check the time on your phone.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.mfa_enabled:
            raise MfaError("Two-factor authentication is already on.", code="mfa_already_enabled")
        locked.mfa_enabled = True
        locked.mfa_last_used_step = step
        locked.save(update_fields=["mfa_enabled", "mfa_last_used_step", "updated_at"])
        codes = _replace_backup_codes(user=locked)
        record_event(action="mfa.enabled", actor=user, target=locked,
                     description="Two-factor authentication turned on.",
                     details={"backups_issued": len(codes)})
    throttling.clear_failures(scope=throttling.MFA, subject=subject, ip=ip)
    user.mfa_enabled, user.mfa_last_used_step = True, step
    return codes


def regenerate_backup_codes(*, user: User, ip: str | None, code: str = "", password: str = "") -> list[str]:
    """New backup codes after proving presence with a current TOTP code or the password."""
    if not user.mfa_enabled:
        raise MfaError("Turn on two-factor authentication first.", code="mfa_not_enabled")
    _raise_if_locked(subject=str(user.pk), ip=ip)
    if code:
        if not looks_like_totp(code):
            raise CodeRejected("Enter the 6-digit code from your authenticator app.")
        check_second_factor(user=user, code=code, ip=ip, allow_backup=False)
    elif password:
        _check_password(user=user, password=password, ip=ip)
        throttling.clear_failures(scope=throttling.MFA, subject=str(user.pk), ip=ip)
    else:
        raise CodeRejected("Enter a code from your authenticator app or your password.")
    with transaction.atomic():
        codes = _replace_backup_codes(user=user)
        record_event(action="mfa.backup_codes_regenerated", actor=user, target=user,
                     details={"backups_issued": len(codes), "confirmed_with": "totp" if code else "password"})
    return codes


def _turn_off(*, user: User) -> None:
    User.objects.filter(pk=user.pk).update(mfa_enabled=False, mfa_secret="", mfa_last_used_step=None,
                                           updated_at=timezone.now())
    BackupCode.objects.filter(user=user).delete()
    user.mfa_enabled, user.mfa_secret, user.mfa_last_used_step = False, "", None


def disable_mfa(*, user: User, password: str, code: str, ip: str | None) -> None:
    """Turn MFA off; needs the password and a current TOTP or backup code."""
    if not user.mfa_enabled:
        raise MfaError("Two-factor authentication is already off.", code="mfa_not_enabled")
    _raise_if_locked(subject=str(user.pk), ip=ip)
    _check_password(user=user, password=password, ip=ip)
    check_second_factor(user=user, code=code, ip=ip)
    with transaction.atomic():
        _turn_off(user=user)
        record_event(action="mfa.disabled", actor=user, target=user,
                     description="Two-factor authentication turned off by the user.")


def reset_mfa_by_staff(*, user: User, actor: User) -> None:
    """Support path for a person who lost both phone and backup codes (Django admin action)."""
    from tenancy.authz import may_act_on_account

    if not may_act_on_account(actor, user):
        raise PermissionDenied("You may not reset this user's two-factor authentication.")
    with transaction.atomic():
        _turn_off(user=user)
        record_event(action="mfa.reset_by_staff", actor=actor, target=user,
                     description=f"Two-factor authentication reset for {user.email}.")
