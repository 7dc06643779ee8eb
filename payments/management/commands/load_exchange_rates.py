"""Load exchange rates from the configured provider (EXCHANGE_RATE_PROVIDER) into every active tenant."""

from django.core.management.base import BaseCommand, CommandError

from payments.exchange_rates import ExchangeRateProviderError, FileExchangeRateProvider, get_provider
from payments.services.exchange_rates import load_exchange_rates
from tenancy.models import Tenant


class Command(BaseCommand):
    help = "Fetch exchange rates from the configured provider and store them for each active tenant."

    def add_arguments(self, parser):
        parser.add_argument("--file", help="Read this JSON file instead of the configured provider.")
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="NAME",
                            help="Only this tenant (by name); may be repeated.")

    def handle(self, *args, file=None, tenants=None, **options):
        provider = FileExchangeRateProvider(file) if file else get_provider()
        selected = None
        if tenants:
            selected = list(Tenant.objects.filter(name__in=tenants))
            missing = set(tenants) - {t.name for t in selected}
            if missing:
                raise CommandError(f"No tenant named: {', '.join(sorted(missing))}")
        try:
            result = load_exchange_rates(provider=provider, tenants=selected)
        except ExchangeRateProviderError as exc:
            raise CommandError(str(exc)) from exc
        for name, count in result.per_tenant.items():
            self.stdout.write(f"{name}: {count} rate(s)")
        self.stdout.write(self.style.SUCCESS(f"{result.quotes} quote(s) fetched, {result.created} rate(s) stored."))
