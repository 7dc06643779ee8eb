"""Onboarding: a registered user applies to an operator; staff approve (profile + role) or decline (reason)."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.models import OperatorApplication
from accounts.services import onboarding as applying
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from core.errors import DomainError
from payments.models import Merchant, Trader
from payments.services import onboarding
from tenancy.models import RoleAssignment, Tenant
from tenancy.scoping import tenant_context

from .cabinet_support import login, text


@pytest.fixture
def open_tenant(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(accepts_applications=True)
    tenant.refresh_from_db()
    return tenant


MERCHANT = {"kind": "merchant", "company": "Corner Shop Ltd", "site": "https://corner.example",
            "expected_monthly_volume": "50,000 USDT"}


def test_from_application_to_approval_the_applicant_gets_a_merchant_cabinet(client, open_tenant, staff,
                                                                              django_capture_on_commit_callbacks):
    applicant = UserFactory()
    login(client, applicant)
    missing = client.post(reverse("accounts:apply"), {"kind": "merchant", "tenant": open_tenant.pk, "company": "X"})
    assert missing.status_code == 400 and "This field is required." in text(missing)

    sent = client.post(reverse("accounts:apply"), {**MERCHANT, "tenant": open_tenant.pk}, follow=True)
    assert "Waiting for review" in text(sent)
    application = OperatorApplication.objects.get()

    client.force_login(staff("can_manage_traders"))  # the wrong flag: merchants are not listed for them
    assert client.get(reverse("admin:accounts_operatorapplication_approve", args=[application.pk])).status_code == 404

    approver = staff("can_manage_merchants")
    client.force_login(approver)
    assert "Corner Shop Ltd" in text(client.get(reverse("admin:accounts_operatorapplication_changelist")))
    approve = reverse("admin:accounts_operatorapplication_approve", args=[application.pk])
    assert client.post(approve, {}).status_code == 400  # not confirmed
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(approve, {"confirm": "on", "reason": "Welcome"}).status_code == 302

    application.refresh_from_db()
    assert (application.status, application.decided_by) == ("approved", approver)
    with tenant_context(open_tenant):
        assert Merchant.objects.filter(user=applicant).exists()
    assert RoleAssignment.objects.filter(user=applicant, tenant=open_tenant, role__key="merchant").exists()
    assert [m.to for m in mail.outbox] == [[applicant.email]] and "approved" in mail.outbox[0].subject
    assert {"application.submitted", "application.approved"} <= set(
        AuditLog.objects.filter(target_id=str(application.pk)).values_list("action", flat=True))

    login(client, applicant)
    assert "Approved" in text(client.get(reverse("accounts:apply")))


def test_a_declined_trader_application_keeps_the_reason_and_mails_it(open_tenant, staff,
                                                                     django_capture_on_commit_callbacks):
    applicant = UserFactory()
    application = applying.submit_application(applicant=applicant, tenant=open_tenant, kind="trader", banks="KBank",
                                              methods="card", currency="thb")
    assert application.currency == "THB"
    with pytest.raises(PermissionDenied):
        onboarding.decline_application(application=application, actor=staff("can_manage_merchants"), reason="no")
    with pytest.raises(DomainError):
        onboarding.decline_application(application=application, actor=staff("can_manage_traders"), reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.decline_application(application=application, actor=staff("can_manage_traders"),
                                       reason="We take traders with two banks or more")
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == ("declined", "We take traders with two banks or more")
    with tenant_context(open_tenant):
        assert not Trader.objects.filter(user=applicant).exists()
    assert "two banks or more" in mail.outbox[0].body


def test_approving_a_trader_makes_the_trader_profile_with_the_currency(open_tenant, staff, refs):
    applicant = UserFactory(full_name="Ada Lovelace")
    application = applying.submit_application(applicant=applicant, tenant=open_tenant, kind="trader",
                                              banks="Bangkok Bank", methods="card", currency="THB")
    onboarding.approve_application(application=application, actor=staff("can_manage_traders"))
    trader = Trader.objects.unscoped().get(user=applicant)
    assert (trader.first_name, trader.last_name, trader.preferred_fiat_currency) == ("Ada", "Lovelace", refs.thb)
    with pytest.raises(DomainError):  # decided once
        onboarding.decline_application(application=application, actor=staff("can_manage_traders"), reason="x")


def test_only_operators_that_accept_applications_take_them_and_one_open_at_a_time(tenant, other_tenant):
    applicant = UserFactory()
    with pytest.raises(DomainError) as closed:
        applying.submit_application(applicant=applicant, tenant=tenant, **MERCHANT)
    assert "tenant" in closed.value.fields
    Tenant.objects.filter(pk=tenant.pk).update(accepts_applications=True)
    tenant.refresh_from_db()
    applying.submit_application(applicant=applicant, tenant=tenant, **MERCHANT)
    with pytest.raises(DomainError) as twice:
        applying.submit_application(applicant=applicant, tenant=tenant, **MERCHANT)
    assert "already have an open" in twice.value.message
    assert list(applying.open_tenants()) == [tenant]
