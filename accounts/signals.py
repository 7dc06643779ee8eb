"""Every web login gets a device-session row; every logout revokes its row."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils import timezone

from accounts.middleware import SESSION_ROW_KEY
from accounts.models import UserSession
from accounts.session_store import stored_session_key
from audit.context import client_ip


@receiver(user_logged_in)
def open_device_session(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if not request.session.session_key:
        request.session.save()
    row = UserSession.objects.create(
        user=user,
        kind=UserSession.Kind.WEB,
        session_digest=stored_session_key(request.session.session_key) if request.session.session_key else "",
        device_info=request.META.get("HTTP_USER_AGENT", "")[:255],
        ip_address=client_ip(request),
        expires_at=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE),
    )
    request.session[SESSION_ROW_KEY] = str(row.pk)


@receiver(user_logged_out)
def close_device_session(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    row_id = request.session.get(SESSION_ROW_KEY)
    if row_id:
        UserSession.objects.filter(pk=row_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
