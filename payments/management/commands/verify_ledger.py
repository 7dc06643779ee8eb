"""Check the whole ledger, tenant by tenant; any difference is printed and the command exits non-zero."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from payments.services.ledger_verification import verify_ledgers
from tenancy.models import Tenant


class Command(BaseCommand):
    help = ("Verify every balance against its history, every hold against its orders and every completed "
            "order's movements against its commissions; exit 1 on any difference.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", default=[], metavar="UUID",
                            help="Only this tenant (repeatable); default: every tenant.")

    def handle(self, *args, **options):
        try:
            wanted = [uuid.UUID(value) for value in options["tenant"]]
        except ValueError as exc:
            raise CommandError(f"--tenant takes a tenant id (UUID): {exc}") from exc
        tenants = None
        if wanted:
            tenants = Tenant.objects.order_by("name").filter(pk__in=wanted)
            missing = set(wanted) - set(tenants.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No such tenant: {', '.join(map(str, sorted(missing)))}")
        found = 0
        for tenant, report in verify_ledgers(
                tenants=tenants, reason="manage.py verify_ledger: check every tenant's balances and orders"):
            if report.differences:
                found += len(report.differences)
                self.stdout.write(self.style.ERROR(
                    f"{tenant.name} ({tenant.pk}): {len(report.differences)} difference(s)"))
                for difference in report.differences:
                    self.stdout.write(f"  {difference}")
            else:
                self.stdout.write(f"{tenant.name} ({tenant.pk}): OK — {report.balances} balance(s), "
                                  f"{report.orders} order(s)")
        if found:
            raise CommandError(f"The ledger has {found} difference(s).")
        self.stdout.write(self.style.SUCCESS("Ledger verified: no differences."))
