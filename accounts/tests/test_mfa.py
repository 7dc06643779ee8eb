"""MFA: set-up, backup codes, disable, the challenge at login, replay and lockout."""

import re
import time
from datetime import timedelta

import pyotp
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import BackupCode, FailedAttempt, User, UserSession
from accounts.services import mfa
from accounts.tests.factories import TEST_PASSWORD, UserFactory, enable_mfa, web_login
from accounts.views.mfa import PENDING_AT, PENDING_NEXT, PENDING_USER
from audit.models import AuditLog

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")


def now_code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(time.time()) + steps * 30)


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * 30)


def raw_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk.hex if connection.vendor == "sqlite"
                                                                       else str(pk)])
        return cursor.fetchone()[0]


def set_up_mfa_through_pages(client, user) -> tuple[str, list[str]]:
    page = client.get(reverse("accounts:mfa_setup"))
    assert page.status_code == 200
    user.refresh_from_db()
    secret = user.mfa_secret
    response = client.post(reverse("accounts:mfa_setup"), {"code": now_code(secret)})
    assert response.status_code == 200
    codes = CODE_RE.findall(response.content.decode())
    return secret, codes


def start_challenge(client, user, next_url="/accounts/security/", started=None):
    session = client.session
    session[PENDING_USER] = str(user.pk)
    session[PENDING_NEXT] = next_url
    if started is not None:
        session[PENDING_AT] = started
    session.save()


# --- set-up -------------------------------------------------------------------------------------

def test_setup_page_shows_inline_qr_and_secret_but_does_not_enable_yet(client):
    user = UserFactory()
    web_login(client, user)

    response = client.get(reverse("accounts:mfa_setup"))

    html = response.content.decode()
    user.refresh_from_db()
    assert response.status_code == 200
    qr = html.split('class="qr"', 1)[1].split("</div>", 1)[0]
    assert "<svg" in qr and "<img" not in qr
    assert 'src="http' not in html and 'href="http' not in html  # no external requests
    assert user.mfa_secret and not user.mfa_enabled
    assert user.mfa_secret[:4] in html  # the secret text is shown for manual entry
    assert "no-store" in response["Cache-Control"]
    # a reload keeps the same pending secret (the QR does not change under the user)
    client.get(reverse("accounts:mfa_setup"))
    assert User.objects.get(pk=user.pk).mfa_secret == user.mfa_secret


def test_secret_is_encrypted_at_rest(client):
    user = UserFactory()
    web_login(client, user)
    client.get(reverse("accounts:mfa_setup"))
    user.refresh_from_db()

    stored = raw_column("users", "mfa_secret", user.pk)

    assert stored and user.mfa_secret not in stored


def test_confirming_setup_enables_mfa_and_shows_ten_backup_codes_once(client):
    user = UserFactory()
    web_login(client, user)

    secret, codes = set_up_mfa_through_pages(client, user)

    user.refresh_from_db()
    assert user.mfa_enabled and user.mfa_secret == secret
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    assert AuditLog.objects.get(action="mfa.enabled", target_id=str(user.pk)).details == {"backups_issued": 10}
    # the codes are never shown again
    security = client.get(reverse("accounts:security")).content.decode()
    backup_page = client.get(reverse("accounts:backup_codes")).content.decode()
    assert not any(code in security or code in backup_page for code in codes)
    assert "10" in backup_page


def test_setup_with_wrong_code_keeps_mfa_off(client):
    user = UserFactory()
    web_login(client, user)
    client.get(reverse("accounts:mfa_setup"))
    user.refresh_from_db()

    response = client.post(reverse("accounts:mfa_setup"), {"code": "000000" if now_code(user.mfa_secret) != "000000"
                                                            else "111111"})

    user.refresh_from_db()
    assert response.status_code == 200
    assert "wrong or has expired" in response.content.decode()
    assert not user.mfa_enabled
    assert not BackupCode.objects.filter(user=user).exists()


def test_setup_with_malformed_code_is_a_form_error(client):
    user = UserFactory()
    web_login(client, user)

    response = client.post(reverse("accounts:mfa_setup"), {"code": "12ab56"})

    user.refresh_from_db()
    assert "Enter the 6 digits" in response.content.decode()
    assert not user.mfa_enabled


