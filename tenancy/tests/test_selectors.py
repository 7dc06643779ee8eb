"""A user's permissions in a tenant, a tenant's users with their roles, a permission check."""

import pytest

from accounts.tests.factories import UserFactory
from tenancy import selectors, services
from tenancy.tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_all_permissions_of_a_user_in_a_tenant(tenant, other_tenant):
    user = make_member(tenant, "merchant", "trader")
    services.assign_role(tenant=other_tenant, user=user, role_key="user")

    keys = list(selectors.permissions_of_user_in_tenant(user=user, tenant=tenant).values_list("key", flat=True))

    assert keys == sorted(set(keys))  # DISTINCT, one row per permission
    assert {"stores.manage", "requisites.manage", "orders.view"} <= set(keys)
    assert "signals.manage" not in keys  # another tenant's role
    first = selectors.permissions_of_user_in_tenant(user=user, tenant=tenant).first()
    assert first.name and first.resource and first.action


def test_all_active_users_of_a_tenant_with_role_names(tenant, other_tenant):
    alice = make_member(tenant, "merchant", "trader", email="alice@example.com")
    make_member(tenant, "merchant", email="blocked@example.com", status="blocked")
    make_member(other_tenant, "admin", email="elsewhere@example.com")
    services.assign_role(tenant=other_tenant, user=alice, role_key="admin")
    make_member(tenant, email="norole@example.com")

    rows = [(u.email, u.role_name) for u in selectors.tenant_users_with_roles(tenant=tenant)]

    assert rows == [("alice@example.com", "Merchant"), ("alice@example.com", "Trader")]


def test_has_permission(tenant, other_tenant):
    user = make_member(tenant, "trader")
    services.add_membership(tenant=other_tenant, user=user)

    assert selectors.user_has_permission(user=user, tenant=tenant, perm_key="requisites.manage")
    assert not selectors.user_has_permission(user=user, tenant=tenant, perm_key="stores.manage")
    assert not selectors.user_has_permission(user=user, tenant=other_tenant, perm_key="requisites.manage")
    assert not selectors.user_has_permission(user=UserFactory(), tenant=tenant, perm_key="requisites.manage")


def test_has_permission_is_one_query(tenant, django_assert_num_queries):
    user = make_member(tenant, "trader")

    with django_assert_num_queries(1):
        selectors.user_has_permission(user=user, tenant=tenant, perm_key="orders.manage")
