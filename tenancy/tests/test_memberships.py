import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from tenancy import services
from tenancy.models import Membership, RoleAssignment
from tenancy.tests.factories import TenantFactory, make_admin, make_member

pytestmark = pytest.mark.django_db


def defaults_of(user):
    return list(Membership.objects.filter(user=user, is_default=True).values_list("tenant__name", flat=True))


def test_first_membership_becomes_the_default_and_later_ones_do_not(tenant, other_tenant):
    user = UserFactory()

    services.add_membership(tenant=tenant, user=user)
    services.add_membership(tenant=other_tenant, user=user)

    assert defaults_of(user) == ["Tenant A"]


def test_asking_for_a_new_default_moves_it(tenant, other_tenant):
    user = UserFactory()
    services.add_membership(tenant=tenant, user=user)

    services.add_membership(tenant=other_tenant, user=user, is_default=True)

    assert defaults_of(user) == ["Tenant B"]
    assert AuditLog.objects.filter(action="membership.default_changed").count() == 1


def test_add_membership_is_idempotent(tenant):
    user = UserFactory()

    first = services.add_membership(tenant=tenant, user=user)
    second = services.add_membership(tenant=tenant, user=user)

    assert first.pk == second.pk
    assert Membership.objects.filter(user=user).count() == 1
    assert AuditLog.objects.filter(action="membership.added", target_id=str(first.pk)).count() == 1


def test_the_database_refuses_a_second_default(tenant, other_tenant):
    user = UserFactory()
    Membership.objects.create(user=user, tenant=tenant, is_default=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, tenant=other_tenant, is_default=True)


def test_removing_the_default_promotes_another_and_drops_the_roles(tenant, other_tenant):
    user = make_member(tenant, "merchant")
    services.add_membership(tenant=other_tenant, user=user)

    services.remove_membership(user=user, tenant=tenant)

    assert defaults_of(user) == ["Tenant B"]
    assert not RoleAssignment.objects.filter(user=user, tenant=tenant).exists()
    assert AuditLog.objects.filter(action="role.revoked", details__role="merchant").exists()


def test_a_user_sets_their_own_default(tenant, other_tenant):
    user = UserFactory()
    services.add_membership(tenant=tenant, user=user)
    services.add_membership(tenant=other_tenant, user=user)

    services.set_default_membership(user=user, tenant=other_tenant, actor=user)

    assert defaults_of(user) == ["Tenant B"]


def test_staff_without_member_management_cannot_add_members(tenant):
    limited = make_admin(role_key="admin_limited", tenants=[tenant])

    with pytest.raises(PermissionDenied):
        services.add_membership(tenant=tenant, user=UserFactory(), actor=limited)

    assert Membership.objects.filter(tenant=tenant).count() == 1  # only the admin


def test_member_managers_cannot_add_members_to_a_tenant_they_are_not_in(tenant, other_tenant):
    manager = make_admin(role_key="admin_full", tenants=[tenant])

    with pytest.raises(PermissionDenied):
        services.add_membership(tenant=other_tenant, user=UserFactory(), actor=manager)

    assert not Membership.objects.filter(tenant=other_tenant).exists()


def test_member_manager_adds_a_member_and_it_is_audited(tenant):
    manager = make_admin(role_key="admin_full", tenants=[tenant])
    newcomer = UserFactory()

    membership = services.add_membership(tenant=tenant, user=newcomer, actor=manager)

    entry = AuditLog.objects.get(action="membership.added", target_id=str(membership.pk))
    assert entry.actor_id == manager.pk
    assert entry.tenant_id == tenant.pk
    assert entry.details["user"] == str(newcomer.pk)


def test_assign_role_is_idempotent_and_makes_a_member(tenant):
    user = UserFactory()

    first = services.assign_role(tenant=tenant, user=user, role_key="trader")
    second = services.assign_role(tenant=tenant, user=user, role_key="trader")

    assert first.pk == second.pk
    assert Membership.objects.filter(user=user, tenant=tenant, is_default=True).exists()
    assert AuditLog.objects.filter(action="role.assigned", target_id=str(first.pk)).count() == 1


def test_suspended_tenant_memberships_grant_nothing():
    suspended = TenantFactory(status="suspended")
    user = make_member(suspended, "merchant")

    from tenancy.authz import can

    assert not can(user, "stores.manage", tenant=suspended)
