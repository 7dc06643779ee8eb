"""The profile page: name, and a change of login email that takes effect only once verified."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailVerification, PasswordReset, User
from accounts.selectors import EMAIL_VERIFICATION_PURPOSE
from accounts.tests.factories import TEST_PASSWORD, UserFactory, emailed_link_path, token_of
from audit.models import AuditLog
from core.crypto import digest

pytestmark = pytest.mark.django_db(transaction=True)

PROFILE = reverse("accounts:profile")
LOGIN = reverse("accounts:login")


def without_csrf(page: str) -> str:
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", page)


def can_log_in(email, password=TEST_PASSWORD) -> bool:
    client = Client()
    client.post(LOGIN, {"email": email, "password": password})
    return client.session.get(SESSION_KEY) is not None


@pytest.fixture
def ann(client):
    user = UserFactory(email="ann@example.com", full_name="Ann Old")
    client.post(LOGIN, {"email": "ann@example.com", "password": TEST_PASSWORD})
    assert client.session.get(SESSION_KEY) == str(user.pk)
    return user


def ask_email_change(client, new_email, password=TEST_PASSWORD):
    return client.post(PROFILE, {"form": "email", "new_email": new_email, "current_password": password})


def test_profile_needs_a_login(client):
    response = client.get(PROFILE)

    assert response.status_code == 302 and response.url == f"{LOGIN}?next={PROFILE}"


def test_profile_page_shows_name_and_email(client, ann):
    page = client.get(PROFILE).content.decode()

    assert 'value="Ann Old"' in page and "ann@example.com" in page


def test_name_change_is_saved_and_audited(client, ann):
    response = client.post(PROFILE, {"form": "profile", "full_name": "  Ann New  "})

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.full_name == "Ann New"
    entry = AuditLog.objects.get(action="user.profile_updated")
    assert entry.details == {"full_name": {"old": "Ann Old", "new": "Ann New"}}


@pytest.mark.parametrize("name, error", [("   ", "This field is required."),
                                         ("x" * 151, "Ensure this value has at most 150 characters")])
def test_a_bad_name_is_refused(client, ann, name, error):
    response = client.post(PROFILE, {"form": "profile", "full_name": name})

    assert response.status_code == 200 and error in response.content.decode()
    ann.refresh_from_db()
    assert ann.full_name == "Ann Old"
    assert not AuditLog.objects.filter(action="user.profile_updated").exists()


def test_email_change_waits_for_the_new_address_then_switches(client, ann):
    client.post(reverse("accounts:password_reset"), {"email": "ann@example.com"})
    reset_path = emailed_link_path(mail.outbox[-1])
    mail.outbox.clear()

    response = ask_email_change(client, "ann.new@example.com")

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.email == "ann@example.com" and ann.email_verified
    to_new = [m for m in mail.outbox if m.to == ["ann.new@example.com"]]
    to_old = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert len(to_new) == 1 and len(to_old) == 1
    assert "ann.new@example.com" in to_old[0].body
    path = emailed_link_path(to_new[0])
    token = token_of(path)
    verification = EmailVerification.objects.get(email="ann.new@example.com")
    assert verification.token_hash != token
    assert verification.token_hash == digest(token, purpose=EMAIL_VERIFICATION_PURPOSE)
    assert "ann.new@example.com" in client.get(PROFILE).content.decode()
    # Until the link is followed the old address is the login.
    assert can_log_in("ann@example.com") and not can_log_in("ann.new@example.com")
    assert AuditLog.objects.filter(action="user.email_change_requested", target_id=str(ann.pk)).exists()

    followed = client.get(path)

    assert followed.status_code == 302 and followed.url == PROFILE
    ann.refresh_from_db()
    assert ann.email == "ann.new@example.com" and ann.email_verified
    assert can_log_in("ann.new@example.com") and not can_log_in("ann@example.com")
    assert client.get(PROFILE).status_code == 200  # still logged in here
    entry = AuditLog.objects.get(action="user.email_verified")
    assert entry.details["email"] == {"old": "ann@example.com", "new": "ann.new@example.com"}
    # A reset link mailed to the old address stopped working with it.
    assert client.get(reset_path).status_code == 400
    assert PasswordReset.objects.get().used_at is None
    # And the change link is spent.
    assert client.get(path).status_code == 400


def test_the_change_link_works_without_being_logged_in(client, ann):
    ask_email_change(client, "ann.new@example.com")
    path = emailed_link_path([m for m in mail.outbox if m.to == ["ann.new@example.com"]][0])

    response = Client().get(path)

    assert response.status_code == 302 and response.url == LOGIN
    assert User.objects.get().email == "ann.new@example.com"


def test_a_wrong_current_password_sends_nothing_and_changes_nothing(client, ann):
    response = ask_email_change(client, "ann.new@example.com", password="not-my-password")

    assert response.status_code == 200 and "Your current password is wrong." in response.content.decode()
    assert not mail.outbox
    assert not EmailVerification.objects.exists()
    assert User.objects.get().email == "ann@example.com"


@pytest.mark.parametrize("new_email, error", [("ANN@example.com", "This is already your login email."),
                                              ("not-an-email", "Enter a valid email address.")])
def test_a_bad_new_email_is_refused(client, ann, new_email, error):
    response = ask_email_change(client, new_email)

    assert response.status_code == 200 and error in response.content.decode()
    assert not mail.outbox and not EmailVerification.objects.exists()


def test_an_address_of_another_account_gets_the_same_answer_and_no_link(client, ann):
    UserFactory(email="bob@example.com")
    ask_email_change(client, "free@example.com")
    reference = without_csrf(client.get(PROFILE).content.decode())
    EmailVerification.objects.all().delete()
    mail.outbox.clear()

    response = ask_email_change(client, "BOB@example.com")
    page = without_csrf(client.get(response.url).content.decode())

    assert response.status_code == 302
    assert "We sent a link to BOB@example.com" in page
    assert "We sent a link to free@example.com" in reference
    assert not EmailVerification.objects.exists()
    assert User.objects.get(pk=ann.pk).email == "ann@example.com"
    to_bob = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(to_bob) == 1 and "/accounts/verify-email/" not in to_bob[0].body
    assert AuditLog.objects.filter(action="user.email_change_requested", details__address_in_use=True).exists()


def test_a_newer_change_request_replaces_the_older_link(client, ann):
    ask_email_change(client, "first@example.com")
    first = emailed_link_path([m for m in mail.outbox if m.to == ["first@example.com"]][0])
    ask_email_change(client, "second@example.com")
    second = emailed_link_path([m for m in mail.outbox if m.to == ["second@example.com"]][0])

    assert client.get(first).status_code == 400
    assert User.objects.get().email == "ann@example.com"
    assert client.get(second).status_code == 302
    assert User.objects.get().email == "second@example.com"


def test_a_change_link_for_an_address_taken_since_is_refused(client, ann):
    ask_email_change(client, "new@example.com")
    path = emailed_link_path([m for m in mail.outbox if m.to == ["new@example.com"]][0])
    UserFactory(email="NEW@example.com")

    response = client.get(path)

    assert response.status_code == 400 and "belongs to another account" in response.content.decode()
    assert User.objects.get(pk=ann.pk).email == "ann@example.com"
    assert EmailVerification.objects.get(email="new@example.com").verified_at is None


def test_an_expired_change_link_changes_nothing(client, ann):
    ask_email_change(client, "new@example.com")
    path = emailed_link_path([m for m in mail.outbox if m.to == ["new@example.com"]][0])
    EmailVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get(path).status_code == 400
    assert User.objects.get(pk=ann.pk).email == "ann@example.com"
    assert "new@example.com" not in client.get(PROFILE).content.decode()
