"""Demo data for `make run`: idempotent, prints the logins it made."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User

DEMO_PASSWORD = "demo-pass-2026"

DEMO_USERS = [
    # email, full name, staff, superuser
    ("superadmin@demo.local", "Sofia Super", True, True),
    ("alice@demo.local", "Alice Active", False, False),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo data and print the demo logins."

    @transaction.atomic
    def handle(self, *args, **options):
        for email, full_name, is_staff, is_superuser in DEMO_USERS:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User(email=email)
            user.full_name = full_name
            user.status = User.Status.ACTIVE
            user.email_verified = True
            user.is_staff = is_staff
            user.is_superuser = is_superuser
            user.set_password(DEMO_PASSWORD)
            user.save()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for email, full_name, is_staff, _ in DEMO_USERS:
            where = "admin: http://127.0.0.1:8000/admin/" if is_staff else "site: http://127.0.0.1:8000/"
            self.stdout.write(f"  {email:<28} {full_name:<16} {where}")
