import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from accounts.tests.factories import UserFactory
from core import crypto


def _raw_mfa_secret(user: User) -> str:
    with connection.cursor() as cursor:
        user_id = user.pk.hex if connection.vendor == "sqlite" else user.pk
        cursor.execute("SELECT mfa_secret FROM users WHERE id = %s", [user_id])
        return cursor.fetchone()[0]


@pytest.fixture
def two_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    return settings, old, new


@pytest.mark.django_db
def test_encrypted_field_stores_ciphertext_and_reads_plaintext(two_keys):
    user = UserFactory(mfa_secret="JBSWY3DPEHPK3PXP")

    raw = _raw_mfa_secret(user)

    assert raw != "JBSWY3DPEHPK3PXP"
    assert "JBSWY3DPEHPK3PXP" not in raw
    assert User.objects.get(pk=user.pk).mfa_secret == "JBSWY3DPEHPK3PXP"


@pytest.mark.django_db
def test_rotation_new_key_first_still_reads_old_values_and_reencrypt_moves_them(two_keys):
    settings, old, new = two_keys
    user = UserFactory(mfa_secret="ROTATE-ME")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]

    assert User.objects.get(pk=user.pk).mfa_secret == "ROTATE-ME"

    call_command("reencrypt_fields", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]

    assert User.objects.get(pk=user.pk).mfa_secret == "ROTATE-ME"
    assert Fernet(new.encode()).decrypt(_raw_mfa_secret(user).encode()) == b"ROTATE-ME"


@pytest.mark.django_db
def test_dropping_a_key_too_early_fails_loudly(two_keys):
    settings, old, new = two_keys
    user = UserFactory(mfa_secret="LOST")
    settings.FIELD_ENCRYPTION_KEYS = [new]

    with pytest.raises(ImproperlyConfigured, match="reencrypt_fields"):
        User.objects.get(pk=user.pk)


def test_bad_key_gives_a_clear_message(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]

    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        crypto.encrypt("x")


def test_digest_is_purpose_bound_and_not_the_value():
    a = crypto.digest("123456", purpose="otp")
    assert a != "123456"
    assert a == crypto.digest("123456", purpose="otp")
    assert a != crypto.digest("123456", purpose="reset")


def test_new_token_has_at_least_128_bits():
    token = crypto.new_token()
    assert len(token) >= 43  # 32 bytes url-safe base64
    assert token != crypto.new_token()


def test_mask_keeps_only_last_four():
    assert crypto.mask("4111111111111111") == "•••• 1111"
    assert "41111111" not in crypto.mask("4111111111111111")
    assert crypto.mask("") == ""
