"""Password reset by emailed link and password change, through the pages."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import SESSION_ROW_KEY
from accounts.models import FailedAttempt, PasswordReset, User, UserSession
from accounts.selectors import PASSWORD_RESET_PURPOSE
from accounts.session_store import stored_session_key
from accounts.tests.factories import TEST_PASSWORD, UserFactory, emailed_link_path, token_of
from audit.models import AuditLog
from core.crypto import digest

pytestmark = pytest.mark.django_db(transaction=True)

RESET = reverse("accounts:password_reset")
CHANGE = reverse("accounts:password_change")
LOGIN = reverse("accounts:login")
NEW_PASSWORD = "saffron-glacier-cobalt-42"


def without_csrf(page: str) -> str:
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", page)


def log_in(client, email, password=TEST_PASSWORD, ip="127.0.0.1"):
    client.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=ip)
    assert client.session.get(SESSION_KEY), "login failed"
    return UserSession.objects.get(pk=client.session[SESSION_ROW_KEY])


def request_reset_link(client, email) -> str:
    client.post(RESET, {"email": email})
    return emailed_link_path(mail.outbox[-1])


def set_password(client, path, password=NEW_PASSWORD, again=None):
    return client.post(path, {"new_password1": password, "new_password2": password if again is None else again})


# --- reset request -----------------------------------------------------------------------------

def test_reset_request_mails_a_hashed_one_hour_link(client):
    user = UserFactory(email="ann@example.com")

    response = client.post(RESET, {"email": "ANN@example.com"})

    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]
    path = emailed_link_path(mail.outbox[0])
    token = token_of(path)
    assert path == reverse("accounts:password_reset_confirm", kwargs={"token": token})
    reset = PasswordReset.objects.get(user=user)
    assert reset.token_hash != token and reset.token_hash == digest(token, purpose=PASSWORD_RESET_PURPOSE)
    assert reset.expires_at - reset.created_at == timedelta(hours=1)
    entry = AuditLog.objects.get(action="user.password_reset_requested")
    assert token not in str(entry.details)


@pytest.mark.parametrize("email", ["nobody@example.com", "blocked@example.com"])
def test_reset_request_answers_the_same_for_unknown_and_blocked_addresses(client, email):
    UserFactory(email="ann@example.com")
    UserFactory(email="blocked@example.com", status=User.Status.BLOCKED)
    reference = without_csrf(client.post(RESET, {"email": "ann@example.com"}).content.decode())
    mail.outbox.clear()

    response = client.post(RESET, {"email": email})

    assert without_csrf(response.content.decode()).replace(email, "X") == reference.replace("ann@example.com", "X")
    assert not mail.outbox
    assert not PasswordReset.objects.filter(email=email).exists()


def test_a_second_request_within_a_minute_sends_nothing(client):
    UserFactory(email="ann@example.com")
    client.post(RESET, {"email": "ann@example.com"})

    client.post(RESET, {"email": "ann@example.com"})

    assert len(mail.outbox) == 1 and PasswordReset.objects.count() == 1


def test_a_newer_link_replaces_the_older_one(client):
    UserFactory(email="ann@example.com")
    old_path = request_reset_link(client, "ann@example.com")
    PasswordReset.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    new_path = request_reset_link(client, "ann@example.com")

    assert old_path != new_path
    assert client.get(old_path).status_code == 400
    assert client.get(new_path).status_code == 200


# --- reset confirm -----------------------------------------------------------------------------

def test_reset_sets_the_password_logs_every_device_out_and_lifts_lockouts(client):
    user = UserFactory(email="ann@example.com")
    laptop, phone = Client(), Client()
    laptop_row = log_in(laptop, "ann@example.com")
    phone_row = log_in(phone, "ann@example.com", ip="10.0.0.9")
    for _ in range(5):
        client.post(LOGIN, {"email": "ann@example.com", "password": "wrong-wrong-1"})
    assert "Too many attempts" in client.post(LOGIN, {"email": "ann@example.com",
                                                      "password": TEST_PASSWORD}).content.decode()
    path = request_reset_link(client, "ann@example.com")

    form_page = client.get(path)
    response = set_password(client, path)

    assert form_page.status_code == 200 and 'name="new_password1"' in form_page.content.decode()
    assert response.status_code == 302 and response.url == LOGIN
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(TEST_PASSWORD)
    assert PasswordReset.objects.get().used_at is not None
    for row in (laptop_row, phone_row):
        row.refresh_from_db()
        assert row.revoked_at is not None
    assert laptop.get(reverse("accounts:profile")).status_code == 302
    assert not FailedAttempt.objects.filter(subject="ann@example.com").exists()
    assert AuditLog.objects.get(action="user.password_reset").details == {"sessions_revoked": 2}
    assert "password of your account" in mail.outbox[-1].body
    # The old password no longer works, the new one does (and the lockout is gone).
    assert "wrong" in client.post(LOGIN, {"email": "ann@example.com", "password": TEST_PASSWORD}).content.decode()
    log_in(client, "ann@example.com", NEW_PASSWORD)


def test_a_used_reset_link_is_refused(client):
    UserFactory(email="ann@example.com")
    path = request_reset_link(client, "ann@example.com")
    set_password(client, path)

    again = set_password(client, path, password="another-fine-secret-88")

    assert again.status_code == 400 and "not valid, was already used or has expired" in again.content.decode()
    assert User.objects.get().check_password(NEW_PASSWORD)


def test_an_expired_reset_link_is_refused_and_changes_nothing(client):
    UserFactory(email="ann@example.com")
    path = request_reset_link(client, "ann@example.com")
    PasswordReset.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get(path).status_code == 400
    response = set_password(client, path)

    assert response.status_code == 400
    assert User.objects.get().check_password(TEST_PASSWORD)
    assert PasswordReset.objects.get().used_at is None


def test_a_wrong_reset_link_is_refused(client):
    UserFactory(email="ann@example.com")
    request_reset_link(client, "ann@example.com")

    response = set_password(client, reverse("accounts:password_reset_confirm", kwargs={"token": "B" * 43}))

    assert response.status_code == 400
    assert User.objects.get().check_password(TEST_PASSWORD)


@pytest.mark.parametrize("password, again, error", [
    ("short1", None, "too short"),
    ("1234567890123", None, "entirely numeric"),
    (NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords do not match."),
])
def test_a_bad_new_password_on_the_reset_page_changes_nothing(client, password, again, error):
    UserFactory(email="ann@example.com")
    path = request_reset_link(client, "ann@example.com")

    response = set_password(client, path, password=password, again=again)

    assert response.status_code == 200 and error in response.content.decode()
    assert User.objects.get().check_password(TEST_PASSWORD)
    assert PasswordReset.objects.get().used_at is None


def test_a_link_of_a_user_blocked_since_is_refused(client):
    UserFactory(email="ann@example.com")
    path = request_reset_link(client, "ann@example.com")
    User.objects.update(status=User.Status.BLOCKED)

    response = set_password(client, path)

    assert response.status_code == 400
    assert User.objects.get().check_password(TEST_PASSWORD)


# --- password change ---------------------------------------------------------------------------

def change(client, current=TEST_PASSWORD, new=NEW_PASSWORD, again=None):
    return client.post(CHANGE, {"current_password": current, "new_password1": new,
                                "new_password2": new if again is None else again})


def test_change_needs_a_login(client):
    response = client.get(CHANGE)

    assert response.status_code == 302 and response.url.startswith(LOGIN + "?next=")


def test_change_keeps_this_device_and_logs_out_the_others(client):
    user = UserFactory(email="ann@example.com")
    here = log_in(client, "ann@example.com")
    other = Client()
    there = log_in(other, "ann@example.com", ip="10.0.0.9")

    response = change(client)

    assert response.status_code == 302 and response.url == reverse("accounts:profile")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    here.refresh_from_db()
    there.refresh_from_db()
    assert here.revoked_at is None and there.revoked_at is not None
    assert here.session_digest == stored_session_key(client.session.session_key)
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert other.get(reverse("accounts:profile")).status_code == 302
    entry = AuditLog.objects.get(action="user.password_changed")
    assert entry.actor == user and entry.details == {"sessions_revoked": 1}
    assert NEW_PASSWORD not in str(entry.details)
    assert mail.outbox[-1].subject == "Your password was changed"


@pytest.mark.parametrize("current, new, again, field_error", [
    ("not-my-password", NEW_PASSWORD, None, "Your current password is wrong."),
    (TEST_PASSWORD, "short1", None, "too short"),
    (TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "The two passwords do not match."),
    (TEST_PASSWORD, TEST_PASSWORD, None, "must differ from the current one"),
])
def test_a_bad_change_is_refused_and_changes_nothing(client, current, new, again, field_error):
    UserFactory(email="ann@example.com")
    other = Client()
    there = log_in(other, "ann@example.com")
    log_in(client, "ann@example.com")

    response = change(client, current=current, new=new, again=again)

    assert response.status_code == 200 and field_error in response.content.decode()
    assert User.objects.get().check_password(TEST_PASSWORD)
    there.refresh_from_db()
    assert there.revoked_at is None
    assert not AuditLog.objects.filter(action="user.password_changed").exists()


def test_five_wrong_current_passwords_lock_the_change_form(client):
    UserFactory(email="ann@example.com")
    log_in(client, "ann@example.com")
    for _ in range(5):
        change(client, current="not-my-password")

    response = change(client)

    assert "Too many attempts. Try again in 15 minutes." in response.content.decode()
    assert User.objects.get().check_password(TEST_PASSWORD)
