"""Phone OTP: SMS backends, code rules (hashing, purpose, expiry, attempts, single use, cool-down), phone pages."""

import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import sms
from accounts.models import FailedAttempt, OtpVerification, User
from accounts.services import otp
from accounts.tests.factories import UserFactory, web_login
from audit.models import AuditLog

pytestmark = pytest.mark.django_db

Purpose = OtpVerification.Purpose
PHONE = "+66812345678"


@pytest.fixture
def outbox(settings, tmp_path):
    settings.SMS_BACKEND = "accounts.sms.FileSmsBackend"
    settings.SMS_OUTBOX_DIR = str(tmp_path)
    return tmp_path


def last_code(directory) -> str:
    return re.search(r"\b(\d{6})\b", sms.read_outbox(directory)[-1]["text"]).group(1)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# --- SMS backends -------------------------------------------------------------------------------

def test_file_backend_writes_one_json_line_per_message(outbox):
    sms.send_sms("+15550001111", "first")
    sms.send_sms("+15550002222", "second")

    lines = (outbox / sms.OUTBOX_FILE).read_text().splitlines()
    messages = sms.read_outbox(outbox)
    assert len(lines) == 2
    assert [(m["to"], m["text"]) for m in messages] == [("+15550001111", "first"), ("+15550002222", "second")]
    assert all(m["sent_at"] for m in messages)


def test_console_backend_prints_the_message():
    stream = io.StringIO()

    sms.ConsoleSmsBackend(stream=stream).send(PHONE, "hello 123456")

    assert stream.getvalue() == f"SMS to {PHONE}: hello 123456\n"


def test_unwritable_outbox_is_a_delivery_error_and_leaves_no_code(settings, tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.SMS_BACKEND = "accounts.sms.FileSmsBackend"
    settings.SMS_OUTBOX_DIR = str(blocker)

    with pytest.raises(otp.OtpNotSent):
        otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)

    assert not OtpVerification.objects.exists()  # a retry is not blocked by the cool-down
    assert not re.search(r"\b\d{6}\b", caplog.text)


# --- code rules ---------------------------------------------------------------------------------

def test_code_is_six_digits_sent_by_sms_and_stored_only_hashed(outbox, caplog):
    row = otp.issue_otp(phone="+66 81-234-5678", purpose=Purpose.LOGIN)

    code = last_code(outbox)
    assert row.phone_number == PHONE
    assert sms.read_outbox(outbox)[-1]["to"] == PHONE
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash) and code not in row.code_hash
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM otp_verifications")
        assert code not in repr(cursor.fetchall())
    assert code not in caplog.text
    assert row.expires_at - row.created_at == timedelta(minutes=5)


def test_equal_codes_have_different_hashes(outbox, monkeypatch):
    monkeypatch.setattr(otp.secrets, "randbelow", lambda n: 424242)
    first = otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    second = otp.issue_otp(phone="+66812345679", purpose=Purpose.LOGIN)

    assert last_code(outbox) == "424242"
    assert first.code_hash != second.code_hash


def test_right_code_verifies_once(outbox):
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    code = last_code(outbox)

    row = otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=code, ip="10.0.0.1")

    assert row.is_used and OtpVerification.objects.get(pk=row.pk).is_used
    with pytest.raises(otp.OtpRejected, match="wrong or has expired"):
        otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=code, ip="10.0.0.1")


def test_code_for_another_purpose_never_verifies(outbox):
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    code = last_code(outbox)

    with pytest.raises(otp.OtpRejected):
        otp.verify_otp(phone=PHONE, purpose=Purpose.PASSWORD_RESET, code=code, ip=None)
    # a row of the other purpose with the same code does not match either: the hash is purpose-bound
    row = OtpVerification.objects.get()
    OtpVerification.objects.filter(pk=row.pk).update(purpose=Purpose.PASSWORD_RESET)
    with pytest.raises(otp.OtpRejected):
        otp.verify_otp(phone=PHONE, purpose=Purpose.PASSWORD_RESET, code=code, ip=None)


def test_expired_code_is_refused(outbox):
    row = otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    code = last_code(outbox)
    OtpVerification.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(otp.OtpRejected, match="expired"):
        otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=code, ip=None)
    assert not OtpVerification.objects.get(pk=row.pk).is_used


def test_five_wrong_tries_kill_the_code(outbox):
    row = otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    code = last_code(outbox)

    messages = []
    for n in range(5):
        with pytest.raises(otp.OtpError) as caught:
            # each try from another IP, so the per-IP lockout is not what stops it
            otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=other_code(code), ip=f"10.0.0.{n}")
        messages.append(caught.value.message)

    assert OtpVerification.objects.get(pk=row.pk).attempts == 5
    assert messages[0] == "The code is wrong. 4 tries left."
    assert messages[-1].startswith("Too many wrong tries")
    with pytest.raises(otp.OtpRejected):  # the 6th try, even with the right code
        otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=code, ip="10.0.1.1")
    assert not OtpVerification.objects.get(pk=row.pk).is_used


def test_five_wrong_codes_from_one_ip_lock_the_phone_ip_pair(outbox, settings):
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    code = last_code(outbox)
    for _ in range(4):
        with pytest.raises(otp.OtpRejected):
            otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=other_code(code), ip="10.0.0.1")
    with pytest.raises(otp.OtpLocked, match="Try again in 15 minutes"):
        otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=other_code(code), ip="10.0.0.1")

    settings.OTP_RESEND_COOLDOWN = timedelta(0)
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    fresh = last_code(outbox)
    with pytest.raises(otp.OtpLocked):
        otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=fresh, ip="10.0.0.1")
    assert FailedAttempt.objects.filter(scope="otp", subject=PHONE).count() == 5
    assert otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=fresh, ip="10.0.0.2").is_used


