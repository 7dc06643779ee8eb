"""Demo data for `make run`: idempotent; each app adds its part and prints its logins.

Each app may have a `demo.py` with `seed(out)`; they run in the order below, in one
transaction, and may be run again at any time.
"""

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD

DEMO_MODULES = ["accounts.demo", "tenancy.demo", "payments.demo", "trading.demo", "trading.copytrade.demo"]


def _available(dotted: str):
    try:
        return import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name != dotted:
            raise
        return None


class Command(BaseCommand):
    help = "Create (or refresh) the demo data and print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write(self.style.SUCCESS(f"Demo data (password for every login: {DEMO_PASSWORD})"))
        with transaction.atomic():
            for dotted in DEMO_MODULES:
                module = _available(dotted)
                if module is not None:
                    self.stdout.write(self.style.MIGRATE_HEADING(dotted.rpartition(".")[0]))
                    module.seed(self.stdout.write)
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(f"Open {site}/ — emails and SMS codes print in this terminal.")
        self.stdout.write(f"Operations: {site}/health/ready (every check by name) and {site}/metrics (Prometheus; "
                          "from this machine, or with METRICS_TOKEN) — docs/operations.md.")
