"""Trying to break the staff rules through the services (the admin is tested in test_admin.py)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from tenancy import services
from tenancy.authz.permissions import ADMIN_FLAGS
from tenancy.models import AdminProfile, SupportProfile
from tenancy.tests.factories import fresh, make_admin, make_super_admin, make_support

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss():
    return make_super_admin()


@pytest.fixture
def head_admin():
    """Manages other admins, and holds admin_full's flags too."""
    return make_admin(role_key="admin_full", flags={**dict.fromkeys(ADMIN_FLAGS, True)})


def test_an_admin_without_the_flag_cannot_create_admins():
    admin = make_admin(role_key="admin_full")  # everything but can_manage_other_admins

    with pytest.raises(PermissionDenied):
        services.create_admin_profile(user=UserFactory(), role_key="admin_limited", actor=admin)

    assert AdminProfile.objects.count() == 1


def test_an_admin_with_the_flag_creates_an_admin(head_admin):
    newcomer = UserFactory()

    profile = services.create_admin_profile(user=newcomer, role_key="admin_limited", actor=head_admin)

    assert profile.flags() == {flag: flag in {"can_edit_limits", "can_view_full_logs", "can_handle_appeals"}
                               for flag in ADMIN_FLAGS}
    assert fresh(newcomer).is_staff and not fresh(newcomer).is_superuser
    entry = AuditLog.objects.get(action="staff.admin_created", target_id=str(profile.pk))
    assert entry.actor_id == head_admin.pk and entry.details["can_edit_limits"] is True


def test_only_a_super_admin_makes_a_super_admin(head_admin, boss):
    with pytest.raises(PermissionDenied):
        services.create_admin_profile(user=UserFactory(), role_key="super_admin", actor=head_admin)

    profile = services.create_admin_profile(user=UserFactory(), role_key="super_admin", actor=boss)

    assert fresh(profile.user).is_superuser
    assert all(profile.flags().values())


def test_an_admin_cannot_touch_a_super_admin(head_admin, boss):
    profile = AdminProfile.objects.get(user=boss)

    with pytest.raises(PermissionDenied):
        services.update_admin_profile(profile=profile, role_key="admin_limited", actor=head_admin)
    with pytest.raises(PermissionDenied):
        services.delete_admin_profile(profile=profile, actor=head_admin)

    profile.refresh_from_db()
    assert profile.role.key == "super_admin" and fresh(boss).is_superuser


def test_an_admin_cannot_promote_another_admin_to_super_admin(head_admin):
    other = make_admin(role_key="admin_limited")

    with pytest.raises(PermissionDenied):
        services.update_admin_profile(profile=other.admin_profile, role_key="super_admin", actor=head_admin)

    assert not fresh(other).is_superuser


def test_an_admin_cannot_change_their_own_profile(head_admin):
    with pytest.raises(PermissionDenied):
        services.update_admin_profile(profile=head_admin.admin_profile, flags={"can_view_full_logs": False},
                                      actor=head_admin)


def test_an_admin_cannot_grant_flags_they_do_not_hold(tenant):
    limited_head = make_admin(role_key="admin_limited", flags={"can_manage_other_admins": True,
                                                               "can_edit_limits": True}, tenants=[tenant])
    target = make_admin(role_key="admin_limited", flags={"can_edit_limits": True}, tenants=[tenant])

    with pytest.raises(PermissionDenied, match="can_view_full_logs"):
        services.update_admin_profile(profile=target.admin_profile,
                                      flags={"can_edit_limits": True, "can_view_full_logs": True},
                                      actor=limited_head)
    with pytest.raises(PermissionDenied):
        services.create_admin_profile(user=UserFactory(), role_key="admin_full", actor=limited_head)

    # switching off, or keeping what they hold, is fine
    services.update_admin_profile(profile=target.admin_profile, flags={"can_edit_limits": False},
                                  actor=limited_head)
    assert not AdminProfile.objects.get(pk=target.admin_profile.pk).can_edit_limits


