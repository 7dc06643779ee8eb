"""Accounts in the Django admin: pages render, nothing secret is readable, actions are audited."""

from datetime import timedelta

import pyotp
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import (
    BackupCode,
    EmailVerification,
    FailedAttempt,
    OtpVerification,
    PasswordReset,
    RefreshToken,
    User,
    UserSession,
)
from accounts.services import mfa, otp
from accounts.tests.factories import TEST_PASSWORD, UserFactory, enable_mfa, web_login
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    superuser = UserFactory(is_staff=True, is_superuser=True, email="root@example.com")
    web_login(client, superuser)
    client.superuser = superuser
    return client


@pytest.fixture
def secret_world(settings, tmp_path):
    """A user with every kind of stored secret; returns (user, list of strings that must never show)."""
    settings.SMS_BACKEND = "accounts.sms.FileSmsBackend"
    settings.SMS_OUTBOX_DIR = str(tmp_path)
    user = UserFactory(email="victim@example.com", phone="+66811111111")
    secret = enable_mfa(user)
    mfa._replace_backup_codes(user=user)
    browser = Client()
    web_login(browser, user)
    tokens = APIClient().post("/api/v1/auth/token", {"email": user.email, "password": TEST_PASSWORD,
                                                     "otp": pyotp.TOTP(secret).now()},
                              format="json").json()
    otp.issue_otp(phone="+66822222222", purpose=OtpVerification.Purpose.LOGIN, user=user)
    now = timezone.now()
    EmailVerification.objects.create(user=user, email=user.email, token_hash="e" * 64,
                                     expires_at=now + timedelta(hours=1))
    PasswordReset.objects.create(user=user, email=user.email, token_hash="f" * 63 + "0",
                                 expires_at=now + timedelta(hours=1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT mfa_secret, password FROM users WHERE email = %s", [user.email])
        ciphertext, password_hash = cursor.fetchone()
    forbidden = [secret, ciphertext, password_hash, password_hash.split("$")[-1], browser.cookies["sessionid"].value,
                 tokens["refresh_token"], tokens["access_token"]]
    user.raw_secrets = {"session": browser.cookies["sessionid"].value, "totp": secret,
                        "refresh": tokens["refresh_token"], "access": tokens["access_token"]}
    forbidden += list(BackupCode.objects.values_list("code_hash", flat=True))
    forbidden += list(OtpVerification.objects.values_list("code_hash", flat=True))
    forbidden += list(RefreshToken.objects.values_list("token_hash", flat=True))
    forbidden += list(EmailVerification.objects.values_list("token_hash", flat=True))
    forbidden += list(PasswordReset.objects.values_list("token_hash", flat=True))
    return user, [value for value in forbidden if value]


def admin_pages(user) -> list[str]:
    session = UserSession.objects.filter(user=user).first()
    otp_row = OtpVerification.objects.first()
    return [
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_changelist") + "?q=victim&mfa_enabled__exact=1",
        reverse("admin:accounts_user_change", args=[user.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:auth_user_password_change", args=[user.pk]),
        reverse("admin:accounts_usersession_changelist"),
        reverse("admin:accounts_usersession_change", args=[session.pk]),
        reverse("admin:accounts_otpverification_changelist"),
        reverse("admin:accounts_otpverification_change", args=[otp_row.pk]),
        reverse("admin:accounts_emailverification_changelist"),
        reverse("admin:accounts_passwordreset_changelist"),
        reverse("admin:accounts_failedattempt_changelist"),
        reverse("admin:accounts_user_history", args=[user.pk]),
    ]


def test_admin_pages_render_and_show_no_secret_or_hash(admin_client, secret_world):
    user, forbidden = secret_world
    assert len(forbidden) >= 20

    for url in admin_pages(user):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        leaked = [value for value in forbidden if value in html]
        assert not leaked, f"{url} shows {leaked}"
    trail = str(list(AuditLog.objects.values_list("description", "details")))
    assert not [value for value in forbidden if value in trail]


def test_user_change_page_uses_the_raw_password_widget_and_no_mfa_secret_field(admin_client, secret_world):
    user, _ = secret_world

    html = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()

    assert "Raw passwords are not stored" in html or "Reset password" in html
    assert 'name="mfa_secret"' not in html and 'name="password"' not in html
    assert 'name="status"' not in html  # status changes go through the audited actions


def test_otp_admin_is_read_only(admin_client, secret_world):
    row = OtpVerification.objects.first()

    response = admin_client.post(reverse("admin:accounts_otpverification_change", args=[row.pk]),
                                 {"phone_number": "+15550000000"})

    assert response.status_code == 403
    assert OtpVerification.objects.get(pk=row.pk).phone_number == row.phone_number
    assert admin_client.get(reverse("admin:accounts_otpverification_add")).status_code == 403


def test_block_and_unblock_actions_are_audited_and_end_sessions(admin_client):
    user = UserFactory()
    user_client = Client()
    web_login(user_client, user)
    url = reverse("admin:accounts_user_changelist")

    admin_client.post(url, {"action": "block_users", "_selected_action": [user.pk]})

    user.refresh_from_db()
    assert user.status == User.Status.BLOCKED
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert user_client.get(reverse("accounts:security")).status_code == 302
    blocked = AuditLog.objects.get(action="user.blocked")
    assert blocked.actor == admin_client.superuser and blocked.target_id == str(user.pk)

    admin_client.post(url, {"action": "unblock_users", "_selected_action": [user.pk]})

    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert AuditLog.objects.get(action="user.unblocked").actor == admin_client.superuser


def test_admin_cannot_block_themselves(admin_client):
    admin_client.post(reverse("admin:accounts_user_changelist"),
                      {"action": "block_users", "_selected_action": [admin_client.superuser.pk]})

    assert User.objects.get(pk=admin_client.superuser.pk).status == User.Status.ACTIVE


def test_reset_mfa_action(admin_client):
    user = UserFactory()
    enable_mfa(user)
    mfa._replace_backup_codes(user=user)

    admin_client.post(reverse("admin:accounts_user_changelist"),
                      {"action": "reset_mfa", "_selected_action": [user.pk]})

    user.refresh_from_db()
    assert not user.mfa_enabled and user.mfa_secret == ""
    assert not BackupCode.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(action="mfa.reset_by_staff", target_id=str(user.pk)).exists()


def test_session_revoke_action(admin_client):
    user = UserFactory()
    victim_client = Client()
    row = web_login(victim_client, user)

    admin_client.post(reverse("admin:accounts_usersession_changelist"),
                      {"action": "revoke_sessions", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert row.revoked_at is not None
    assert victim_client.get(reverse("accounts:security")).status_code == 302
    assert AuditLog.objects.get(action="session.revoked").actor == admin_client.superuser


def test_add_user_form_creates_a_user_with_email_name_and_password(admin_client):
    response = admin_client.post(reverse("admin:accounts_user_add"), {
        "email": "new.person@example.com", "full_name": "New Person", "usable_password": "true",
        "password1": "a-long-unusual-passphrase-7", "password2": "a-long-unusual-passphrase-7",
    })

    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(email="new.person@example.com")
    assert user.full_name == "New Person" and user.check_password("a-long-unusual-passphrase-7")
    assert AuditLog.objects.filter(action="user.created_by_staff", target_id=str(user.pk)).exists()


@pytest.mark.parametrize("data, error", [
    ({"password2": "something-else-entirely-1"}, "The two password fields"),
    ({"email": "ROOT@example.com"}, "already exists"),
    ({"email": "not-an-email"}, "valid email"),
])
def test_add_user_form_refuses_bad_input(admin_client, data, error):
    payload = {"email": "new.person@example.com", "full_name": "New Person", "usable_password": "true",
               "password1": "a-long-unusual-passphrase-7", "password2": "a-long-unusual-passphrase-7", **data}

    response = admin_client.post(reverse("admin:accounts_user_add"), payload)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert User.objects.count() == 1


def test_editing_a_user_is_audited(admin_client):
    user = UserFactory(full_name="Old Name")
    page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert page.status_code == 200

    response = admin_client.post(reverse("admin:accounts_user_change", args=[user.pk]), {
        "email": user.email, "full_name": "New Name", "phone": "", "email_verified": "on",
        "last_login_0": "", "last_login_1": "",
    })

    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditLog.objects.get(action="user.updated_by_staff")
    assert entry.details["changes"]["full_name"] == {"old": "Old Name", "new": "New Name"}


def test_failed_attempts_can_be_cleared_to_lift_a_lock(admin_client):
    row = FailedAttempt.objects.create(scope="login", subject="x@example.com", ip_address="10.0.0.1")

    admin_client.post(reverse("admin:accounts_failedattempt_changelist"),
                      {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})

    assert not FailedAttempt.objects.exists()


def test_non_staff_cannot_open_the_admin(client):
    web_login(client, UserFactory())

    response = client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 302 and "/admin/login/" in response.url