def test_setup_when_already_enabled_redirects_to_security(client):
    user = UserFactory()
    enable_mfa(user)
    web_login(client, user)

    response = client.get(reverse("accounts:mfa_setup"))

    assert response.status_code == 302 and response.url == reverse("accounts:security")


def test_security_pages_need_login(client):
    for name in ("security", "mfa_setup", "mfa_disable", "backup_codes"):
        response = client.get(reverse(f"accounts:{name}"))
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_security_page_overview(client):
    user = UserFactory()
    web_login(client, user)
    client.get(reverse("accounts:mfa_setup"))
    client.post(reverse("accounts:mfa_setup"), {"code": now_code(User.objects.get(pk=user.pk).mfa_secret)})

    html = client.get(reverse("accounts:security")).content.decode()

    assert "Backup codes left: <strong>10</strong>" in html
    assert reverse("accounts:password_change") in html
    assert reverse("accounts:sessions") in html
    assert reverse("accounts:mfa_disable") in html and reverse("accounts:backup_codes") in html


# --- TOTP rules ---------------------------------------------------------------------------------

def test_same_totp_code_is_not_accepted_twice():
    user = UserFactory()
    secret = enable_mfa(user)
    code = now_code(secret)

    assert mfa.check_second_factor(user=user, code=code, ip="10.0.0.1") == "totp"
    with pytest.raises(mfa.CodeRejected, match="already used"):
        mfa.check_second_factor(user=user, code=code, ip="10.0.0.1")


def test_code_for_an_earlier_step_than_the_last_used_is_refused():
    user = UserFactory()
    secret = enable_mfa(user)
    step = mfa.current_step()
    User.objects.filter(pk=user.pk).update(mfa_last_used_step=step)
    user.refresh_from_db()

    with pytest.raises(mfa.CodeRejected):
        mfa.check_second_factor(user=user, code=code_for_step(secret, step - 1), ip=None)
    with pytest.raises(mfa.CodeRejected):
        mfa.check_second_factor(user=user, code=code_for_step(secret, step), ip=None)
    assert mfa.check_second_factor(user=user, code=code_for_step(secret, step + 1), ip=None) == "totp"
    assert User.objects.get(pk=user.pk).mfa_last_used_step == step + 1


def test_codes_one_step_either_side_are_accepted_but_two_steps_away_are_not():
    user = UserFactory()
    secret = enable_mfa(user)
    step = mfa.current_step()

    assert mfa.matching_step(secret, code_for_step(secret, step - 1)) == step - 1
    assert mfa.matching_step(secret, code_for_step(secret, step + 1)) == step + 1
    old = code_for_step(secret, step - 3)
    if old not in {code_for_step(secret, s) for s in range(step - 1, step + 2)}:
        assert mfa.matching_step(secret, old) is None
        with pytest.raises(mfa.CodeRejected, match="wrong or has expired"):
            mfa.check_second_factor(user=user, code=old, ip=None)


# --- backup codes -------------------------------------------------------------------------------

def test_backup_code_works_once(client):
    user = UserFactory()
    web_login(client, user)
    _, codes = set_up_mfa_through_pages(client, user)
    user.refresh_from_db()

    assert mfa.check_second_factor(user=user, code=codes[0].upper().replace("-", " "), ip=None) == "backup"
    with pytest.raises(mfa.CodeRejected):
        mfa.check_second_factor(user=user, code=codes[0], ip=None)
    assert mfa.backup_codes_left(user=user) == 9


def test_backup_code_of_another_user_does_not_work(client):
    owner, other = UserFactory(), UserFactory()
    web_login(client, owner)
    _, codes = set_up_mfa_through_pages(client, owner)
    enable_mfa(other)

    with pytest.raises(mfa.CodeRejected):
        mfa.check_second_factor(user=other, code=codes[0], ip=None)
    assert mfa.backup_codes_left(user=owner) == 10


