"""The issue's "done when", through the Django admin: a super admin creates a tenant, an admin
with chosen flags and a support; that admin can do exactly what its flags allow, in admin and by
direct URL; every step is in the audit log."""

import pytest
from django.urls import reverse

from accounts.tests.factories import TEST_PASSWORD, UserFactory, web_login
from audit.models import AuditLog
from tenancy.authz.permissions import ADMIN_FLAGS, SUPPORT_FLAGS
from tenancy.models import AdminProfile, Membership, Role, RoleAssignment, SupportProfile, Tenant
from tenancy.tests.factories import fresh, make_admin, make_member, make_super_admin, make_support

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:tenancy_{name}", args=args)


def staff_post(role_key: str, user, flags: dict, flag_names) -> dict:
    data = {"user": str(user.pk), "username": user.full_name, "role": str(Role.objects.get(key=role_key).pk),
            "_save": "Save"}
    data.update({name: "on" for name in flag_names if flags.get(name)})
    return data


def test_done_when_scenario(client):
    boss = make_super_admin(email="boss@example.com")
    web_login(client, boss)

    # 1. the super admin creates a tenant
    response = client.post(url("tenant_add"), {"name": "Acme Pay", "plan": "pro", "status": "active",
                                               "_save": "Save"})
    assert response.status_code == 302, response.content
    acme = Tenant.objects.get(name="Acme Pay")

    # 2. … an admin with chosen flags (the template's others switched off)
    admin_user = UserFactory(email="adam@example.com")
    chosen = {"can_manage_supports": True, "can_edit_limits": True}
    response = client.post(url("adminprofile_add"), staff_post("admin_full", admin_user, chosen, ADMIN_FLAGS))
    assert response.status_code == 302, response.content
    profile = AdminProfile.objects.get(user=admin_user)
    assert profile.flags() == {name: name in chosen for name in ADMIN_FLAGS}
    response = client.post(url("membership_add"), {"user": str(admin_user.pk), "tenant": str(acme.pk),
                                                   "is_default": "on", "_save": "Save"})
    assert response.status_code == 302, response.content

    # 3. … and a support
    support_user = UserFactory(email="sam@example.com")
    response = client.post(url("supportprofile_add"),
                           staff_post("support_orders", support_user, {"can_view_orders": True,
                                                                       "can_manage_orders": True}, SUPPORT_FLAGS))
    assert response.status_code == 302, response.content
    assert SupportProfile.objects.get(user=support_user).flags() == {
        name: name in {"can_view_orders", "can_manage_orders"} for name in SUPPORT_FLAGS}

    # every step is in the audit log, with the super admin as actor
    actions = set(AuditLog.objects.filter(actor=boss).values_list("action", flat=True))
    assert {"tenant.created", "staff.admin_created", "membership.added", "staff.support_created"} <= actions

    # 4. the admin: supports yes, admins and tenants no — by page and by direct POST
    client.logout()
    admin_user = fresh(admin_user)
    web_login(client, admin_user)
    assert client.get(url("supportprofile_changelist")).status_code == 200
    assert client.get(url("adminprofile_changelist")).status_code == 403
    assert client.get(url("tenant_add")).status_code == 403
    assert client.post(url("tenant_add"), {"name": "Rogue", "plan": "x", "status": "active"}).status_code == 403
    assert client.post(url("adminprofile_add"), staff_post("admin_limited", UserFactory(), {},
                                                           ADMIN_FLAGS)).status_code == 403
    boss_profile = AdminProfile.objects.get(user=boss)
    assert client.post(url("adminprofile_change", boss_profile.pk),
                       staff_post("admin_limited", boss, {}, ADMIN_FLAGS)).status_code == 403
    assert client.post(url("adminprofile_delete", boss_profile.pk), {"post": "yes"}).status_code == 403
    assert not Tenant.objects.filter(name="Rogue").exists()
    assert AdminProfile.objects.get(user=boss).role.key == "super_admin"

    new_support = UserFactory()
    response = client.post(url("supportprofile_add"),
                           staff_post("support_readonly", new_support, {"can_view_orders": True}, SUPPORT_FLAGS))
    assert response.status_code == 302, response.content
    assert AuditLog.objects.filter(action="staff.support_created", actor=admin_user).exists()

    # the admin's own flags cannot be raised by the admin, even by a forged change POST
    own = AdminProfile.objects.get(user=admin_user)
    assert client.post(url("adminprofile_change", own.pk),
                       staff_post("admin_full", admin_user, dict.fromkeys(ADMIN_FLAGS, True),
                                  ADMIN_FLAGS)).status_code == 403
    assert AdminProfile.objects.get(user=admin_user).flags() == {name: name in chosen for name in ADMIN_FLAGS}


