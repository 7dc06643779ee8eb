"""API-client authentication: token, refresh, logout, me. Thin: parse, call a service, answer."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import AccessTokenAuthentication
from accounts.api.serializers import (
    AuthErrorSerializer,
    MeSerializer,
    RefreshInputSerializer,
    TokenInputSerializer,
    TokenPairSerializer,
)
from accounts.services import api_tokens
from audit.context import client_ip

TAG = "auth"


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(AuthErrorSerializer) for code in codes}


def _pair(issued: api_tokens.IssuedTokens) -> dict:
    return TokenPairSerializer({
        "token_type": "Bearer",
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "refresh_expires_in": issued.refresh_expires_in,
        "session_id": issued.session.pk,
    }).data


class TokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG], operation_id="auth_token_create", request=TokenInputSerializer,
        responses={201: TokenPairSerializer, **_errors(400, 401, 403, 429)},
        summary="Log an API client in",
        description="Email + password (+ `otp` when two-factor authentication is on). Opens an API session that "
                    "shows on the user's devices page. Wrong passwords and codes count towards the same lockout "
                    "as the web login.",
    )
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_tokens.issue_tokens(
            email=data.validated_data["email"], password=data.validated_data["password"],
            otp=data.validated_data.get("otp", ""), ip=client_ip(request),
            device_info=data.validated_data.get("device_name") or request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(_pair(issued), status=status.HTTP_201_CREATED)


class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG], operation_id="auth_token_refresh", request=RefreshInputSerializer,
        responses={200: TokenPairSerializer, **_errors(400, 401)},
        summary="Rotate the refresh token",
        description="Returns a new access token and a new refresh token; the one sent is spent. Sending a spent "
                    "refresh token again revokes the whole session (all its tokens).",
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_tokens.rotate_refresh_token(refresh_token=data.validated_data["refresh_token"],
                                                 ip=client_ip(request))
        return Response(_pair(issued))


class LogoutView(APIView):
    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=[TAG], operation_id="auth_logout", request=None,
                   responses={204: None, **_errors(401)}, summary="End this API session")
    def post(self, request):
        api_tokens.logout_session(session=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=[TAG], operation_id="auth_me", responses={200: MeSerializer, **_errors(401)},
                   summary="The logged-in user")
    def get(self, request):
        return Response(MeSerializer(request.user).data)
