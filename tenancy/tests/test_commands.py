import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from audit.models import AuditLog
from tenancy import authz
from tenancy.authz.permissions import ADMIN_FLAGS
from tenancy.models import AdminProfile, Membership, SupportProfile, Tenant

pytestmark = pytest.mark.django_db

STRONG = "a-long-and-unusual-passphrase-42"


def test_createsuperadmin_makes_the_first_super_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERADMIN_PASSWORD", STRONG)

    call_command("createsuperadmin", "--email", "root@example.com", "--full-name", "Root", "--noinput")

    user = User.objects.get(email="root@example.com")
    assert user.check_password(STRONG) and user.is_superuser and user.is_staff and user.status == "active"
    profile = AdminProfile.objects.get(user=user)
    assert profile.role.key == "super_admin" and all(profile.flags().values())
    assert authz.has_flag(user, "can_view_sensitive_data")
    assert AuditLog.objects.filter(action="staff.admin_created", target_id=str(profile.pk)).exists()


def test_createsuperadmin_refuses_a_second_one_and_weak_passwords(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERADMIN_PASSWORD", "short")
    with pytest.raises(CommandError):
        call_command("createsuperadmin", "--email", "root@example.com", "--noinput")
    assert not User.objects.filter(email="root@example.com").exists()

    monkeypatch.setenv("DJANGO_SUPERADMIN_PASSWORD", STRONG)
    call_command("createsuperadmin", "--email", "root@example.com", "--noinput")
    with pytest.raises(CommandError, match="already exists"):
        call_command("createsuperadmin", "--email", "second@example.com", "--noinput")
    assert not User.objects.filter(email="second@example.com").exists()


def test_the_demo_seed_is_idempotent_and_shows_the_rules():
    from accounts import demo as accounts_demo
    from tenancy import demo

    lines = []
    for _ in range(2):
        accounts_demo.seed(lines.append)
        demo.seed(lines.append)

    assert Tenant.objects.filter(name__in=[demo.DEMO_TENANT, demo.SECOND_TENANT]).count() == 2
    admin = User.objects.get(email="admin@demo.local")
    assert AdminProfile.objects.get(user=admin).flags() == demo.DEMO_ADMIN_FLAGS
    assert set(demo.DEMO_ADMIN_FLAGS) == set(ADMIN_FLAGS)
    support = SupportProfile.objects.get(user__email="support@demo.local")
    superadmin = User.objects.get(email="superadmin@demo.local")
    # order powers are not the demo admin's to give, so the super admin made the support
    assert AuditLog.objects.get(action="staff.support_created", target_id=str(support.pk)).actor_id == superadmin.pk
    assert Membership.objects.filter(user=admin, is_default=True, tenant__name=demo.DEMO_TENANT).exists()
    assert any(line.strip().startswith("admin@demo.local") for line in lines)
    assert AdminProfile.objects.filter(role__key="super_admin").count() == 1