def test_the_template_prefills_the_add_form(client):
    web_login(client, make_super_admin())

    page = client.get(url("adminprofile_add") + "?role=admin_limited").content.decode()

    assert 'name="can_edit_limits" id="id_can_edit_limits" checked' in page
    assert 'name="can_manage_supports" id="id_can_manage_supports" checked' not in page
    assert "staff-template-flags" in page  # the script that does the same when the select changes
    assert "add_id_role" not in page and "delete_id_role" not in page  # templates are not edited from here


def test_an_admin_with_can_manage_other_admins_cannot_make_a_super_admin_in_admin(client):
    head = make_admin(role_key="admin_full", flags=dict.fromkeys(ADMIN_FLAGS, True))
    web_login(client, head)
    target = UserFactory()

    response = client.post(url("adminprofile_add"), staff_post("super_admin", target, {}, ADMIN_FLAGS))

    assert response.status_code == 200  # the form says no
    assert not AdminProfile.objects.filter(user=target).exists()
    assert not fresh(target).is_superuser


def test_flags_beyond_ones_own_are_read_only_and_a_forged_post_grants_nothing(client):
    head = make_admin(role_key="admin_limited", flags={"can_manage_other_admins": True, "can_edit_limits": True})
    web_login(client, head)
    target = UserFactory()

    page = client.get(url("adminprofile_add")).content.decode()
    response = client.post(url("adminprofile_add"),
                           staff_post("admin_limited", target, {"can_view_full_logs": True,
                                                                "can_edit_limits": True}, ADMIN_FLAGS))

    assert 'name="can_edit_limits"' in page and 'name="can_view_full_logs"' not in page  # shown, not editable
    assert response.status_code == 302
    profile = AdminProfile.objects.get(user=target)
    assert profile.can_edit_limits and not profile.can_view_full_logs


def test_a_support_without_supports_flag_is_out(client, tenant):
    support = make_support(tenants=[tenant])
    web_login(client, support)
    victim = make_support()

    assert client.get(url("supportprofile_changelist")).status_code == 403
    assert client.post(url("supportprofile_delete", victim.support_profile.pk), {"post": "yes"}).status_code == 403
    assert SupportProfile.objects.filter(user=victim).exists()


def test_staff_without_flags_see_an_admin_index_without_tenancy_models(client):
    web_login(client, make_support(role_key="support_readonly"))

    page = client.get(reverse("admin:index"))

    assert page.status_code == 200
    assert "Admins" not in page.content.decode()


def test_memberships_of_another_tenant_are_invisible(client, tenant, other_tenant):
    admin = make_admin(role_key="admin_full", tenants=[tenant])
    web_login(client, admin)
    foreign = make_member(other_tenant, "merchant")
    foreign_membership = Membership.objects.get(user=foreign)

    listing = client.get(url("membership_changelist")).content.decode()
    response = client.get(url("membership_change", foreign_membership.pk))
    deleted = client.post(url("membership_delete", foreign_membership.pk), {"post": "yes"})

    assert foreign.email not in listing
    assert response.status_code == 302  # "does not exist" redirect, not the page
    assert deleted.status_code == 302
    assert Membership.objects.filter(pk=foreign_membership.pk).exists()