def test_supports_are_managed_only_with_can_manage_supports():
    no_supports = make_admin(role_key="admin_limited")
    supports = make_admin(role_key="admin_full")

    with pytest.raises(PermissionDenied):
        services.create_support_profile(user=UserFactory(), role_key="support_orders", actor=no_supports)
    profile = services.create_support_profile(user=UserFactory(), role_key="support_readonly", actor=supports)
    with pytest.raises(PermissionDenied):
        services.update_support_profile(profile=profile, flags={"can_view_sensitive_data": True},
                                        actor=no_supports)
    with pytest.raises(PermissionDenied):
        services.delete_support_profile(profile=profile, actor=no_supports)

    assert SupportProfile.objects.filter(pk=profile.pk, can_view_sensitive_data=False).exists()


def test_a_support_manages_nobody():
    support = make_support(role_key="support_orders")

    with pytest.raises(PermissionDenied):
        services.create_support_profile(user=UserFactory(), role_key="support_readonly", actor=support)
    with pytest.raises(PermissionDenied):
        services.create_admin_profile(user=UserFactory(), role_key="admin_limited", actor=support)


def test_an_admin_cannot_turn_an_admin_into_a_support_or_back(head_admin):
    other_admin = make_admin(role_key="admin_limited")
    only_supports = make_admin(role_key="admin_full")

    with pytest.raises((PermissionDenied, ValidationError)):
        services.create_support_profile(user=other_admin, role_key="support_orders", actor=only_supports)
    with pytest.raises(ValidationError):
        services.create_support_profile(user=other_admin, role_key="support_readonly", actor=head_admin)


def test_the_last_super_admin_stays(boss):
    profile = AdminProfile.objects.get(user=boss)

    with pytest.raises(ValidationError):
        services.delete_admin_profile(profile=profile, actor=boss)
    with pytest.raises(ValidationError):
        services.update_admin_profile(profile=profile, role_key="admin_full", actor=boss)

    second = make_super_admin()
    services.update_admin_profile(profile=profile, role_key="admin_full", actor=second)
    assert not fresh(boss).is_superuser


def test_changes_are_audited_with_old_and_new_values(boss):
    target = make_admin(role_key="admin_limited")

    services.update_admin_profile(profile=target.admin_profile, role_key="admin_full",
                                  flags={"can_edit_limits": True, "can_manage_traders": True}, actor=boss)

    entry = AuditLog.objects.get(action="staff.admin_updated")
    assert entry.details["changes"]["role"] == {"old": "admin_limited", "new": "admin_full"}
    assert entry.details["changes"]["can_manage_traders"] == {"old": False, "new": True}
    assert entry.details["changes"]["can_view_full_logs"] == {"old": True, "new": False}
    assert "can_edit_limits" not in entry.details["changes"]


def test_role_assignment_needs_the_matching_flag_or_the_roles_permissions(tenant):
    merchants_admin = make_admin(role_key="admin_limited", flags={"can_manage_merchants": True}, tenants=[tenant])
    user = UserFactory()

    services.assign_role(tenant=tenant, user=user, role_key="merchant", actor=merchants_admin)
    with pytest.raises(PermissionDenied):
        services.assign_role(tenant=tenant, user=user, role_key="trader", actor=merchants_admin)
    with pytest.raises(PermissionDenied):
        services.assign_role(tenant=tenant, user=user, role_key="admin", actor=merchants_admin)
    with pytest.raises(PermissionDenied):
        services.assign_role(tenant=tenant, user=merchants_admin, role_key="merchant", actor=merchants_admin)

    assert list(user.role_assignments.values_list("role__key", flat=True)) == ["merchant"]


def test_service_roles_only_by_a_super_admin(boss):
    head = make_admin(role_key="admin_full", flags=dict.fromkeys(ADMIN_FLAGS, True))
    user = UserFactory()

    with pytest.raises(PermissionDenied):
        services.set_service_role(user=user, service_name="trading", role_key="admin", actor=head)
    services.set_service_role(user=user, service_name="trading", role_key="admin", actor=boss)

    assert AuditLog.objects.filter(action="service_role.assigned", actor=boss).exists()


def test_tenants_only_by_a_super_admin(boss):
    head = make_admin(role_key="admin_full", flags=dict.fromkeys(ADMIN_FLAGS, True))

    with pytest.raises(PermissionDenied):
        services.create_tenant(name="Rogue", actor=head)
    tenant = services.create_tenant(name="Fine", actor=boss)
    services.update_tenant(tenant=tenant, changes={"plan": "pro"}, actor=boss)

    entry = AuditLog.objects.get(action="tenant.updated")
    assert entry.details["changes"] == {"plan": {"old": "standard", "new": "pro"}}
