"""Login and logout through the pages: credentials, pending/blocked users, lockout, MFA hand-over, next."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import SESSION_ROW_KEY
from accounts.models import FailedAttempt, User, UserSession
from accounts.tests.factories import TEST_PASSWORD, UserFactory, enable_mfa
from audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = reverse("accounts:login")
GENERIC = "The email or password is wrong."


def post_login(client, email, password, *, ip="127.0.0.1", next_url=None):
    data = {"email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def test_login_page_renders(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="email"' in response.content and b'name="password"' in response.content


def test_active_user_logs_in_with_a_device_session_and_audit(client):
    user = UserFactory(email="ann@example.com")

    response = post_login(client, "ann@example.com", TEST_PASSWORD)

    assert response.status_code == 302 and response.url == reverse("home")
    assert logged_in_user_id(client) == str(user.pk)
    row = UserSession.objects.get(pk=client.session[SESSION_ROW_KEY])
    assert row.user == user and row.revoked_at is None
    entry = AuditLog.objects.get(action="user.login")
    assert entry.actor == user and entry.target_id == str(user.pk)
    user.refresh_from_db()
    assert user.last_login is not None


def test_email_is_case_insensitive(client):
    user = UserFactory(email="ann@example.com")

    post_login(client, "  ANN@Example.COM ", TEST_PASSWORD)

    assert logged_in_user_id(client) == str(user.pk)


def test_wrong_password_and_unknown_email_get_the_same_generic_error(client):
    UserFactory(email="ann@example.com")

    wrong = post_login(client, "ann@example.com", "not-the-password")
    unknown = post_login(client, "nobody@example.com", "not-the-password")

    for response in (wrong, unknown):
        assert response.status_code == 200
        assert GENERIC in response.content.decode()
    assert logged_in_user_id(client) is None
    assert FailedAttempt.objects.filter(subject="ann@example.com").count() == 1
    assert FailedAttempt.objects.filter(subject="nobody@example.com").count() == 1
    failures = AuditLog.objects.filter(action="user.login_failed")
    assert failures.count() == 2
    assert all("not-the-password" not in str(entry.details) for entry in failures)


def test_pending_user_is_told_to_verify_only_after_the_right_password(client):
    user = UserFactory(email="pen@example.com", status=User.Status.PENDING, email_verified=False)

    wrong = post_login(client, "pen@example.com", "not-the-password")
    right = post_login(client, "pen@example.com", TEST_PASSWORD)

    assert GENERIC in wrong.content.decode() and "Verify your email" not in wrong.content.decode()
    page = right.content.decode()
    assert "Verify your email first" in page
    assert reverse("accounts:resend_verification") + "?email=pen%40example.com" in page
    assert logged_in_user_id(client) is None
    assert not UserSession.objects.filter(user=user).exists()


def test_blocked_user_is_told_so_only_after_the_right_password(client):
    user = UserFactory(email="blk@example.com", status=User.Status.BLOCKED)

    wrong = post_login(client, "blk@example.com", "not-the-password")
    right = post_login(client, "blk@example.com", TEST_PASSWORD)

    assert GENERIC in wrong.content.decode() and "blocked" not in wrong.content.decode()
    assert "This account is blocked" in right.content.decode()
    assert logged_in_user_id(client) is None
    assert not UserSession.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(action="user.login_failed", details__reason="account_blocked").exists()


def test_five_failures_lock_the_email_and_ip_pair_even_for_the_right_password(client):
    user = UserFactory(email="lock@example.com")
    for _ in range(4):
        assert GENERIC in post_login(client, "lock@example.com", "nope-nope-nope").content.decode()

    fifth = post_login(client, "lock@example.com", "nope-nope-nope")
    right = post_login(client, "LOCK@example.com", TEST_PASSWORD)

    assert "Too many attempts. Try again in 15 minutes." in fifth.content.decode()
    assert "Too many attempts. Try again in 15 minutes." in right.content.decode()
    assert logged_in_user_id(client) is None
    assert not UserSession.objects.filter(user=user).exists()
    # Refused tries while locked are not counted, so the lock does not keep growing.
    assert FailedAttempt.objects.filter(subject="lock@example.com").count() == 5


def test_the_lock_holds_for_one_ip_only(client):
    user = UserFactory(email="lock@example.com")
    for _ in range(5):
        post_login(client, "lock@example.com", "nope-nope-nope", ip="10.0.0.1")

    post_login(client, "lock@example.com", TEST_PASSWORD, ip="10.0.0.2")

    assert logged_in_user_id(client) == str(user.pk)


def test_the_lock_ends_after_fifteen_minutes_and_a_success_clears_failures(client):
    user = UserFactory(email="lock@example.com")
    for _ in range(5):
        post_login(client, "lock@example.com", "nope-nope-nope")
    assert "Try again in" in post_login(client, "lock@example.com", TEST_PASSWORD).content.decode()

    FailedAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    response = post_login(client, "lock@example.com", TEST_PASSWORD)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)
    assert not FailedAttempt.objects.filter(subject="lock@example.com").exists()


def test_a_success_clears_earlier_failures(client):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        post_login(client, "ann@example.com", "nope-nope-nope")

    post_login(client, "ann@example.com", TEST_PASSWORD)

    assert not FailedAttempt.objects.exists()


def test_mfa_user_is_handed_to_the_challenge_without_logging_in(client):
    user = UserFactory(email="mfa@example.com")
    enable_mfa(user)

    response = post_login(client, "mfa@example.com", TEST_PASSWORD, next_url="/accounts/profile/")

    assert response.status_code == 302 and response.url == reverse("accounts:mfa_challenge")
    assert logged_in_user_id(client) is None
    assert client.session["mfa_pending_user_id"] == str(user.pk)
    assert client.session["mfa_pending_next"] == "/accounts/profile/"
    assert not UserSession.objects.filter(user=user).exists()
    assert not AuditLog.objects.filter(action="user.login").exists()


def test_mfa_login_finishes_after_the_second_factor(client):
    import pyotp

    user = UserFactory(email="mfa@example.com")
    secret = enable_mfa(user)
    post_login(client, "mfa@example.com", TEST_PASSWORD, next_url="/accounts/profile/")

    response = client.post(reverse("accounts:mfa_challenge"), {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302 and response.url == "/accounts/profile/"
    assert logged_in_user_id(client) == str(user.pk)
    assert UserSession.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    assert AuditLog.objects.filter(action="user.login", actor=user).exists()


def test_mfa_hand_over_drops_an_unsafe_next(client):
    user = UserFactory(email="mfa@example.com")
    enable_mfa(user)

    post_login(client, "mfa@example.com", TEST_PASSWORD, next_url="https://evil.example/steal")

    assert client.session["mfa_pending_next"] == reverse("home")


def test_a_safe_next_is_honoured(client):
    UserFactory(email="ann@example.com")
    page = client.get(LOGIN, {"next": "/accounts/profile/"})
    assert b'value="/accounts/profile/"' in page.content

    response = post_login(client, "ann@example.com", TEST_PASSWORD, next_url="/accounts/profile/")

    assert response.url == "/accounts/profile/"


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "http:/\\evil.example",
                                  "javascript:alert(1)"])
def test_an_open_redirect_next_is_ignored(client, evil):
    user = UserFactory(email="ann@example.com")
    page = client.get(LOGIN, {"next": evil})
    assert evil.encode() not in page.content

    response = post_login(client, "ann@example.com", TEST_PASSWORD, next_url=evil)

    assert response.status_code == 302 and response.url == reverse("home")
    assert logged_in_user_id(client) == str(user.pk)


def test_an_invalid_form_records_no_failure(client):
    response = client.post(LOGIN, {"email": "not-an-email", "password": ""})

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not FailedAttempt.objects.exists()


def test_logged_in_user_visiting_login_is_sent_on(client):
    UserFactory(email="ann@example.com")
    post_login(client, "ann@example.com", TEST_PASSWORD)

    assert client.get(LOGIN).url == reverse("home")


def test_logout_is_post_only_and_revokes_the_device_session(client):
    user = UserFactory(email="ann@example.com")
    post_login(client, "ann@example.com", TEST_PASSWORD)
    row_id = client.session[SESSION_ROW_KEY]

    refused = client.get(reverse("accounts:logout"))
    assert refused.status_code == 405
    assert logged_in_user_id(client) == str(user.pk)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert logged_in_user_id(client) is None
    assert UserSession.objects.get(pk=row_id).revoked_at is not None
    assert AuditLog.objects.filter(action="user.logout", actor=user).exists()
    assert client.get(reverse("accounts:profile")).status_code == 302