def test_role_assignment_in_admin_obeys_the_assignment_rules(client, tenant):
    merchants_admin = make_admin(role_key="admin_limited", flags={"can_manage_merchants": True}, tenants=[tenant])
    web_login(client, merchants_admin)
    user = make_member(tenant)

    def assign(role_key):
        return client.post(url("roleassignment_add"), {"tenant": str(tenant.pk), "user": str(user.pk),
                                                       "role": str(Role.objects.get(key=role_key).pk),
                                                       "_save": "Save"})

    assert assign("trader").status_code == 200  # form error: needs can_manage_traders
    assert assign("merchant").status_code == 302
    assert list(RoleAssignment.objects.filter(user=user).values_list("role__key", flat=True)) == ["merchant"]
    assert AuditLog.objects.filter(action="role.assigned", actor=merchants_admin).exists()


def test_role_definitions_are_for_super_admins(client):
    boss = make_super_admin()
    web_login(client, boss)
    role = Role.objects.get(key="moderator")

    response = client.post(reverse("admin:tenancy_role_change", args=[role.pk]), {
        "name": "Moderator (renamed)", "description": role.description,
        "role_permissions-TOTAL_FORMS": "0", "role_permissions-INITIAL_FORMS": "0", "_save": "Save"})

    assert response.status_code == 302, response.content
    entry = AuditLog.objects.get(action="role.updated")
    assert entry.details["changes"]["name"] == {"old": "Moderator", "new": "Moderator (renamed)"}

    client.logout()
    web_login(client, make_admin(role_key="admin_full", flags=dict.fromkeys(ADMIN_FLAGS, True)))
    assert client.post(reverse("admin:tenancy_role_change", args=[role.pk]), {"name": "x"}).status_code == 403


def user_form_data(client, user) -> tuple[str, dict]:
    """What the users' admin change form of `user` would post unchanged (built from the row,
    so it also works for users the admin refuses to show)."""
    change_url = reverse("admin:accounts_user_change", args=[user.pk])
    data = {"_save": "Save", "email": user.email, "full_name": user.full_name, "phone": user.phone or ""}
    for flag in ("email_verified", "phone_verified"):
        if getattr(user, flag):
            data[flag] = "on"
    return change_url, data


def test_the_users_admin_cannot_make_a_superuser(client, tenant):
    """Whatever the users' admin form offers, is_superuser/is_staff move only with staff profiles."""
    admin = make_admin(role_key="admin_full", tenants=[tenant])
    merchant = make_member(tenant, "merchant")
    web_login(client, admin)
    change_url, data = user_form_data(client, merchant)
    data["is_superuser"] = "on"
    data["is_staff"] = "on"

    response = client.post(change_url, data)

    # The form shows staff powers read-only: the posted values are ignored (or refused).
    assert response.status_code in (302, 403)
    merchant = fresh(merchant)
    assert not merchant.is_superuser and not merchant.is_staff


