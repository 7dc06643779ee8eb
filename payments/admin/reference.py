"""Reference data and exchange rates in the admin: edited by staff with `can_edit_system_settings`."""

from django.contrib import admin
from django.utils import timezone
from django.utils.functional import cached_property

from core.money_display import rate_html
from payments.models import (
    AvailableBankMethod,
    Bank,
    Country,
    CryptoCurrency,
    ExchangeRate,
    FiatCurrency,
    PaymentMethod,
    TimeZone,
)
from payments.permissions import EDIT_REFERENCE_DATA
from payments.services.exchange_rates import record_exchange_rate

from .base import AuditedAdmin, FlagGuardedAdmin, shown_field


class ReferenceAdmin(AuditedAdmin):
    add_flags = change_flags = delete_flags = EDIT_REFERENCE_DATA


@admin.register(Country)
class CountryAdmin(ReferenceAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(TimeZone)
class TimeZoneAdmin(ReferenceAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(FiatCurrency)
class FiatCurrencyAdmin(ReferenceAdmin):
    list_display = ("code", "name", "symbol", "country", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("country",)
    search_fields = ("code", "name")


@admin.register(CryptoCurrency)
class CryptoCurrencyAdmin(ReferenceAdmin):
    list_display = ("code", "name", "network", "is_active")
    list_filter = ("is_active", "network")
    search_fields = ("code", "name")


@admin.register(Bank)
class BankAdmin(ReferenceAdmin):
    list_display = ("name", "country", "is_active")
    list_filter = ("is_active", "country")
    list_select_related = ("country",)
    search_fields = ("name",)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReferenceAdmin):
    list_display = ("name", "code", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code")


@admin.register(AvailableBankMethod)
class AvailableBankMethodAdmin(ReferenceAdmin):
    list_display = ("bank", "method", "is_active")
    list_filter = ("is_active", "method", "bank")
    list_select_related = ("bank", "method")
    search_fields = ("bank__name", "method__name")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(FlagGuardedAdmin):
    """Rates are history: added (by the loader or by hand), never edited."""

    add_flags = EDIT_REFERENCE_DATA
    list_display = ("crypto_currency", "fiat_currency", "rate_shown", "source", "fetched_at")
    list_filter = ("fiat_currency", "crypto_currency", "source", ("fetched_at", admin.DateFieldListFilter))
    list_select_related = ("fiat_currency", "crypto_currency")
    fields = ("fiat_currency", "crypto_currency", "rate", "source", "fetched_at")

    @admin.display(description="rate", ordering="rate")
    def rate_shown(self, obj):
        return rate_html(obj.rate, obj.fiat_currency, obj.crypto_currency)

    @cached_property
    def _rate_cell(self):
        """The rate of a saved row, read-only, as people read it (the same function on every call: Django matches
        read-only fields by identity)."""
        return shown_field(ExchangeRate._meta.get_field("rate"), rate=("fiat_currency", "crypto_currency"))

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else [self._rate_cell if name == "rate" else name for name in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else (self._rate_cell,)

    def get_changeform_initial_data(self, request):
        return {"source": "manual", "fetched_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        row = record_exchange_rate(fiat_currency=obj.fiat_currency, crypto_currency=obj.crypto_currency,
                                   rate=obj.rate, source=obj.source, fetched_at=obj.fetched_at,
                                   actor=request.user)
        obj.pk, obj.tenant_id, obj.created_at = row.pk, row.tenant_id, row.created_at
        obj._state.adding = False
