from datetime import timedelta

from django.contrib.auth import logout
from django.utils import timezone

from accounts.models import UserSession

SESSION_ROW_KEY = "device_session_id"
LAST_SEEN_EVERY = timedelta(seconds=60)


class DeviceSessionMiddleware:
    """Ends a browser login whose device-session row was revoked or has expired.

    Every web login creates a `UserSession` row (see accounts.signals); the row id
    sits in the Django session. Revoking the row logs that browser out on its very
    next request. `last_seen_at` is refreshed at most once a minute.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request) -> None:
        row_id = request.session.get(SESSION_ROW_KEY)
        row = UserSession.objects.filter(pk=row_id, user=request.user).first() if row_id else None
        if row is None or not row.is_live or not request.user.is_active:
            logout(request)
            return
        now = timezone.now()
        if now - row.last_seen_at >= LAST_SEEN_EVERY:
            UserSession.objects.filter(pk=row.pk).update(last_seen_at=now)
        request.device_session = row
