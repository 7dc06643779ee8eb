"""Demo tenants and staff; called by `manage.py seed_demo` after accounts.demo.

Every change goes through tenancy.services with the super admin (or the demo
admin) as the actor, so the demo's audit log shows the rules at work.
"""

from accounts.demo import ensure_user
from accounts.models import User
from tenancy.models import AdminProfile, SupportProfile, Tenant
from tenancy.services import (
    add_membership,
    assign_role,
    create_admin_profile,
    create_support_profile,
    create_tenant,
    set_service_role,
    update_admin_profile,
    update_support_profile,
)

DEMO_TENANT = "Demo Operator"
SECOND_TENANT = "Second Operator"

# The demo admin's chosen flags: manages supports and merchants, edits limits, reads the full log.
DEMO_ADMIN_FLAGS = {
    "can_manage_other_admins": False,
    "can_manage_supports": True,
    "can_manage_merchants": True,
    "can_manage_traders": False,
    "can_edit_system_settings": False,
    "can_edit_limits": True,
    "can_view_full_logs": True,
    "can_handle_appeals": False,
}


# The Second Operator's own administrator: she runs her operator's merchants, traders, limits, appeals and
# supports from /admin/, and sees nothing of the Demo Operator (her only membership is her own operator).
OPERATOR_ADMIN_FLAGS = {
    "can_manage_other_admins": False,
    "can_manage_supports": True,
    "can_manage_merchants": True,
    "can_manage_traders": True,
    "can_edit_system_settings": False,
    "can_edit_limits": True,
    "can_view_full_logs": True,
    "can_handle_appeals": True,
}


def _tenant(name: str, plan: str, actor) -> Tenant:
    return Tenant.objects.filter(name=name).first() or create_tenant(name=name, plan=plan, actor=actor)


def _admin(user, *, role_key: str, flags: dict | None, actor) -> AdminProfile:
    profile = AdminProfile.objects.filter(user=user).first()
    if profile is None:
        return create_admin_profile(user=user, role_key=role_key, flags=flags, actor=actor)
    return update_admin_profile(profile=profile, role_key=role_key, flags=flags, actor=actor)


def _support(user, *, role_key: str, actor) -> SupportProfile:
    profile = SupportProfile.objects.filter(user=user).first()
    if profile is None:
        return create_support_profile(user=user, role_key=role_key, actor=actor)
    return update_support_profile(profile=profile, role_key=role_key, flags=None, actor=actor)


def seed(out) -> None:
    superadmin = ensure_user("superadmin@demo.local", "Sofia Super", is_staff=True, is_superuser=True)
    _admin(superadmin, role_key="super_admin", flags=None, actor=None)
    demo = _tenant(DEMO_TENANT, "pro", superadmin)
    second = _tenant(SECOND_TENANT, "standard", superadmin)
    add_membership(tenant=demo, user=superadmin, is_default=True, actor=superadmin)
    add_membership(tenant=second, user=superadmin, actor=superadmin)

    admin = ensure_user("admin@demo.local", "Adam Admin", is_staff=True)
    _admin(admin, role_key="admin_limited", flags=DEMO_ADMIN_FLAGS, actor=superadmin)
    add_membership(tenant=demo, user=admin, is_default=True, actor=superadmin)

    support = ensure_user("support@demo.local", "Sam Support", is_staff=True)
    admin = User.objects.get(pk=admin.pk)
    # The admin manages supports, but order powers are not theirs to give: the super admin makes this one.
    _support(support, role_key="support_orders", actor=superadmin)
    add_membership(tenant=demo, user=support, is_default=True, actor=admin)

    alice = User.objects.filter(email__iexact="alice@demo.local").first()
    if alice is not None:
        assign_role(tenant=demo, user=alice, role_key="user", actor=superadmin)
        set_service_role(user=alice, service_name="trading", role_key="user", actor=superadmin)

    olga = ensure_user("olga@demo.local", "Olga Operator", is_staff=True)
    add_membership(tenant=second, user=olga, is_default=True, actor=superadmin)
    assign_role(tenant=second, user=olga, role_key="admin", actor=superadmin)
    _admin(olga, role_key="admin_limited", flags=OPERATOR_ADMIN_FLAGS, actor=superadmin)

    # Her operator's order desk: a support she could have made herself, but order powers are the super admin's.
    olga_support = ensure_user("support2@demo.local", "Sasha Support", is_staff=True)
    _support(olga_support, role_key="support_orders", actor=superadmin)
    add_membership(tenant=second, user=olga_support, is_default=True, actor=superadmin)

    for email, hint in [
        ("superadmin@demo.local", "super admin: every tenant; /admin/ (tenants, staff, audit log)"),
        ("admin@demo.local", "admin (supports, merchants, limits, full log) in Demo Operator; /admin/"),
        ("support@demo.local", "support (orders and appeals) in Demo Operator; /admin/"),
        ("olga@demo.local", "Second Operator's own admin (merchants, traders, limits, appeals, supports); "
                            "/admin/ shows her operator only"),
        ("support2@demo.local", "support (orders and appeals) in Second Operator; /admin/"),
    ]:
        out(f"  {email:<30} {hint}")