class TestUsersAdminFollowsTheStaffRules:
    """The users' admin asks has_change_permission without the object; the rules hold anyway."""

    def test_an_admin_edits_a_merchant_of_their_tenant(self, client, tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        merchant = make_member(tenant, "merchant")
        web_login(client, admin)
        change_url, data = user_form_data(client, merchant)
        data["full_name"] = "Renamed Merchant"

        assert client.post(change_url, data).status_code == 302
        assert fresh(merchant).full_name == "Renamed Merchant"

    def test_but_not_a_merchant_of_another_tenant(self, client, tenant, other_tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        stranger = make_member(other_tenant, "merchant")
        web_login(client, admin)
        change_url, data = user_form_data(client, stranger)
        data["full_name"] = "Hijacked"

        # Users outside the admin's tenants are not even listed; a forged POST changes nothing.
        assert stranger.email not in client.get(reverse("admin:accounts_user_changelist")).content.decode()
        assert client.post(change_url, data).status_code in (302, 403, 404)
        assert fresh(stranger).full_name != "Hijacked"

    def test_nor_the_super_admins_account(self, client, tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        boss = make_super_admin(tenants=[tenant])
        web_login(client, admin)
        change_url, data = user_form_data(client, boss)
        data["email"] = "attacker@example.com"
        password_url = reverse("admin:auth_user_password_change", args=[boss.pk])  # Django's name, any user model

        # A super admin is out of an admin's reach: not listed, and every forged POST is turned away.
        assert client.post(change_url, data).status_code in (302, 403)
        assert client.post(password_url, {"password1": "Takeover-pass-123", "password2": "Takeover-pass-123",
                                          "usable_password": "true"}).status_code in (302, 403, 404)
        assert client.post(reverse("admin:accounts_user_delete", args=[boss.pk]),
                           {"post": "yes"}).status_code in (302, 403)
        assert fresh(boss).email != "attacker@example.com" and fresh(boss).check_password(TEST_PASSWORD)
        boss = fresh(boss)
        assert boss.email != "attacker@example.com" and not boss.check_password("Takeover-pass-123")

    def test_nor_another_admins_account_without_can_manage_other_admins(self, client, tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        other_admin = make_admin(role_key="admin_limited", tenants=[tenant])
        web_login(client, admin)
        change_url, data = user_form_data(client, other_admin)
        data["full_name"] = "Renamed Admin"

        assert client.post(change_url, data).status_code == 403
        assert fresh(other_admin).full_name != "Renamed Admin"


# --- an operator role is not staff access ----------------------------------------------------------------------

def test_an_operator_admin_without_a_staff_profile_is_told_how_to_get_staff_access(client, tenant):
    operator_admin = make_member(tenant, "admin")
    web_login(client, operator_admin)

    refused = client.get(reverse("admin:index"))
    page = client.get(refused.url)  # where the admin sends whoever it does not let in: its login
    text = page.content.decode()

    assert refused.status_code == 302 and refused.url.startswith(reverse("admin:login"))
    assert page.status_code == 403
    assert "The back office is for staff" in text and operator_admin.email in text
    assert "<strong>Admin</strong> of <strong>Tenant A</strong>" in text
    assert "staff profile" in text and "a super admin creates" in text and "Admins" in text
    assert "<nav" in text and "Log out" in text  # the site's own layout, not a bare refusal
    assert 'name="password"' not in text
    # who may enter has not changed
    assert not fresh(operator_admin).is_staff
    assert client.get(reverse("admin:tenancy_tenant_changelist")).status_code == 302


def test_a_member_with_no_role_hears_about_staff_profiles_too(client, tenant):
    web_login(client, make_member(tenant))

    text = client.get(reverse("admin:login")).content.decode()

    assert "staff profile" in text and "Your operator role" not in text


def test_staff_still_enter_and_the_login_form_still_signs_in(client, tenant):
    boss = make_super_admin(tenants=[tenant])
    web_login(client, boss)
    assert client.get(reverse("admin:login")).url == reverse("admin:index")

    client.logout()
    web_login(client, make_member(tenant, "admin"))
    response = client.post(reverse("admin:login"), {"username": boss.email, "password": TEST_PASSWORD,
                                                    "next": reverse("admin:index")})

    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_assigning_the_admin_role_says_it_does_not_open_the_back_office(client, tenant):
    boss = make_super_admin(tenants=[tenant])
    web_login(client, boss)
    user = make_member(tenant)

    form = client.get(url("roleassignment_add")).content.decode()
    response = client.post(url("roleassignment_add"), {
        "tenant": str(tenant.pk), "user": str(user.pk), "role": str(Role.objects.get(key="admin").pk),
        "_save": "Save"}, follow=True)

    assert "none of them opens this back office" in form
    assert RoleAssignment.objects.filter(user=user, role__key="admin").exists()
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert warnings and "cannot open this back office" in warnings[0] and "staff profile" in warnings[0]
