"""Sign-up, the verification link and its resend, through the pages."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailVerification, User
from accounts.selectors import EMAIL_VERIFICATION_PURPOSE
from accounts.tests.factories import TEST_PASSWORD, UserFactory, emailed_link_path, token_of
from audit.models import AuditLog
from core.crypto import digest

pytestmark = pytest.mark.django_db(transaction=True)

REGISTER = reverse("accounts:register")
RESEND = reverse("accounts:resend_verification")
PASSWORD = "plum-tractor-harbour-71"


def register(client, email="alice@x.com", full_name="Alice Liddell", password=PASSWORD, again=None):
    return client.post(REGISTER, {"email": email, "full_name": full_name, "new_password1": password,
                                  "new_password2": password if again is None else again})


def check_your_email_page(response) -> str:
    assert response.status_code == 200
    assert "accounts/register_done.html" in [t.name for t in response.templates]
    return without_csrf(response.content.decode())


def without_csrf(page: str) -> str:
    """The page without its per-response CSRF token, so two answers can be compared whole."""
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", page)


def test_register_page_has_no_role_choice(client):
    page = client.get(REGISTER).content.decode()

    assert 'name="email"' in page and 'name="full_name"' in page
    assert "role" not in page.lower().split("<main", 1)[1].replace('role="status"', "")
    assert 'name="role"' not in page


def test_registration_creates_a_pending_user_and_mails_a_hashed_single_use_link(client):
    response = register(client)

    assert "Check your email" in check_your_email_page(response)
    user = User.objects.get()
    assert (user.email, user.full_name) == ("alice@x.com", "Alice Liddell")
    assert user.status == User.Status.PENDING and user.email_verified is False
    assert user.check_password(PASSWORD) and PASSWORD not in user.password
    assert client.session.get(SESSION_KEY) is None

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@x.com"]
    path = emailed_link_path(mail.outbox[0])
    token = token_of(path)
    assert path == reverse("accounts:verify_email", kwargs={"token": token})
    assert len(token) >= 22  # 128 bits or more in url-safe base64
    verification = EmailVerification.objects.get(user=user)
    assert verification.token_hash != token and token not in verification.token_hash
    assert verification.token_hash == digest(token, purpose=EMAIL_VERIFICATION_PURPOSE)
    assert verification.expires_at - verification.created_at == timedelta(hours=24)

    entry = AuditLog.objects.get(action="user.registered")
    assert entry.target_id == str(user.pk)
    assert PASSWORD not in str(entry.details) and token not in str(entry.details)


def test_the_real_hasher_is_argon2(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

    register(client)

    assert User.objects.get().password.startswith("argon2")


def test_following_the_link_activates_the_account_then_login_works(client):
    register(client)
    path = emailed_link_path(mail.outbox[0])

    response = client.get(path)

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    user = User.objects.get()
    assert user.status == User.Status.ACTIVE and user.email_verified is True
    assert EmailVerification.objects.get().verified_at is not None
    assert AuditLog.objects.filter(action="user.email_verified", target_id=str(user.pk)).exists()
    client.post(reverse("accounts:login"), {"email": "alice@x.com", "password": PASSWORD})
    assert client.session[SESSION_KEY] == str(user.pk)


def test_a_used_link_is_refused_and_changes_nothing(client):
    register(client)
    path = emailed_link_path(mail.outbox[0])
    client.get(path)
    User.objects.update(status=User.Status.BLOCKED)  # a change the second click must not undo

    response = client.get(path)

    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert User.objects.get().status == User.Status.BLOCKED


def test_an_expired_link_is_refused_and_changes_nothing(client):
    register(client)
    path = emailed_link_path(mail.outbox[0])
    EmailVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(path)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    user = User.objects.get()
    assert user.status == User.Status.PENDING and user.email_verified is False
    assert EmailVerification.objects.get().verified_at is None


@pytest.mark.parametrize("token", ["not-a-token", "A" * 43])
def test_a_wrong_link_is_refused(client, token):
    register(client)

    response = client.get(reverse("accounts:verify_email", kwargs={"token": token}))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert User.objects.get().status == User.Status.PENDING


def test_the_same_email_in_another_case_creates_nothing_and_looks_the_same(client):
    first = check_your_email_page(register(client, email="Alice@X.com"))
    owner = User.objects.get()
    mail.outbox.clear()

    second = check_your_email_page(register(client, email="alice@x.com", full_name="Mallory"))

    assert User.objects.count() == 1 and User.objects.get().full_name == "Alice Liddell"
    assert EmailVerification.objects.count() == 1
    assert first.lower() == second.lower()  # only the letter case of the echoed address differs
    # The owner hears about it; no verification link goes out.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert "already have one" in mail.outbox[0].body
    link_with_token = re.escape(reverse("accounts:resend_verification")) + r"[^/\s]+/"
    assert not re.search(link_with_token, mail.outbox[0].body)
    assert reverse("accounts:resend_verification") in mail.outbox[0].body  # owner still pending: how to resend


def test_registering_an_active_users_address_notifies_them(client):
    UserFactory(email="bob@example.com", full_name="Bob")

    check_your_email_page(register(client, email="BOB@example.com"))

    assert User.objects.filter(email__iexact="bob@example.com").count() == 1
    assert mail.outbox[0].to == ["bob@example.com"]
    assert reverse("accounts:password_reset") in mail.outbox[0].body


@pytest.mark.parametrize("password, error", [
    ("short1", "too short"),
    ("password1234", "too common"),
    ("1234567890123", "entirely numeric"),
    ("aliceliddell", "too similar"),
])
def test_a_weak_password_is_refused(client, password, error):
    response = register(client, email="alice.liddell@x.com", password=password)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.exists() and not mail.outbox


def test_mismatched_passwords_are_refused(client):
    response = register(client, password=PASSWORD, again=PASSWORD + "x")

    assert "The two passwords do not match." in response.content.decode()
    assert not User.objects.exists() and not mail.outbox


@pytest.mark.parametrize("field, value, error", [
    ("email", "not-an-email", "Enter a valid email address."),
    ("full_name", "   ", "This field is required."),
])
def test_bad_fields_are_refused(client, field, value, error):
    data = {"email": "alice@x.com", "full_name": "Alice", "new_password1": PASSWORD, "new_password2": PASSWORD}
    data[field] = value

    response = client.post(REGISTER, data)

    assert error in response.content.decode()
    assert not User.objects.exists() and not mail.outbox


def test_logged_in_user_is_sent_away_from_register(client):
    user = UserFactory()
    client.force_login(user)

    assert client.get(REGISTER).url == reverse("home")


def test_resend_mails_a_new_link_and_the_old_one_stops_working(client):
    register(client)
    old_path = emailed_link_path(mail.outbox[0])
    EmailVerification.objects.update(created_at=timezone.now() - timedelta(minutes=2))  # after the cooldown

    response = client.post(RESEND, {"email": "ALICE@x.com"})

    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert len(mail.outbox) == 2
    new_path = emailed_link_path(mail.outbox[1])
    assert new_path != old_path
    assert client.get(old_path).status_code == 400
    assert client.get(new_path).status_code == 302
    assert User.objects.get().status == User.Status.ACTIVE


def test_resend_within_a_minute_sends_nothing_more_but_answers_the_same(client):
    register(client)

    response = client.post(RESEND, {"email": "alice@x.com"})

    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1 and EmailVerification.objects.count() == 1


@pytest.mark.parametrize("email", ["nobody@example.com", "verified@example.com"])
def test_resend_for_unknown_or_verified_addresses_answers_the_same_and_sends_nothing(client, email):
    UserFactory(email="verified@example.com")
    pending = UserFactory(email="pending@example.com", status=User.Status.PENDING, email_verified=False)
    EmailVerification.objects.create(user=pending, email=pending.email, token_hash="0" * 64,
                                     expires_at=timezone.now() + timedelta(hours=1),
                                     created_at=timezone.now() - timedelta(hours=1))
    reference = without_csrf(client.post(RESEND, {"email": "pending@example.com"}).content.decode())
    assert len(mail.outbox) == 1
    mail.outbox.clear()

    response = client.post(RESEND, {"email": email})

    assert without_csrf(response.content.decode()).replace(email, "X") == reference.replace("pending@example.com", "X")
    assert not mail.outbox


def test_resend_page_prefills_the_email(client):
    page = client.get(RESEND, {"email": "pen@example.com"}).content.decode()

    assert 'value="pen@example.com"' in page


def test_pending_user_cannot_log_in_before_verifying(client):
    register(client)

    response = client.post(reverse("accounts:login"), {"email": "alice@x.com", "password": PASSWORD})

    assert "Verify your email first" in response.content.decode()
    assert client.session.get(SESSION_KEY) is None


def test_no_password_or_token_reaches_the_audit_trail(client):
    register(client)
    token = token_of(emailed_link_path(mail.outbox[0]))
    client.get(emailed_link_path(mail.outbox[0]))
    client.post(reverse("accounts:login"), {"email": "alice@x.com", "password": "wrong-" + PASSWORD})

    trail = str(list(AuditLog.objects.values_list("details", "description")))

    assert PASSWORD not in trail and token not in trail
    assert EmailVerification.objects.get().token_hash not in trail
    assert TEST_PASSWORD not in trail