def test_regenerate_backup_codes_with_totp_kills_old_ones(client):
    user = UserFactory()
    web_login(client, user)
    secret, old_codes = set_up_mfa_through_pages(client, user)

    response = client.post(reverse("accounts:backup_codes"), {"code": now_code(secret, steps=1)})

    new_codes = CODE_RE.findall(response.content.decode())
    user.refresh_from_db()
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    with pytest.raises(mfa.CodeRejected):
        mfa.check_second_factor(user=user, code=old_codes[0], ip=None)
    assert mfa.check_second_factor(user=user, code=new_codes[0], ip=None) == "backup"
    assert AuditLog.objects.get(action="mfa.backup_codes_regenerated").details == {"backups_issued": 10,
                                                                                   "confirmed_with": "totp"}
    assert AuditLog.objects.get(action="mfa.backup_code_used").details == {"backups_remaining": 9}


def test_regenerate_backup_codes_with_password(client):
    user = UserFactory()
    web_login(client, user)
    set_up_mfa_through_pages(client, user)

    response = client.post(reverse("accounts:backup_codes"), {"password": TEST_PASSWORD})

    assert len(CODE_RE.findall(response.content.decode())) == 10


@pytest.mark.parametrize("data, message", [
    ({"password": "wrong-password-1"}, "The password is wrong."),
    ({"code": "12345"}, "Enter the 6 digits"),
    ({}, "Confirm with a code"),
])
def test_regenerate_backup_codes_refuses_bad_proof(client, data, message):
    user = UserFactory()
    web_login(client, user)
    set_up_mfa_through_pages(client, user)
    before = set(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))

    response = client.post(reverse("accounts:backup_codes"), data)

    assert message in response.content.decode()
    assert not CODE_RE.findall(response.content.decode())
    assert set(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True)) == before


# --- disable ------------------------------------------------------------------------------------

def test_disable_needs_password_and_code(client):
    user = UserFactory()
    web_login(client, user)
    secret, _ = set_up_mfa_through_pages(client, user)

    wrong_password = client.post(reverse("accounts:mfa_disable"), {"password": "nope-nope-1",
                                                                   "code": now_code(secret, 1)})
    user.refresh_from_db()
    assert "The password is wrong." in wrong_password.content.decode() and user.mfa_enabled

    wrong_code = client.post(reverse("accounts:mfa_disable"), {"password": TEST_PASSWORD, "code": "999999"
                                                               if now_code(secret, 1) != "999999" else "888888"})
    user.refresh_from_db()
    assert "wrong" in wrong_code.content.decode() and user.mfa_enabled

    response = client.post(reverse("accounts:mfa_disable"), {"password": TEST_PASSWORD, "code": now_code(secret, 1)})

    user.refresh_from_db()
    assert response.status_code == 302
    assert not user.mfa_enabled and user.mfa_secret == "" and user.mfa_last_used_step is None
    assert not BackupCode.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(action="mfa.disabled", target_id=str(user.pk)).exists()


def test_disable_with_a_backup_code(client):
    user = UserFactory()
    web_login(client, user)
    _, codes = set_up_mfa_through_pages(client, user)

    client.post(reverse("accounts:mfa_disable"), {"password": TEST_PASSWORD, "code": codes[3]})

    user.refresh_from_db()
    assert not user.mfa_enabled


# --- challenge at login -------------------------------------------------------------------------

def test_challenge_without_pending_state_redirects_to_login(client):
    response = client.get(reverse("accounts:mfa_challenge"))

    assert response.status_code == 302 and response.url == reverse("accounts:login")


def test_challenge_with_totp_logs_in_and_goes_to_next(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user, next_url="/accounts/sessions/")

    page = client.get(reverse("accounts:mfa_challenge"))
    assert page.status_code == 200 and user.email in page.content.decode()
    response = client.post(reverse("accounts:mfa_challenge"), {"code": now_code(secret)})

    assert response.status_code == 302 and response.url == "/accounts/sessions/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert PENDING_USER not in client.session and PENDING_NEXT not in client.session
    assert UserSession.objects.filter(user=user, kind="web", revoked_at__isnull=True).count() == 1
    assert client.get(reverse("accounts:security")).status_code == 200


def test_challenge_with_backup_code_logs_in(client):
    user = UserFactory()
    enable_mfa(user)
    codes = mfa._replace_backup_codes(user=user)
    start_challenge(client, user)

    response = client.post(reverse("accounts:mfa_challenge"), {"code": codes[0]}, follow=True)

    assert response.redirect_chain[0][1] == 302
    assert "9 left" in response.content.decode()
    assert client.session["_auth_user_id"] == str(user.pk)


