"""API-client tokens under /api/v1/auth/: token, refresh (rotation, reuse), logout, me, bearer auth."""

import time
from datetime import timedelta

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import RefreshToken, User, UserSession
from accounts.services import mfa
from accounts.services.api_tokens import make_access_token
from accounts.tests.factories import TEST_PASSWORD, UserFactory, enable_mfa, web_login
from audit.models import AuditLog
from core.crypto import digest

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"
REFRESH_URL = "/api/v1/auth/refresh"
LOGOUT_URL = "/api/v1/auth/logout"
ME_URL = "/api/v1/auth/me"


@pytest.fixture
def api():
    return APIClient()


def get_tokens(api, user, **extra) -> dict:
    response = api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --- token --------------------------------------------------------------------------------------

def test_urls_are_where_the_contract_says():
    assert reverse("auth_api:token") == TOKEN_URL and reverse("auth_api:me") == ME_URL


def test_token_happy_path_opens_an_api_session(api):
    user = UserFactory()

    body = get_tokens(api, user, device_name="ci-bot")

    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    session = UserSession.objects.get(pk=body["session_id"])
    assert session.kind == "api" and session.user == user and session.device_info == "ci-bot"
    stored = RefreshToken.objects.get(session=session)
    assert stored.token_hash == digest(body["refresh_token"], purpose="api-refresh-token")
    assert body["refresh_token"] not in stored.token_hash
    assert len(body["refresh_token"]) >= 43  # 256 bits url-safe
    entry = AuditLog.objects.get(action="api.token_issued")
    assert body["refresh_token"] not in str(entry.details) and body["access_token"] not in str(entry.details)
    me = api.get(ME_URL, **bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == user.email and me.json()["mfa_enabled"] is False
    assert "password" not in me.json() and "mfa_secret" not in me.json()


def test_email_is_case_insensitive(api):
    user = UserFactory(email="casey@example.com")

    response = api.post(TOKEN_URL, {"email": "Casey@Example.COM", "password": TEST_PASSWORD}, format="json")

    assert response.status_code == 201
    assert UserSession.objects.get(kind="api").user == user


@pytest.mark.parametrize("payload, fields", [
    ({}, {"email", "password"}),
    ({"email": "not-an-email", "password": "x"}, {"email"}),
    ({"email": "a@example.com"}, {"password"}),
])
def test_token_validation_errors(api, payload, fields):
    error = assert_error(api.post(TOKEN_URL, payload, format="json"), 400, "validation_error")

    assert set(error["fields"]) == fields
    assert not UserSession.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post(TOKEN_URL, "{nope", content_type="application/json")

    assert_error(response, 400)


def test_wrong_password_and_unknown_email_look_the_same(api):
    user = UserFactory()

    wrong = assert_error(api.post(TOKEN_URL, {"email": user.email, "password": "wrong-pass-1"}, format="json"),
                         401, "invalid_credentials")
    unknown = assert_error(api.post(TOKEN_URL, {"email": "ghost@example.com", "password": "wrong-pass-1"},
                                    format="json"), 401, "invalid_credentials")

    assert wrong["message"] == unknown["message"]
    assert not UserSession.objects.exists()


def test_blocked_user_cannot_get_a_token(api):
    user = UserFactory(status=User.Status.BLOCKED)

    assert_error(api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD}, format="json"),
                 403, "account_blocked")
    blocked_wrong_password = api.post(TOKEN_URL, {"email": user.email, "password": "wrong-pass-1"}, format="json")

    assert_error(blocked_wrong_password, 401, "invalid_credentials")  # "blocked" only after the right password
    assert not UserSession.objects.exists()


def test_pending_user_cannot_get_a_token(api):
    user = UserFactory(status=User.Status.PENDING, email_verified=False)

    assert_error(api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD}, format="json"),
                 403, "email_not_verified")
    assert not UserSession.objects.exists()


def test_five_wrong_passwords_lock_even_the_right_one(api):
    user = UserFactory()
    for _ in range(4):
        api.post(TOKEN_URL, {"email": user.email, "password": "wrong-pass-1"}, format="json")

    fifth = api.post(TOKEN_URL, {"email": user.email, "password": "wrong-pass-1"}, format="json")
    right = api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD}, format="json")

    assert_error(fifth, 429, "locked")
    assert "Try again in 15 minutes" in assert_error(right, 429, "locked")["message"]
    assert not UserSession.objects.exists()
    other_ip = api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD}, format="json",
                        REMOTE_ADDR="10.20.30.40")
    assert other_ip.status_code == 201


