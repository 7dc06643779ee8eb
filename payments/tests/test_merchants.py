"""Merchant profiles, stores and their keys."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from payments.errors import PaymentsError
from payments.models import BalanceStore, Merchant, MerchantStore
from payments.selectors.stores import find_store_by_private_key
from payments.services import merchants as merchant_services
from tenancy.models import Membership, RoleAssignment
from tenancy.scoping import tenant_context

from .factories import MerchantFactory, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


def test_creating_a_merchant_makes_the_user_a_member_with_the_merchant_role(tenant):
    user = UserFactory()

    merchant = merchant_services.create_merchant(tenant=tenant, user=user, first_name="Mila", last_name="M")

    assert user.merchant_profile == merchant
    assert Membership.objects.filter(tenant=tenant, user=user).exists()
    assert RoleAssignment.objects.filter(tenant=tenant, user=user, role__key="merchant").exists()
    assert AuditLog.objects.filter(action="merchant.created", target_id=str(merchant.pk)).exists()


def test_a_user_has_one_merchant_profile(tenant):
    user = UserFactory()
    merchant_services.create_merchant(tenant=tenant, user=user)

    with pytest.raises(PaymentsError) as refused:
        merchant_services.create_merchant(tenant=tenant, user=user)

    assert refused.value.code == "merchant_exists"
    assert Merchant.objects.filter(user=user).count() == 1


def test_staff_without_can_manage_merchants_cannot_create_one(tenant, staff):
    support = staff("can_view_orders")

    with pytest.raises(PermissionDenied):
        merchant_services.create_merchant(tenant=tenant, user=UserFactory(), actor=support)

    assert not Merchant.objects.exists()


def test_a_new_store_gets_keys_and_the_private_key_is_stored_only_as_a_digest(refs):
    store, raw_key = make_store(refs)

    assert raw_key.startswith("sk_") and len(raw_key) > 40
    assert store.public_api_key.startswith("pk_")
    assert store.private_api_key_prefix == raw_key[:10]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM merchant_stores WHERE id = %s", [store.pk])
        row = cursor.fetchone()
    assert not any(raw_key in str(value) for value in row)
    assert not any(raw_key[10:] in str(value) for value in row)
    assert BalanceStore.objects.filter(store=store, crypto_currency=refs.usdt, balance=0).exists()


def test_the_callback_secret_is_encrypted_at_rest(refs):
    store, _ = make_store(refs)
    secret = MerchantStore.objects.get(pk=store.pk).secret_key

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM merchant_stores WHERE id = %s", [store.pk])
        stored = cursor.fetchone()[0]

    assert secret.startswith("whsec_")
    assert secret not in stored


def test_the_store_is_found_by_its_private_key_before_any_tenant_is_known(refs, tenant):
    store, raw_key = make_store(refs)

    with tenant_context(None):
        found = find_store_by_private_key(raw_key)
        assert find_store_by_private_key(raw_key + "x") is None
        assert find_store_by_private_key("") is None
        assert find_store_by_private_key(store.public_api_key) is None

    assert found.pk == store.pk
    assert found.tenant_id == tenant.pk


def test_rotating_keys_retires_the_old_one_and_is_audited(refs, staff):
    admin = staff("can_manage_merchants")
    store, old_key = make_store(refs)

    new_key = merchant_services.rotate_store_keys(store=store, actor=admin)

    assert new_key != old_key
    assert find_store_by_private_key(old_key) is None
    assert find_store_by_private_key(new_key).pk == store.pk
    entry = AuditLog.objects.get(action="store.keys_rotated")
    assert entry.actor == admin
    assert old_key not in str(entry.details) and new_key not in str(entry.details)
    assert new_key[10:] not in entry.description


def test_store_limits_need_can_edit_limits(refs, staff):
    store, _ = make_store(refs)
    merchants_admin = staff("can_manage_merchants")
    limits_admin = staff("can_edit_limits")

    with pytest.raises(PermissionDenied):
        merchant_services.update_store(store=store, changes={"upper_limit": Decimal("90000.00")},
                                       actor=merchants_admin)
    with pytest.raises(PermissionDenied):
        merchant_services.update_store(store=store, changes={"pay_out_enabled": False}, actor=limits_admin)
    merchant_services.update_store(store=store, changes={"upper_limit": Decimal("90000.00")},
                                   actor=limits_admin)

    store.refresh_from_db()
    assert store.upper_limit == Decimal("90000.00")
    entry = AuditLog.objects.get(action="store.changed")
    assert entry.details["changes"] == {"upper_limit": {"old": "50000.00", "new": "90000.00"}}


def test_store_limits_must_be_ordered(refs):
    store, _ = make_store(refs)

    with pytest.raises(PaymentsError) as refused:
        merchant_services.update_store(store=store, changes={"lower_limit": Decimal("60000.00")})

    assert refused.value.code == "invalid_limits"
    store.refresh_from_db()
    assert store.lower_limit == Decimal("100.00")


def test_a_store_cannot_use_another_tenants_currency(refs, other_tenant):
    from payments.models import FiatCurrency

    with tenant_context(other_tenant):
        foreign = FiatCurrency.objects.create(code="THB", name="Baht")

    with pytest.raises(PaymentsError) as refused:
        make_store(refs, fiat_currency=foreign)

    assert refused.value.code == "cross_tenant"


def test_merchant_factory_row_has_the_current_tenant(tenant):
    assert MerchantFactory().tenant_id == tenant.pk


def test_flag_checks_compare_with_the_database_not_with_an_edited_object(refs, staff):
    store, _ = make_store(refs)
    store.upper_limit = Decimal("70000.00")  # as a form would leave it before save

    with pytest.raises(PermissionDenied):
        merchant_services.update_store(store=store, changes={"upper_limit": Decimal("70000.00")},
                                       actor=staff("can_manage_merchants"))

    assert MerchantStore.objects.get(pk=store.pk).upper_limit == Decimal("50000.00")
