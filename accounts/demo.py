"""Demo logins for identity; called by `manage.py seed_demo`."""

from accounts.models import User

DEMO_PASSWORD = "demo-pass-2026"

DEMO_USERS = [
    # email, full name, staff, superuser, what to try
    ("superadmin@demo.local", "Sofia Super", True, True, "Django admin: /admin/"),
    ("alice@demo.local", "Alice Active", False, False, "site: /accounts/security/ (turn on MFA), /accounts/sessions/"),
]


def ensure_user(email: str, full_name: str, *, is_staff: bool = False, is_superuser: bool = False) -> User:
    """Create or refresh one active, verified demo user with the demo password."""
    user = User.objects.filter(email__iexact=email).first() or User(email=email)
    user.full_name = full_name
    user.status = User.Status.ACTIVE
    user.email_verified = True
    user.is_staff = is_staff
    user.is_superuser = is_superuser
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def seed(out) -> None:
    for email, full_name, is_staff, is_superuser, hint in DEMO_USERS:
        ensure_user(email, full_name, is_staff=is_staff, is_superuser=is_superuser)
        out(f"  {email:<30} {hint}")
