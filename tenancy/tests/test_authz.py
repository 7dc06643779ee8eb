import pytest
from django.contrib.auth.models import Permission as DjangoPermission

from accounts.tests.factories import UserFactory
from tenancy import authz, services
from tenancy.authz.permissions import FLAG_PERMISSIONS, MODEL_PERMISSIONS, ROLE_TEMPLATES
from tenancy.models import Permission
from tenancy.scoping import tenant_context
from tenancy.tests.factories import fresh, make_admin, make_member, make_super_admin, make_support

pytestmark = pytest.mark.django_db


def test_every_key_the_code_uses_exists_in_the_catalog():
    keys = set(Permission.objects.values_list("key", flat=True))
    used = set().union(*FLAG_PERMISSIONS.values()) | set(MODEL_PERMISSIONS.values())

    assert used - keys == set()


def test_flags_answer_has_flag_and_nothing_else():
    support = make_support(role_key="support_orders")

    assert authz.has_flag(support, "can_manage_orders")
    assert authz.has_flag(support, "can_view_orders")
    assert not authz.has_flag(support, "can_view_sensitive_data")
    assert not authz.has_flag(support, "can_manage_supports")
    with pytest.raises(ValueError):
        authz.has_flag(support, "can_do_anything")


def test_the_flags_decide_not_the_template():
    admin = make_admin(role_key="admin_full", flags={"can_view_full_logs": True})

    assert authz.has_flag(admin, "can_view_full_logs")
    assert not authz.has_flag(admin, "can_manage_merchants")  # admin_full's template would have it
    assert "can_manage_merchants" in ROLE_TEMPLATES["admin_full"]


def test_super_admin_has_every_flag_and_permission(tenant):
    boss = make_super_admin()

    assert authz.has_flag(boss, "can_view_sensitive_data")
    assert authz.can(boss, "tenants.manage")
    assert authz.can(boss, "orders.manage", tenant=tenant)


def test_a_blocked_user_may_do_nothing(tenant):
    merchant = make_member(tenant, "merchant")
    merchant.status = "blocked"
    merchant.save()

    assert not authz.can(fresh(merchant), "stores.manage", tenant=tenant)


def test_tenant_roles_grant_only_inside_their_tenant(tenant, other_tenant):
    merchant = make_member(tenant, "merchant")
    services.add_membership(tenant=other_tenant, user=merchant)
    merchant = fresh(merchant)

    assert authz.can(merchant, "stores.manage", tenant=tenant)
    assert not authz.can(merchant, "orders.manage", tenant=tenant)  # a trader's permission
    assert not authz.can(merchant, "stores.manage", tenant=other_tenant)
    assert not authz.can(merchant, "stores.manage")  # no tenant, no tenant role


def test_the_current_tenant_is_used_when_none_is_given(tenant, other_tenant):
    trader = make_member(tenant, "trader")

    with tenant_context(tenant):
        assert authz.can(trader, "requisites.manage")
    with tenant_context(other_tenant):
        assert not authz.can(trader, "requisites.manage")


def test_nothing_is_granted_in_a_tenant_one_does_not_belong_to(tenant, other_tenant):
    admin = make_admin(role_key="admin_full", tenants=[tenant])

    assert authz.can(admin, "merchants.manage", tenant=tenant)
    assert not authz.can(admin, "merchants.manage", tenant=other_tenant)
    assert authz.can(admin, "merchants.manage")  # platform-level question: the flag answers


def test_an_object_of_another_tenant_is_refused(tenant, other_tenant):
    from tenancy.models import Membership

    admin = make_admin(role_key="admin_full", tenants=[tenant, other_tenant])
    foreign = Membership.objects.filter(tenant=other_tenant).first()

    assert authz.can(admin, "memberships.view", tenant=other_tenant, obj=foreign)
    assert not authz.can(admin, "memberships.view", tenant=tenant, obj=foreign)


def test_service_roles_grant_their_services_permissions(tenant):
    user = make_member(tenant)
    services.set_service_role(user=user, service_name="trading", role_key="user")
    user = fresh(user)

    assert authz.can(user, "signals.manage", tenant=tenant)
    assert authz.can(user, "signals.manage")
    assert not authz.can(user, "stores.manage", tenant=tenant)  # "user" role, but payments is another service


def test_an_inactive_service_role_grants_nothing():
    user = UserFactory()
    services.set_service_role(user=user, service_name="trading", role_key="user", is_active=False)

    assert not authz.can(fresh(user), "signals.manage")


def test_one_role_per_user_per_service():
    user = UserFactory()
    services.set_service_role(user=user, service_name="trading", role_key="user")
    services.set_service_role(user=user, service_name="trading", role_key="moderator")

    assert list(user.service_roles.values_list("role__key", flat=True)) == ["moderator"]
    assert not authz.can(fresh(user), "signals.manage")  # moderator only views signals
    assert authz.can(fresh(user), "signals.view")


