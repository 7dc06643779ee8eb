"""The admin's cross-tenant leaks and the flag-granting hole, each tried as it was found: a staff member of
tenant A (admin with can_view_full_logs, can_manage_supports; no can_view_sensitive_data) against tenant B."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.models import OtpVerification, User, UserSession
from accounts.services import sessions as session_service
from accounts.tests.factories import web_login
from audit.models import AuditLog
from payments.models import IncomingOrder
from tenancy import services as tenancy_services
from tenancy.models import Role, SupportProfile
from tenancy.scoping import dangerously_bypass_tenant_scope

from .factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_admin(two_tenants, client):
    a, b = two_tenants
    admin = make_staff(a, {"can_view_full_logs", "can_manage_supports", "can_manage_traders"})
    web_login(client, admin)
    return admin


def b_person(b) -> User:
    return User.objects.filter(memberships__tenant=b, is_superuser=False, is_staff=False).first()


def test_the_audit_log_filtered_to_b_shows_nothing(two_tenants, a_admin, client):
    a, b = two_tenants

    response = client.get(reverse("admin:audit_auditlog_changelist"), {"tenant__id__exact": str(b.pk), "all": ""})

    assert AuditLog.objects.filter(tenant_id=b.pk).count() > 5
    assert list(response.context["cl"].result_list) == []
    assert b_person(b).email not in response.content.decode()


def test_no_audit_entry_carries_an_orders_hash_id(two_tenants):
    with dangerously_bypass_tenant_scope():
        hash_ids = list(IncomingOrder.objects.values_list("hash_id", flat=True))
    trail = [entry.description + str(entry.details) for entry in AuditLog.objects.all()]

    assert hash_ids and len(trail) > 20
    assert [hash_id for hash_id in hash_ids if any(hash_id in text for text in trail)] == []


def test_device_sessions_of_b_and_of_the_super_admin_are_neither_listed_nor_revoked(two_tenants, a_admin,
                                                                                     client):
    a, b = two_tenants
    victims = list(UserSession.objects.filter(user__in=[b_person(b), *User.objects.filter(is_superuser=True)]))

    listed = client.get(reverse("admin:accounts_usersession_changelist"), {"all": ""}).context["cl"].result_list
    client.post(reverse("admin:accounts_usersession_changelist"),
                {"action": "revoke_sessions", "_selected_action": [str(row.pk) for row in victims]})

    assert victims and not set(victims) & set(listed)
    assert UserSession.objects.filter(pk__in=[row.pk for row in victims], revoked_at__isnull=False).count() == 0
    with pytest.raises(PermissionDenied):
        session_service.revoke_session(user=victims[0].user, session_id=victims[0].pk, actor=a_admin)
    with pytest.raises(PermissionDenied):
        session_service.revoke_all_sessions(user=victims[0].user, actor=a_admin)


def test_phone_numbers_of_b_are_not_shown(two_tenants, a_admin, client):
    a, b = two_tenants

    page = client.get(reverse("admin:accounts_otpverification_changelist"), {"all": ""}).content.decode()

    assert OtpVerification.objects.filter(user=b_person(b)).exists()
    assert b_person(b).phone not in page


def test_a_flag_one_lacks_cannot_be_granted_through_a_forged_post_or_the_service(two_tenants, a_admin,
                                                                                 client):
    a, b = two_tenants
    recruit = User.objects.filter(memberships__tenant=a, is_staff=False).first()
    form = client.get(reverse("admin:tenancy_supportprofile_add")).content.decode()

    response = client.post(reverse("admin:tenancy_supportprofile_add"), {
        "user": str(recruit.pk), "username": "recruit", "role": str(Role.objects.get(key="support_readonly").pk),
        "can_view_orders": "on", "can_view_sensitive_data": "on", "can_manage_orders": "on", "_save": "Save"})

    assert 'name="can_view_sensitive_data"' not in form  # shown read-only
    assert response.status_code == 302
    profile = SupportProfile.objects.get(user=recruit)
    assert not profile.can_view_sensitive_data and not profile.can_manage_orders
    with pytest.raises(PermissionDenied, match="can_view_sensitive_data"):
        tenancy_services.update_support_profile(profile=profile, flags={"can_view_sensitive_data": True},
                                                actor=a_admin)
    outsider = b_person(b)
    with pytest.raises(PermissionDenied):
        tenancy_services.create_support_profile(user=outsider, role_key="support_readonly", actor=a_admin)
