"""Device sessions (table `sessions`, one row per device login): list, revoke one, revoke all others, block a user.

A revoked row ends that device at once: a browser is logged out by
DeviceSessionMiddleware on its next request (its Django session is also deleted
here), an API client's access and refresh tokens stop working because
AccessTokenAuthentication and the refresh endpoint check the row every time.
"""

from uuid import UUID

from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import RefreshToken, User, UserSession
from audit.services import record_event


def live_sessions(*, user: User) -> QuerySet[UserSession]:
    """The user's devices that can still act: not revoked, not expired; newest activity first."""
    return UserSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
        "-last_seen_at", "-created_at"
    )


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("Linux", "Linux"))


def device_label(device_info: str) -> str:
    """'Chrome on Linux' from a User-Agent; other strings (API clients' names) as they are."""
    browser = next((name for marker, name in _BROWSERS if marker in device_info), "")
    system = next((name for marker, name in _SYSTEMS if marker in device_info), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or device_info[:60] or "Unknown device"


def _end_browser_sessions(digests: list[str]) -> None:
    """Drop the Django sessions behind revoked browser rows (the middleware also catches them)."""
    digests = [value for value in digests if value]
    if digests:
        Session.objects.filter(session_key__in=digests).delete()


def revoke_session_rows(rows: QuerySet[UserSession]) -> list[UserSession]:
    """Mark the rows revoked and their refresh tokens spent; returns what was revoked.

    Assumes the caller holds a transaction (and, where it matters, the row locks)."""
    now = timezone.now()
    revoked = list(rows.filter(revoked_at__isnull=True))
    ids = [row.pk for row in revoked]
    if not ids:
        return []
    UserSession.objects.filter(pk__in=ids, revoked_at__isnull=True).update(revoked_at=now)
    RefreshToken.objects.filter(session_id__in=ids, used_at__isnull=True).update(used_at=now)
    digests = [row.session_digest for row in revoked if row.kind == UserSession.Kind.WEB]
    transaction.on_commit(lambda: _end_browser_sessions(digests))
    for row in revoked:
        row.revoked_at = now
    return revoked


def _describe(row: UserSession) -> dict:
    return {"session_id": str(row.pk), "kind": row.kind, "device": row.device_info[:120],
            "ip_address": row.ip_address}


def check_can_end_sessions(actor: User | None, user: User) -> None:
    """A person ends their own sessions; staff end those of people in their reach only (a shared tenant,
    never a super admin unless they are one; `tenancy.authz.may_act_on_account`)."""
    from tenancy.authz import may_act_on_account

    if actor is not None and actor.pk != user.pk and not may_act_on_account(actor, user):
        raise PermissionDenied("You may not end this user's sessions.")


def revoke_session(*, user: User, session_id: UUID | str, actor: User | None = None) -> UserSession:
    """Revoke one of `user`'s sessions. Another user's (or an unknown) id is a 404."""
    check_can_end_sessions(actor, user)
    with transaction.atomic():
        row = UserSession.objects.select_for_update().filter(pk=session_id, user=user).first()
        if row is None:
            raise Http404("No such session.")
        if row.revoked_at is None:
            revoke_session_rows(UserSession.objects.filter(pk=row.pk))
            row.revoked_at = timezone.now()
            record_event(action="session.revoked", actor=actor or user, target=row,
                         description=f"{row.get_kind_display()} session revoked.", details=_describe(row))
    return row


def revoke_other_sessions(*, user: User, keep_session_id: UUID | str | None) -> int:
    """Log out every other device of `user`; the current one (if given) stays."""
    with transaction.atomic():
        rows = UserSession.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        if keep_session_id:
            rows = rows.exclude(pk=keep_session_id)
        revoked = revoke_session_rows(rows)
        record_event(action="sessions.revoked_others", actor=user, target=user,
                     description=f"{len(revoked)} other session(s) revoked.",
                     details={"revoked": len(revoked), "kept_session_id": str(keep_session_id or "")})
    return len(revoked)


def revoke_all_sessions(*, user: User, actor: User | None = None) -> int:
    """Every device of `user` out (blocking, a password reset, staff)."""
    check_can_end_sessions(actor, user)
    with transaction.atomic():
        rows = UserSession.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        return len(revoke_session_rows(rows))


def block_user(*, user: User, actor: User, reason: str = "") -> bool:
    """Block a user and end all their sessions; False when they already were blocked."""
    check_can_end_sessions(actor, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.status == User.Status.BLOCKED:
            return False
        previous = locked.status
        locked.status = User.Status.BLOCKED
        locked.save(update_fields=["status", "updated_at"])
        ended = revoke_all_sessions(user=locked)
        record_event(action="user.blocked", actor=actor, target=locked, description=f"{locked.email} blocked.",
                     details={"status": {"old": previous, "new": locked.status}, "sessions_revoked": ended,
                              "reason": reason})
    user.status = User.Status.BLOCKED
    return True


def unblock_user(*, user: User, actor: User) -> bool:
    """Unblock: active when the email was verified, otherwise back to pending."""
    check_can_end_sessions(actor, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.status != User.Status.BLOCKED:
            return False
        locked.status = User.Status.ACTIVE if locked.email_verified else User.Status.PENDING
        locked.save(update_fields=["status", "updated_at"])
        record_event(action="user.unblocked", actor=actor, target=locked, description=f"{locked.email} unblocked.",
                     details={"status": {"old": User.Status.BLOCKED.value, "new": locked.status}})
    user.status = locked.status
    return True