def test_platform_permissions_never_come_from_roles(tenant):
    user = make_member(tenant)
    services.assign_role(tenant=tenant, user=user, role_key="super_admin")  # as a tenant role, by the platform
    user = fresh(user)

    assert authz.can(user, "orders.manage", tenant=tenant)
    assert not authz.can(user, "staff.manage_admins", tenant=tenant)
    assert not authz.can(user, "audit.view_full", tenant=tenant)
    assert not authz.has_flag(user, "can_manage_other_admins")


def test_guardian_object_permissions(tenant, other_tenant):
    boss = make_super_admin()
    user = make_member(tenant)
    services.add_membership(tenant=other_tenant, user=user)

    services.grant_object_permission(user=user, perm_key="tenants.view", obj=tenant, actor=boss)
    user = fresh(user)

    assert authz.can(user, "tenants.view", obj=tenant)
    assert not authz.can(user, "tenants.view", obj=other_tenant)
    assert user.has_perm("tenancy.view_tenant", tenant)

    services.revoke_object_permission(user=user, perm_key="tenants.view", obj=tenant, actor=boss)
    assert not authz.can(fresh(user), "tenants.view", obj=tenant)


def test_has_perm_goes_through_authz(tenant):
    support = make_support(role_key="support_readonly", tenants=[tenant])

    assert support.has_perm("can_view_orders")
    assert not support.has_perm("can_manage_orders")
    assert support.has_perm("orders.view")
    assert not support.has_perm("orders.manage")
    assert support.has_module_perms("payments")
    assert not UserFactory().has_module_perms("payments")


def test_django_groups_and_user_permissions_grant_nothing(tenant):
    user = make_member(tenant)
    user.user_permissions.add(DjangoPermission.objects.get(codename="change_tenant"))
    user = fresh(user)

    assert not user.has_perm("tenancy.change_tenant")
    assert not user.has_perm("tenancy.change_tenant", tenant)


def test_admin_model_permissions_map_to_keys(tenant):
    supports_manager = make_admin(role_key="admin_full", tenants=[tenant])

    assert supports_manager.has_perm("tenancy.change_supportprofile")
    assert not supports_manager.has_perm("tenancy.change_adminprofile")
    assert not supports_manager.has_perm("tenancy.add_tenant")
    assert not supports_manager.has_perm("payments.unmapped_thing")


class TestAccountRules:
    def test_staff_powers_never_reach_ones_own_account_or_a_super_admin(self, tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        boss = make_super_admin(tenants=[tenant])

        assert not authz.can(admin, "users.manage", obj=admin)
        assert authz.can(admin, "users.view", obj=admin)
        assert not authz.can(admin, "users.manage", obj=boss)
        assert not admin.has_perm("accounts.change_user", boss)

    def test_admins_accounts_need_can_manage_other_admins(self, tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        other_admin = make_admin(role_key="admin_limited", tenants=[tenant])
        head = make_admin(role_key="admin_full", flags={"can_manage_other_admins": True}, tenants=[tenant])

        assert not authz.can(admin, "users.manage", obj=other_admin)
        assert authz.can(head, "users.manage", obj=other_admin)

    def test_supports_accounts_need_can_manage_supports(self, tenant):
        support = make_support(tenants=[tenant])
        no_supports = make_admin(role_key="admin_full", flags={"can_manage_merchants": True}, tenants=[tenant])
        supports = make_admin(role_key="admin_full", tenants=[tenant])

        assert not authz.can(no_supports, "users.manage", obj=support)
        assert authz.can(supports, "users.manage", obj=support)

    def test_other_accounts_only_inside_a_shared_tenant(self, tenant, other_tenant):
        admin = make_admin(role_key="admin_full", tenants=[tenant])
        ours = make_member(tenant, "merchant")
        theirs = make_member(other_tenant, "merchant")

        assert authz.can(admin, "users.manage", obj=ours)
        assert not authz.can(admin, "users.manage", obj=theirs)
        assert not admin.has_perm("accounts.change_user", theirs)


def test_fifty_checks_cost_a_bounded_number_of_queries(tenant, django_assert_max_num_queries):
    admin = make_admin(role_key="admin_limited", tenants=[tenant])
    services.assign_role(tenant=tenant, user=admin, role_key="manager")
    services.set_service_role(user=admin, service_name="trading", role_key="user")
    keys = list(Permission.objects.values_list("key", flat=True))
    checks = (keys * 2)[:50]
    user = fresh(admin)

    with django_assert_max_num_queries(5):
        answers = [authz.can(user, key, tenant=tenant) for key in checks]
        answers += [user.has_perm(key) for key in checks]
        flags = [authz.has_flag(user, "can_edit_limits") for _ in range(50)]

    assert any(answers) and not all(answers)
    assert all(flags)


def test_forget_drops_the_cache(tenant):
    user = make_member(tenant)
    assert not authz.can(user, "stores.manage", tenant=tenant)

    services.assign_role(tenant=tenant, user=user, role_key="merchant")

    assert authz.can(user, "stores.manage", tenant=tenant)  # assign_role forgot this user object's cache
