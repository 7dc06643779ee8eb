"""Create the first super admin: an active, verified user with a `super_admin` admin profile
(every flag on). Later super admins are made by a super admin in the Django admin."""

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from tenancy.authz.permissions import SUPER_ADMIN_ROLE
from tenancy.models import AdminProfile
from tenancy.services import create_super_admin

PASSWORD_ENV = "DJANGO_SUPERADMIN_PASSWORD"


class Command(BaseCommand):
    help = "Create the first super admin (refused when one exists)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--full-name", default="Super Admin")
        parser.add_argument("--noinput", "--no-input", action="store_true",
                            help=f"Read the password from ${PASSWORD_ENV} instead of prompting.")

    def handle(self, *args, email: str, full_name: str, noinput: bool, **options):
        existing = AdminProfile.objects.filter(role__key=SUPER_ADMIN_ROLE).select_related("user").first()
        if existing is not None:
            raise CommandError(f"A super admin already exists ({existing.user.email}); "
                               "a super admin adds more in the Django admin.")
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Not an email address: {email}") from exc
        password = os.environ.get(PASSWORD_ENV, "") if noinput else self._prompt()
        if not password:
            raise CommandError(f"No password: set ${PASSWORD_ENV} with --noinput.")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        profile = create_super_admin(email=email, full_name=full_name, password=password)
        self.stdout.write(self.style.SUCCESS(f"Super admin {profile.user.email} created."))

    def _prompt(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords differ.")
        return first
