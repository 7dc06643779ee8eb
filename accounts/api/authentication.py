"""`Authorization: Bearer <access token>` for API clients (tokens from POST /api/v1/auth/token)."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.models import UserSession

LAST_SEEN_EVERY = timedelta(seconds=60)


def _looks_like_access_token(token: str) -> bool:
    """Access tokens are `<session uuid>:<timestamp>:<signature>`; anything else is another scheme's."""
    parts = token.split(":")
    return len(parts) == 3 and len(parts[0]) == 36


class AccessTokenAuthentication(BaseAuthentication):
    """Resolves the bearer token to its API session on every request.

    A revoked or expired session, or a blocked user, is refused at once. A bearer
    value that is not shaped like an access token is left to the next authentication
    class (a store's private API key uses the same header).
    `request.auth` is the UserSession.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send `Authorization: Bearer <access token>`.")
        try:
            token = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The access token is not valid.")
        if not _looks_like_access_token(token):
            return None
        # Imported here: DRF loads this class while rest_framework.views is still importing.
        from accounts.services.api_tokens import TokenError, session_for_access_token

        try:
            session = session_for_access_token(token)
        except TokenError as exc:
            failure = exceptions.AuthenticationFailed(exc.message, code=exc.code)
            failure.default_code = exc.code  # the error body's `code` (core.api_errors)
            raise failure
        now = timezone.now()
        if now - session.last_seen_at >= LAST_SEEN_EVERY:
            UserSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        return session.user, session

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Access token from POST /api/v1/auth/token (short-lived; refresh it)."}