def test_challenge_wrong_code_does_not_log_in(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user)
    wrong = "123456" if now_code(secret) != "123456" else "654321"

    response = client.post(reverse("accounts:mfa_challenge"), {"code": wrong})

    assert response.status_code == 200
    assert "wrong or has expired" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert FailedAttempt.objects.filter(scope="mfa", subject=str(user.pk)).count() == 1


def test_challenge_refuses_a_reused_code(client):
    user = UserFactory()
    secret = enable_mfa(user)
    code = now_code(secret)
    mfa.check_second_factor(user=user, code=code, ip="127.0.0.1")
    start_challenge(client, user)

    response = client.post(reverse("accounts:mfa_challenge"), {"code": code})

    assert "already used" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_challenge_expires_after_five_minutes(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user, started=int(time.time()) - 301)

    response = client.post(reverse("accounts:mfa_challenge"), {"code": now_code(secret)})

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert "_auth_user_id" not in client.session and PENDING_USER not in client.session
    assert User.objects.get(pk=user.pk).mfa_last_used_step is None  # the code was not even checked


def test_challenge_ignores_an_offsite_next(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user, next_url="https://evil.example/steal")

    response = client.post(reverse("accounts:mfa_challenge"), {"code": now_code(secret)})

    assert response.status_code == 302 and response.url == reverse("home")


def test_challenge_for_a_user_blocked_meanwhile_goes_back_to_login(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user)
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    response = client.post(reverse("accounts:mfa_challenge"), {"code": now_code(secret)})

    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_five_wrong_codes_lock_the_user_and_ip_pair(client):
    user = UserFactory()
    secret = enable_mfa(user)
    start_challenge(client, user)
    good = now_code(secret)
    wrong = "000000" if good != "000000" else "111111"

    for _ in range(4):
        client.post(reverse("accounts:mfa_challenge"), {"code": wrong})
    fifth = client.post(reverse("accounts:mfa_challenge"), {"code": wrong})
    locked = client.post(reverse("accounts:mfa_challenge"), {"code": good})

    assert "Too many wrong codes. Try again in 15 minutes." in fifth.content.decode()
    assert "Too many wrong codes" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert User.objects.get(pk=user.pk).mfa_last_used_step is None
    # another IP is not locked
    other = client.post(reverse("accounts:mfa_challenge"), {"code": good}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_lock_ends_after_fifteen_minutes(client):
    user = UserFactory()
    secret = enable_mfa(user)
    for _ in range(5):
        FailedAttempt.objects.create(scope="mfa", subject=str(user.pk), ip_address="127.0.0.1")
    with pytest.raises(mfa.CodeLocked):
        mfa.check_second_factor(user=user, code=now_code(secret), ip="127.0.0.1")

    FailedAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=16))

    assert mfa.check_second_factor(user=user, code=now_code(secret), ip="127.0.0.1") == "totp"


def test_whole_chain_through_the_login_page(client):
    user = UserFactory()
    secret = enable_mfa(user)

    response = client.post(reverse("accounts:login"), {"email": user.email, "password": TEST_PASSWORD,
                                                       "next": "/accounts/sessions/"})
    assert response.status_code == 302 and response.url == reverse("accounts:mfa_challenge")
    assert "_auth_user_id" not in client.session  # password alone does not log in

    response = client.post(reverse("accounts:mfa_challenge"), {"code": now_code(secret)})

    assert response.status_code == 302 and response.url == "/accounts/sessions/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditLog.objects.filter(action="user.login", actor=user, details__second_factor="totp").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_totp_code_raced_from_two_requests_is_accepted_once():
    import threading

    from django.db import connections

    user = UserFactory()
    secret = enable_mfa(user)
    code = now_code(secret)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def check():
        try:
            me = User.objects.get(pk=user.pk)
            barrier.wait()
            outcomes.append(mfa.check_second_factor(user=me, code=code, ip="10.0.0.1"))
        except mfa.CodeRejected:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "totp"]