def test_mfa_user_needs_otp(api):
    user = UserFactory()
    secret = enable_mfa(user)

    missing = assert_error(api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD}, format="json"),
                           401, "mfa_required")
    assert "otp" in missing["fields"]
    wrong_code = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert_error(api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD, "otp": wrong_code},
                          format="json"), 401, "invalid_code")
    assert not UserSession.objects.exists()

    body = get_tokens(api, user, otp=pyotp.TOTP(secret).now())

    assert UserSession.objects.get(pk=body["session_id"]).kind == "api"


def test_mfa_code_cannot_be_replayed_for_a_second_token(api):
    user = UserFactory()
    secret = enable_mfa(user)
    code = pyotp.TOTP(secret).at(int(time.time()))
    get_tokens(api, user, otp=code)

    again = api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD, "otp": code}, format="json")

    assert_error(again, 401, "invalid_code")
    assert UserSession.objects.count() == 1


def test_mfa_user_with_backup_code(api):
    user = UserFactory()
    enable_mfa(user)
    codes = mfa._replace_backup_codes(user=user)

    get_tokens(api, user, otp=codes[0])

    assert_error(api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD, "otp": codes[0]},
                          format="json"), 401, "invalid_code")


def test_five_wrong_otps_lock_the_api_login(api):
    user = UserFactory()
    secret = enable_mfa(user)
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    for _ in range(5):
        api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD, "otp": wrong}, format="json")

    response = api.post(TOKEN_URL, {"email": user.email, "password": TEST_PASSWORD,
                                    "otp": pyotp.TOTP(secret).now()}, format="json")

    assert_error(response, 429, "locked")
    assert not UserSession.objects.exists()


# --- bearer authentication ----------------------------------------------------------------------

def test_me_without_token_is_401(api):
    assert_error(api.get(ME_URL), 401)


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer garbage", "Bearer 123:abc:def",
                                    "Token something"])
def test_me_with_bad_header_is_401(api, header):
    UserFactory()

    response = api.get(ME_URL, HTTP_AUTHORIZATION=header)

    assert_error(response, 401)


def test_forged_access_token_is_401(api):
    user = UserFactory()
    body = get_tokens(api, user)
    session_id, stamp, signature = body["access_token"].split(":")

    response = api.get(ME_URL, **bearer(f"{session_id}:{stamp}:{signature[:-2]}xx"))

    assert_error(response, 401, "invalid_token")


def test_web_session_id_cannot_be_used_as_an_api_token(api):
    row = web_login(Client(), UserFactory())

    response = api.get(ME_URL, **bearer(make_access_token(row)))

    assert_error(response, 401, "session_revoked")


def test_expired_access_token_is_401(api, monkeypatch):
    user = UserFactory()
    body = get_tokens(api, user)
    later = time.time() + 16 * 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)

    response = api.get(ME_URL, **bearer(body["access_token"]))

    assert_error(response, 401, "token_expired")


def test_revoked_api_session_is_out_on_its_next_request(api, client):
    user = UserFactory()
    body = get_tokens(api, user)
    assert api.get(ME_URL, **bearer(body["access_token"])).status_code == 200
    web_login(client, user)

    client.post(reverse("accounts:session_revoke", args=[body["session_id"]]))

    assert_error(api.get(ME_URL, **bearer(body["access_token"])), 401, "session_revoked")
    assert_error(api.post(REFRESH_URL, {"refresh_token": body["refresh_token"]}, format="json"), 401)


def test_blocked_user_token_stops_working(api):
    user = UserFactory()
    body = get_tokens(api, user)

    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    assert_error(api.get(ME_URL, **bearer(body["access_token"])), 401, "account_blocked")
    assert_error(api.post(REFRESH_URL, {"refresh_token": body["refresh_token"]}, format="json"), 401)


