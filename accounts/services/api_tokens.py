"""API-client tokens: one UserSession(kind=api) per client login, a refresh-token family.

- access token: `TimestampSigner` over the session id, valid settings.API_ACCESS_TOKEN_TTL;
  every request re-reads the session row, so revoking it ends access at once.
- refresh token: random (core.crypto.new_token), stored only as a digest, valid
  settings.API_REFRESH_TOKEN_TTL, single use. Using it rotates: it is marked used and a
  new one is issued. Presenting a used one means it leaked: the whole session and all
  its tokens are revoked.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import RefreshToken, User, UserSession
from accounts.services import mfa
from accounts.services.login import authenticate_for_login
from accounts.services.sessions import revoke_session, revoke_session_rows
from audit.services import record_event
from core.crypto import digest, new_token
from core.errors import NotAuthenticated

ACCESS_SALT = "accounts.api.access-token"
REFRESH_PURPOSE = "api-refresh-token"


class TokenError(NotAuthenticated):
    code = "invalid_token"


class MfaRequired(NotAuthenticated):
    code = "mfa_required"


@dataclass(frozen=True)
class IssuedTokens:
    session: UserSession
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    refresh_expires_in: int


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=ACCESS_SALT)


def make_access_token(session: UserSession) -> str:
    return _signer().sign(str(session.pk))


def session_for_access_token(token: str) -> UserSession:
    """The live API session an access token speaks for; TokenError when none."""
    try:
        session_id = uuid.UUID(_signer().unsign(token, max_age=settings.API_ACCESS_TOKEN_TTL))
    except signing.SignatureExpired:
        raise TokenError("The access token has expired; refresh it.", code="token_expired")
    except (signing.BadSignature, ValueError):
        raise TokenError("The access token is not valid.")
    session = (UserSession.objects.select_related("user")
               .filter(pk=session_id, kind=UserSession.Kind.API).first())
    if session is None or not session.is_live:
        raise TokenError("This session has ended; log in again.", code="session_revoked")
    if not session.user.is_active:
        raise TokenError("This account is blocked.", code="account_blocked")
    return session


def _refresh_digest(token: str) -> str:
    return digest(token, purpose=REFRESH_PURPOSE)


def _new_refresh_token(session: UserSession) -> tuple[str, RefreshToken]:
    token = new_token()
    now = timezone.now()
    row = RefreshToken.objects.create(session=session, token_hash=_refresh_digest(token), created_at=now,
                                      expires_at=now + settings.API_REFRESH_TOKEN_TTL)
    return token, row


def _issued(session: UserSession, refresh_token: str) -> IssuedTokens:
    return IssuedTokens(
        session=session,
        access_token=make_access_token(session),
        refresh_token=refresh_token,
        expires_in=int(settings.API_ACCESS_TOKEN_TTL.total_seconds()),
        refresh_expires_in=int(settings.API_REFRESH_TOKEN_TTL.total_seconds()),
    )


def issue_tokens(*, email: str, password: str, otp: str = "", ip: str | None, device_info: str = "") -> IssuedTokens:
    """Log an API client in: the web login's password rules, then MFA when it is on."""
    user = authenticate_for_login(email=email, password=password, ip=ip)
    if user.mfa_enabled:
        if not otp:
            raise MfaRequired("Two-factor authentication is on: send `otp`, a code from your app or a backup code.",
                              fields={"otp": ["This field is required for this account."]})
        mfa.check_second_factor(user=user, code=otp, ip=ip)
    now = timezone.now()
    with transaction.atomic():
        session = UserSession.objects.create(
            user=user, kind=UserSession.Kind.API, device_info=(device_info or "API client")[:255],
            ip_address=ip, created_at=now, last_seen_at=now, expires_at=now + settings.API_REFRESH_TOKEN_TTL,
        )
        token, _ = _new_refresh_token(session)
        User.objects.filter(pk=user.pk).update(last_login=now)
        record_event(action="api.token_issued", actor=user, target=session, ip_address=ip,
                     description="API client logged in.", details={"session_id": str(session.pk),
                                                                     "mfa": user.mfa_enabled})
    return _issued(session, token)


def rotate_refresh_token(*, refresh_token: str, ip: str | None) -> IssuedTokens:
    """Swap a refresh token for a new pair; a reused one revokes its whole family."""
    now = timezone.now()
    failure: TokenError | None = None
    with transaction.atomic():
        row = (RefreshToken.objects.select_for_update().select_related("session__user")
               .filter(token_hash=_refresh_digest(refresh_token or "")).first())
        if row is None:
            failure = TokenError("The refresh token is not valid.")
        elif row.used_at is not None or not RefreshToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
                used_at=now):
            session = row.session
            if session.revoked_at is None:
                revoke_session_rows(UserSession.objects.filter(pk=session.pk))
                record_event(action="api.refresh_reuse_detected", actor=session.user, target=session, ip_address=ip,
                             description="A used refresh token was presented again; the session was revoked.",
                             details={"session_id": str(session.pk)})
            failure = TokenError("This refresh token was already used; the session has been revoked.",
                                 code="refresh_token_reused")
        elif row.expires_at <= now:
            failure = TokenError("The refresh token has expired; log in again.", code="token_expired")
        elif not row.session.is_live:
            failure = TokenError("This session has ended; log in again.", code="session_revoked")
        elif not row.session.user.is_active:
            failure = TokenError("This account is blocked.", code="account_blocked")
        else:
            session = row.session
            token, _ = _new_refresh_token(session)
            UserSession.objects.filter(pk=session.pk).update(last_seen_at=now, ip_address=ip or session.ip_address,
                                                             expires_at=now + settings.API_REFRESH_TOKEN_TTL)
            session.refresh_from_db()
    if failure is not None:
        raise failure
    return _issued(session, token)


def logout_session(*, session: UserSession) -> None:
    """The API client ends its own session (same as revoking it from the devices page)."""
    revoke_session(user=session.user, session_id=session.pk, actor=session.user)
