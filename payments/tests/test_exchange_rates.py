"""Exchange rates: the file provider, loading per tenant, the command, the task, and current_rate."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from payments.errors import NoExchangeRate
from payments.exchange_rates import ExchangeRateProviderError, FileExchangeRateProvider, get_provider
from payments.models import CryptoCurrency, ExchangeRate, FiatCurrency
from payments.selectors.rates import current_rate
from payments.services.exchange_rates import load_exchange_rates, record_exchange_rate
from payments.tasks import load_exchange_rates_task
from tenancy.models import Tenant
from tenancy.scoping import tenant_context


def write_rates(tmp_path, rates, **extra):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps({"rates": rates, **extra}))
    return path


def test_the_default_provider_reads_the_fixture_in_the_repository():
    quotes = get_provider().fetch()

    assert isinstance(get_provider(), FileExchangeRateProvider)
    assert {(q.fiat, q.crypto) for q in quotes} >= {("THB", "USDT"), ("RUB", "USDT")}
    assert all(q.rate > 0 and timezone.is_aware(q.fetched_at) for q in quotes)
    assert settings.CELERY_BEAT_SCHEDULE["payments.load_exchange_rates"]["task"] == "payments.load_exchange_rates"


@pytest.mark.parametrize("content", ["not json", '{"rates": 3}', '{"rates": [{"fiat": "THB"}]}',
                                     '{"rates": [{"fiat": "THB", "crypto": "USDT", "rate": "-1"}]}',
                                     '{"rates": [{"fiat": "THB", "crypto": "USDT", "rate": "abc"}]}',
                                     '{"rates": [], "fetched_at": "2026-01-01T00:00:00"}'])
def test_a_broken_file_is_a_clear_provider_error(tmp_path, content):
    path = tmp_path / "rates.json"
    path.write_text(content)

    with pytest.raises(ExchangeRateProviderError):
        FileExchangeRateProvider(path).fetch()


def test_loading_stores_each_tenant_the_pairs_it_has(tenant, other_tenant, tmp_path):
    with tenant_context(tenant):
        FiatCurrency.objects.create(code="THB", name="Baht")
        CryptoCurrency.objects.create(code="USDT", name="Tether")
    with tenant_context(other_tenant):
        FiatCurrency.objects.create(code="RUB", name="Ruble")
        CryptoCurrency.objects.create(code="USDT", name="Tether")
    path = write_rates(tmp_path, [{"fiat": "THB", "crypto": "USDT", "rate": "36.45"},
                                  {"fiat": "RUB", "crypto": "USDT", "rate": "96.8"},
                                  {"fiat": "EUR", "crypto": "USDT", "rate": "0.92"}], source="test-feed")

    result = load_exchange_rates(provider=FileExchangeRateProvider(path))

    assert (result.quotes, result.created) == (3, 2)
    with tenant_context(tenant):
        assert list(ExchangeRate.objects.values_list("fiat_currency__code", "rate", "source")) == [
            ("THB", Decimal("36.45000000"), "test-feed")]
    with tenant_context(other_tenant):
        assert list(ExchangeRate.objects.values_list("fiat_currency__code", flat=True)) == ["RUB"]


def test_suspended_tenants_are_skipped(tenant, tmp_path):
    with tenant_context(tenant):
        FiatCurrency.objects.create(code="THB", name="Baht")
        CryptoCurrency.objects.create(code="USDT", name="Tether")
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)

    result = load_exchange_rates(provider=FileExchangeRateProvider(write_rates(
        tmp_path, [{"fiat": "THB", "crypto": "USDT", "rate": "36"}])))

    assert result.created == 0


def test_the_command_and_the_task_load_from_the_configured_provider(tenant, tmp_path, settings):
    with tenant_context(tenant):
        FiatCurrency.objects.create(code="THB", name="Baht")
        CryptoCurrency.objects.create(code="USDT", name="Tether")
    settings.EXCHANGE_RATE_FILE = str(write_rates(tmp_path, [{"fiat": "THB", "crypto": "USDT", "rate": "35"}]))
    out = StringIO()

    call_command("load_exchange_rates", stdout=out)
    created_by_task = load_exchange_rates_task.delay().get()

    assert "Operator A: 1 rate(s)" in out.getvalue()
    assert created_by_task == 1
    with tenant_context(tenant):
        assert ExchangeRate.objects.count() == 2


def test_the_command_refuses_a_bad_file_or_tenant(db, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(CommandError):
        call_command("load_exchange_rates", file=str(bad), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("load_exchange_rates", tenants=["No such tenant"], stdout=StringIO())


@pytest.mark.usefixtures("in_tenant")
def test_current_rate_is_the_newest_younger_than_the_max_age(refs, tenant, settings):
    settings.EXCHANGE_RATE_MAX_AGE = timedelta(minutes=30)
    now = timezone.now()
    record_exchange_rate(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=Decimal("35"),
                         fetched_at=now - timedelta(minutes=20))
    newest = record_exchange_rate(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=Decimal("36"),
                                  fetched_at=now - timedelta(minutes=5))
    record_exchange_rate(fiat_currency=refs.rub, crypto_currency=refs.usdt, rate=Decimal("96"), fetched_at=now)

    assert current_rate(tenant, refs.thb, refs.usdt).pk == newest.pk
    assert current_rate(tenant, "THB", "USDT").pk == newest.pk
    with pytest.raises(NoExchangeRate) as refused:
        current_rate(tenant, refs.thb, refs.usdt, now=now + timedelta(minutes=40))
    assert refused.value.code == "no_exchange_rate"
    assert "USDT/THB" in refused.value.message


def test_current_rate_never_uses_another_tenants_rates(tenant, other_tenant):
    with tenant_context(other_tenant):
        fiat = FiatCurrency.objects.create(code="THB", name="Baht")
        crypto = CryptoCurrency.objects.create(code="USDT", name="Tether")
        record_exchange_rate(fiat_currency=fiat, crypto_currency=crypto, rate=Decimal("36"))

    with tenant_context(tenant), pytest.raises(NoExchangeRate):
        current_rate(tenant, "THB", "USDT")


@pytest.mark.usefixtures("in_tenant")
def test_a_rate_recorded_by_staff_is_audited(refs, staff):
    from audit.models import AuditLog

    admin = staff("can_edit_system_settings")

    record_exchange_rate(fiat_currency=refs.thb, crypto_currency=refs.usdt, rate=Decimal("36.1"), actor=admin)

    assert AuditLog.objects.get(action="exchange_rate.recorded").actor == admin
