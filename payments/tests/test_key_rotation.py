"""Requisite numbers and store secrets survive a rotation of FIELD_ENCRYPTION_KEYS (RLS included)."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from payments.models import MerchantStore, ReqTrader
from tenancy.scoping import tenant_context

from .factories import make_requisite, make_store


def test_reencrypt_fields_reaches_every_tenants_numbers_and_secrets(tenant, refs, settings):
    requisite = make_requisite(refs, number="4000111122223333")
    store, _ = make_store(refs)
    secret = MerchantStore.objects.get(pk=store.pk).secret_key
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]

    with tenant_context(None):  # the command runs outside any tenant, as from a shell
        out = StringIO()
        call_command("reencrypt_fields", stdout=out)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is dropped

    assert "payments.ReqTrader.req_number: 1 re-encrypted" in out.getvalue()
    assert ReqTrader.objects.get(pk=requisite.pk).req_number == "4000111122223333"
    assert MerchantStore.objects.get(pk=store.pk).secret_key == secret


@pytest.fixture(autouse=True)
def _clear_keyring_cache():
    from core import crypto

    crypto._keyring.cache_clear()
    yield
    crypto._keyring.cache_clear()
