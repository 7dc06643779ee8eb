"""No admin page shows a tenant-A member of staff a row of tenant B.

Two tenants get a bit of everything — payments rows, people with device sessions, SMS codes, email and
reset links, failed logins, staff profiles, service roles, audit entries — and a super admin with a session.
Then an admin of A holding every admin flag, and a support of A holding every support flag, open every
changelist the admin site has registered (found from the site itself, so a new admin cannot be missed) and
the change page of every B row: not one B row may show.
"""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import FailedAttempt, OtpVerification, User
from accounts.tests.factories import web_login
from tenancy.authz.permissions import ADMIN_FLAGS, SUPPORT_FLAGS
from tenancy.models import Membership, Permission, Role, Service, Tenant
from tenancy.scoping import dangerously_bypass_tenant_scope

from .factories import make_staff

pytestmark = pytest.mark.django_db

# Shared by every tenant: the catalog of roles, permissions and services.
GLOBAL_MODELS = {Role, Permission, Service}


def _member_of_a(a: Tenant) -> set:
    return set(Membership.objects.filter(tenant=a).values_list("user_id", flat=True))


def is_b_row(obj, a: Tenant, b: Tenant, viewer: User, a_people: set) -> bool:
    """Does this row belong to B (or to nobody a staff member of A may see)? Fails for a model it cannot judge."""
    model = type(obj)
    if model is Tenant:
        return obj.pk != a.pk
    if model is User:
        return obj.is_superuser or obj.pk not in a_people
    if hasattr(obj, "tenant_id") and obj.tenant_id is not None:
        return obj.tenant_id != a.pk
    if model is FailedAttempt:
        return not User.objects.filter(pk__in=a_people, is_superuser=False).filter(
            email__iexact=obj.subject).exists() and obj.subject not in {str(pk) for pk in a_people}
    user_id = getattr(obj, "user_id", None)
    if user_id is not None:
        return is_b_row(User.objects.get(pk=user_id), a, b, viewer, a_people)
    if hasattr(obj, "tenant_id"):  # a platform row (no tenant): only a super admin's
        return getattr(obj, "actor_id", None) != viewer.pk
    if model in GLOBAL_MODELS:
        return False
    if model is OtpVerification:  # a code sent to a number with no account yet
        return True
    raise AssertionError(f"Teach this test whose rows {model._meta.label} are.")


def every_row(model) -> list:
    with dangerously_bypass_tenant_scope():
        return list(model._base_manager.all())


@pytest.mark.parametrize("flags", [ADMIN_FLAGS, SUPPORT_FLAGS],
                         ids=["admin with every flag", "support with every flag"])
def test_no_admin_page_shows_a_staff_member_of_a_any_row_of_b(two_tenants, flags, client):
    a, b = two_tenants
    viewer = make_staff(a, flags, kind="admin" if flags == ADMIN_FLAGS else "support")
    web_login(client, viewer)
    a_people = _member_of_a(a)
    shown_anything = 0

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?all=")
        assert changelist.status_code in (200, 302, 403), (opts.label, changelist.status_code)
        if changelist.status_code == 200:
            listed = list(changelist.context["cl"].result_list)  # ?all=: every row, up to 200
            shown_anything += len(listed)
            leaked = [str(row.pk) for row in listed if is_b_row(row, a, b, viewer, a_people)]
            assert leaked == [], f"{opts.label}: the changelist shows rows of B: {leaked}"
        b_rows = [row for row in every_row(model) if is_b_row(row, a, b, viewer, a_people)]
        for row in b_rows:
            page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
            assert page.status_code != 200, f"{opts.label} #{row.pk} of B opens for a staff member of A"

    assert shown_anything > 20  # the viewer did see A's rows: the test looked at real pages