def test_expired_api_session_is_out(api):
    user = UserFactory()
    body = get_tokens(api, user)
    UserSession.objects.filter(pk=body["session_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_error(api.get(ME_URL, **bearer(body["access_token"])), 401, "session_revoked")


# --- refresh ------------------------------------------------------------------------------------

def test_refresh_rotates_the_token(api):
    user = UserFactory()
    first = get_tokens(api, user)

    response = api.post(REFRESH_URL, {"refresh_token": first["refresh_token"]}, format="json")

    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    assert RefreshToken.objects.get(token_hash=digest(first["refresh_token"], purpose="api-refresh-token")).used_at
    assert api.get(ME_URL, **bearer(second["access_token"])).status_code == 200


def test_refresh_reuse_revokes_the_whole_family(api):
    user = UserFactory()
    first = get_tokens(api, user)
    second = api.post(REFRESH_URL, {"refresh_token": first["refresh_token"]}, format="json").json()
    third = api.post(REFRESH_URL, {"refresh_token": second["refresh_token"]}, format="json").json()

    reuse = api.post(REFRESH_URL, {"refresh_token": first["refresh_token"]}, format="json")

    assert_error(reuse, 401, "refresh_token_reused")
    session = UserSession.objects.get(pk=first["session_id"])
    assert session.revoked_at is not None
    assert not RefreshToken.objects.filter(session=session, used_at__isnull=True).exists()
    # even the newest refresh token and the newest access token fail now
    assert_error(api.post(REFRESH_URL, {"refresh_token": third["refresh_token"]}, format="json"), 401)
    assert_error(api.get(ME_URL, **bearer(third["access_token"])), 401, "session_revoked")
    assert AuditLog.objects.filter(action="api.refresh_reuse_detected", target_id=str(session.pk)).count() == 1


def test_reuse_in_one_family_leaves_other_sessions_alone(api):
    user = UserFactory()
    first = get_tokens(api, user)
    other = get_tokens(APIClient(), user)
    api.post(REFRESH_URL, {"refresh_token": first["refresh_token"]}, format="json")

    api.post(REFRESH_URL, {"refresh_token": first["refresh_token"]}, format="json")

    assert api.get(ME_URL, **bearer(other["access_token"])).status_code == 200


@pytest.mark.parametrize("payload", [{}, {"refresh_token": ""}, {"refresh_token": "never-issued"}])
def test_refresh_with_bad_input(api, payload):
    response = api.post(REFRESH_URL, payload, format="json")

    assert response.status_code in (400, 401)
    assert_error(response, response.status_code)


def test_expired_refresh_token_is_refused(api):
    user = UserFactory()
    body = get_tokens(api, user)
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_error(api.post(REFRESH_URL, {"refresh_token": body["refresh_token"]}, format="json"), 401,
                 "token_expired")


# --- logout -------------------------------------------------------------------------------------

def test_logout_revokes_the_session(api):
    user = UserFactory()
    body = get_tokens(api, user)

    response = api.post(LOGOUT_URL, **bearer(body["access_token"]))

    assert response.status_code == 204
    assert UserSession.objects.get(pk=body["session_id"]).revoked_at is not None
    assert_error(api.get(ME_URL, **bearer(body["access_token"])), 401)
    assert_error(api.post(REFRESH_URL, {"refresh_token": body["refresh_token"]}, format="json"), 401)


def test_logout_without_token_is_401(api):
    assert_error(api.post(LOGOUT_URL), 401)


def test_api_session_shows_on_the_devices_page(api, client):
    user = UserFactory()
    get_tokens(api, user, device_name="my-trading-script")
    web_login(client, user)

    html = client.get(reverse("accounts:sessions")).content.decode()

    assert "my-trading-script" in html and "API client" in html


# --- schema -------------------------------------------------------------------------------------

def test_openapi_schema_documents_the_auth_endpoints(api):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)

    for path in (TOKEN_URL, REFRESH_URL, LOGOUT_URL, ME_URL):
        assert path in schema["paths"]
    assert schema["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"
    token_op = schema["paths"][TOKEN_URL]["post"]
    assert {"201", "401", "429"} <= set(token_op["responses"])
    assert api.get("/api/schema/").status_code == 200


# --- concurrency (PostgreSQL) ----------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clients_racing_with_one_refresh_token_get_one_success_and_the_family_revoked():
    import threading

    from django.db import connections

    from accounts.services import api_tokens

    user = UserFactory()
    first = get_tokens(APIClient(), user)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def refresh():
        try:
            barrier.wait()
            api_tokens.rotate_refresh_token(refresh_token=first["refresh_token"], ip="10.0.0.1")
            outcomes.append("ok")
        except api_tokens.TokenError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok", "refresh_token_reused"]
    assert UserSession.objects.get(pk=first["session_id"]).revoked_at is not None
    assert not RefreshToken.objects.filter(session_id=first["session_id"], used_at__isnull=True).exists()