def test_resend_inside_cooldown_is_refused(outbox):
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)

    with pytest.raises(otp.OtpCooldown, match="seconds"):
        otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)

    assert OtpVerification.objects.count() == 1
    assert len(sms.read_outbox(outbox)) == 1


def test_resend_after_cooldown_retires_the_old_code(outbox):
    first = otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    old_code = last_code(outbox)
    OtpVerification.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)
    new_code = last_code(outbox)

    if old_code != new_code:
        with pytest.raises(otp.OtpRejected):
            otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=old_code, ip=None)
    assert otp.verify_otp(phone=PHONE, purpose=Purpose.LOGIN, code=new_code, ip=None).is_used


def test_other_purpose_has_its_own_cooldown(outbox):
    otp.issue_otp(phone=PHONE, purpose=Purpose.LOGIN)

    otp.issue_otp(phone=PHONE, purpose=Purpose.PASSWORD_RESET)

    assert OtpVerification.objects.count() == 2


@pytest.mark.parametrize("bad", ["0812345678", "+0812345678", "+66", "phone", ""])
def test_non_e164_numbers_are_refused(outbox, bad):
    with pytest.raises(otp.PhoneError):
        otp.issue_otp(phone=bad, purpose=Purpose.LOGIN)
    assert not OtpVerification.objects.exists()


# --- the phone pages ----------------------------------------------------------------------------

def test_phone_verification_end_to_end(client, outbox):
    user = UserFactory()
    web_login(client, user)

    response = client.post(reverse("accounts:phone"), {"phone": "+66 81 234 5678"})
    assert response.status_code == 302 and response.url == reverse("accounts:phone_verify")
    page = client.get(reverse("accounts:phone_verify")).content.decode()
    assert "5678" in page and PHONE not in page  # masked
    code = last_code(outbox)

    response = client.post(reverse("accounts:phone_verify"), {"code": code})

    user.refresh_from_db()
    assert response.status_code == 302
    assert user.phone == PHONE and user.phone_verified
    entry = AuditLog.objects.get(action="phone.verified")
    assert code not in str(entry.details) and PHONE not in str(entry.details)


def test_phone_verify_wrong_code_changes_nothing(client, outbox):
    user = UserFactory()
    web_login(client, user)
    client.post(reverse("accounts:phone"), {"phone": PHONE})
    code = last_code(outbox)

    response = client.post(reverse("accounts:phone_verify"), {"code": other_code(code)})

    user.refresh_from_db()
    assert "The code is wrong. 4 tries left." in response.content.decode()
    assert user.phone is None and not user.phone_verified


def test_phone_verify_malformed_code_is_a_form_error(client, outbox):
    user = UserFactory()
    web_login(client, user)
    client.post(reverse("accounts:phone"), {"phone": PHONE})

    response = client.post(reverse("accounts:phone_verify"), {"code": "12a456"})

    assert "Enter the 6 digits" in response.content.decode()
    assert OtpVerification.objects.get().attempts == 0


def test_taken_number_gets_a_clear_error_and_no_sms(client, outbox):
    UserFactory(phone=PHONE, phone_verified=True)
    user = UserFactory()
    web_login(client, user)

    response = client.post(reverse("accounts:phone"), {"phone": PHONE})

    assert "already in use by another account" in response.content.decode()
    assert sms.read_outbox(outbox) == []
    assert not OtpVerification.objects.exists()


def test_number_taken_between_code_and_verify_is_refused(client, outbox):
    user = UserFactory()
    web_login(client, user)
    client.post(reverse("accounts:phone"), {"phone": PHONE})
    code = last_code(outbox)
    UserFactory(phone=PHONE)

    response = client.post(reverse("accounts:phone_verify"), {"code": code})

    user.refresh_from_db()
    assert "already in use" in response.content.decode()
    assert user.phone is None


def test_invalid_number_is_a_form_error(client, outbox):
    web_login(client, UserFactory())

    response = client.post(reverse("accounts:phone"), {"phone": "12345"})

    assert "international format" in response.content.decode()
    assert sms.read_outbox(outbox) == []


def test_resend_on_the_verify_page_respects_the_cooldown(client, outbox):
    web_login(client, UserFactory())
    client.post(reverse("accounts:phone"), {"phone": PHONE})

    response = client.post(reverse("accounts:phone_verify"), {"resend": "1"}, follow=True)

    assert "You can ask for a new one in" in response.content.decode()
    assert len(sms.read_outbox(outbox)) == 1


def test_phone_verify_without_a_pending_number_goes_back(client):
    web_login(client, UserFactory())

    response = client.get(reverse("accounts:phone_verify"))

    assert response.status_code == 302 and response.url == reverse("accounts:phone")


def test_code_sent_to_one_user_does_not_verify_for_another(client, outbox):
    alice, bob = UserFactory(), UserFactory()
    otp.start_phone_verification(user=alice, phone=PHONE)
    code = last_code(outbox)

    with pytest.raises(otp.OtpRejected):
        otp.confirm_phone(user=bob, phone=PHONE, code=code, ip=None)
    assert User.objects.get(pk=bob.pk).phone is None
