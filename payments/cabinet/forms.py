"""Forms of the cabinet pages. They check input; payments.cabinet.services and the execution
services decide and write, and their domain errors come back onto the form (add_domain_errors)."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from core.errors import DomainError
from core.forms import add_domain_errors
from core.money_display import crypto_display, fiat_display, format_rate
from payments.models import (
    AvailableBankMethod,
    Bank,
    CallbackEvent,
    CryptoCurrency,
    FiatCurrency,
    OrderHistory,
    OrderType,
    PaymentMethod,
    TransferNetwork,
)
from payments.models.fields import FIAT_PLACES
from payments.services import ledger
from payments.services import requisites as requisite_rules

from .selectors import ORDER_STATES, OrderFilters

HTTP_URL = URLValidator(schemes=["http", "https"])
MAX_FIAT = Decimal("999999999999999999.99")


class HttpUrlField(forms.URLField):
    """An http(s) URL, with one "Enter a valid URL." when it is not (URLField's own validator replaced, not
    doubled)."""

    default_validators = [HTTP_URL]




class NoEchoTextInput(forms.TextInput):
    """Never renders the submitted value back: a whole requisite number is not sent back in the page."""

    def format_value(self, value):
        return None


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))


class _OrderFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    order_type = forms.ChoiceField(label="Type", required=False,
                                   choices=[("", "Any type"), *OrderType.choices])
    date_from = _date_field("From (UTC)")
    date_to = _date_field("To (UTC)")
    q = forms.CharField(label="Order or client id", required=False, max_length=128)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> OrderFilters:
        """The filters to apply; an invalid form filters nothing (the page shows the errors)."""
        if not self.is_valid():
            return OrderFilters()
        data = self.cleaned_data
        store = data.get("store")
        return OrderFilters(status=data.get("status") or "", order_type=data.get("order_type") or "",
                            date_from=data.get("date_from"), date_to=data.get("date_to"),
                            store_id=store.pk if store else None, query=(data.get("q") or "").strip())


class TraderOrderFilterForm(_OrderFilterForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status"), *OrderHistory.Status.choices]


class MerchantOrderFilterForm(_OrderFilterForm):
    store = forms.ModelChoiceField(queryset=None, required=False, empty_label="All stores")
    field_order = ["store", "status", "order_type", "date_from", "date_to", "q"]

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores
        self.fields["status"].choices = [("", "Any status"), *ORDER_STATES]


class CallbackFilterForm(forms.Form):
    store = forms.ModelChoiceField(queryset=None, required=False, empty_label="All stores")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *CallbackEvent.Status.choices])

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores

    def values(self) -> dict:
        if not self.is_valid():
            return {}
        store = self.cleaned_data.get("store")
        return {"store_id": store.pk if store else None, "status": self.cleaned_data.get("status") or ""}


class BalanceFilterForm(forms.Form):
    """Which balance's history to list (ids of the owner's own balances only)."""

    balance = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["balance"].choices = [("", "All"), *choices]

    def balance_id(self) -> int | None:
        return self.cleaned_data.get("balance") if self.is_valid() else None


# --- trader --------------------------------------------------------------------------------------

class RequisiteForm(forms.Form):
    fiat = forms.ModelChoiceField(label="Currency", queryset=FiatCurrency.objects.filter(is_active=True))
    bank = forms.ModelChoiceField(queryset=Bank.objects.filter(is_active=True))
    method = forms.ModelChoiceField(label="Payment method", queryset=PaymentMethod.objects.filter(is_active=True))
    req_number = forms.CharField(
        label="Card, account or phone number", max_length=64,
        help_text="Stored encrypted; afterwards only its last four digits are shown.",
        widget=NoEchoTextInput(attrs={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"}))
    owner_of_requisites = forms.ModelChoiceField(label="Holder", queryset=None, required=False,
                                                 empty_label="— a new holder —")
    new_owner_name = forms.CharField(label="New holder's full name", max_length=200, required=False,
                                     help_text="As the bank shows it to the payer.")
    pay_in = forms.BooleanField(label="Take PayIns", required=False, initial=True)
    pay_out = forms.BooleanField(label="Take PayOuts", required=False, initial=True)

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_of_requisites"].queryset = owners

    def choice_map(self) -> dict:
        """For the page's script: which banks serve each currency and which methods each bank offers, so the
        lists show only what fits (the service checks again)."""
        banks = list(self.fields["bank"].queryset.values("pk", "country_id"))
        currencies = {str(fiat["pk"]): [bank["pk"] for bank in banks
                                        if not bank["country_id"] or not fiat["country_id"]
                                        or bank["country_id"] == fiat["country_id"]]
                      for fiat in self.fields["fiat"].queryset.values("pk", "country_id")}
        methods: dict[str, list[int]] = {}
        for bank_id, method_id in AvailableBankMethod.objects.filter(is_active=True).values_list("bank_id",
                                                                                                  "method_id"):
            methods.setdefault(str(bank_id), []).append(method_id)
        return {"banks_of_currency": currencies, "methods_of_bank": methods}

    def clean(self):
        """Every problem at once: the number's shape, the bank's currency and its methods, the holder, the
        switches (the service would stop at the first)."""
        data = super().clean()
        number, bank, fiat, method = (data.get(name) for name in ("req_number", "bank", "fiat", "method"))
        for check, needs in ((requisite_rules.check_requisite_number, (number,)),
                             (requisite_rules.ensure_bank_serves_currency, (bank, fiat)),
                             (requisite_rules.ensure_bank_offers_method, (bank, method))):
            if all(needs):
                try:
                    check(*needs)
                except DomainError as exc:
                    add_domain_errors(self, exc)
        if not data.get("owner_of_requisites") and not (data.get("new_owner_name") or "").strip():
            self.add_error("new_owner_name", "Pick a holder or type the new holder's full name.")
        if not data.get("pay_in") and not data.get("pay_out"):
            self.add_error(None, "Turn on PayIns, PayOuts or both.")
        return data


class RequisiteSwitchesForm(forms.Form):
    pay_in = forms.BooleanField(label="Take PayIns", required=False)
    pay_out = forms.BooleanField(label="Take PayOuts", required=False)


class ConfirmOrderForm(forms.Form):
    confirmed_fiat = forms.DecimalField(
        label="Amount received", required=False, max_digits=20, decimal_places=FIAT_PLACES,
        min_value=Decimal("0.01"), max_value=MAX_FIAT,
        help_text="Leave empty if exactly the requested amount arrived.")
    receipt = forms.FileField(label="Receipt", required=False, help_text="A PDF, or a JPEG, PNG or WebP image.")

    def __init__(self, *args, order: OrderHistory, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        if order.order_type == OrderType.PAY_OUT:
            self.fields["confirmed_fiat"].label = "Amount paid"
            self.fields["confirmed_fiat"].help_text = "Leave empty if you paid exactly the requested amount."
            self.fields["receipt"].required = True
            self.fields["receipt"].help_text = "The bank's receipt: a PDF, or a JPEG, PNG or WebP image."

    def clean_confirmed_fiat(self):
        amount = self.cleaned_data.get("confirmed_fiat")
        if amount is None or amount == self.order.total_fiat:
            return None
        most = ledger.largest_confirmable_fiat(self.order)
        if amount > most:
            code = self.order.fiat.code
            if self.order.order_type == OrderType.PAY_IN:
                why = (f"your crypto balance covers at most {fiat_display(most, code)} at this order's rate "
                       f"({format_rate(self.order.exchange_rate)} {code} per {self.order.crypto_currency.code})")
            else:
                why = f"your fiat balance and credit limit allow at most {fiat_display(most, code)}"
            raise ValidationError(
                f"The amount must be between 0.01 and {fiat_display(most, code)}: {why}. "
                f"The order asked for {fiat_display(self.order.total_fiat, code)}.")
        return amount


class DisputeForm(forms.Form):
    reason = forms.CharField(label="What is wrong", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class AppealForm(forms.Form):
    reason = forms.CharField(label="Why you appeal", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(label="Evidence", required=False, help_text="A PDF, or a JPEG, PNG or WebP image.")


# --- merchant ------------------------------------------------------------------------------------

class StoreCreateForm(forms.Form):
    store_name = forms.CharField(label="Store name", max_length=128)
    fiat_currency = forms.ModelChoiceField(label="Fiat currency", queryset=FiatCurrency.objects.filter(is_active=True))
    crypto_currency = forms.ModelChoiceField(label="Settlement currency",
                                             queryset=CryptoCurrency.objects.filter(is_active=True))
    lower_limit = forms.DecimalField(label="Smallest order", max_digits=20, decimal_places=FIAT_PLACES,
                                     min_value=Decimal("0"), max_value=MAX_FIAT)
    upper_limit = forms.DecimalField(label="Largest order", max_digits=20, decimal_places=FIAT_PLACES,
                                     min_value=Decimal("0.01"), max_value=MAX_FIAT)
    callback_url = HttpUrlField(label="Callback URL", required=False, max_length=500, assume_scheme="https",
                                help_text="Where we POST every order status change (signed).")

    def clean_store_name(self):
        name = self.cleaned_data["store_name"].strip()
        if not name:
            raise ValidationError("Give the store a name.")
        return name

    def clean(self):
        data = super().clean()
        low, high = data.get("lower_limit"), data.get("upper_limit")
        if low is not None and high is not None and high < low:
            self.add_error("upper_limit", "The largest order must be at least the smallest.")
        return data


class StoreSettingsForm(forms.Form):
    callback_url = HttpUrlField(label="Callback URL", required=False, max_length=500, assume_scheme="https",
                                help_text="Where we POST every order status change (signed).")
    pay_in_enabled = forms.BooleanField(label="Send PayIns", required=False)
    pay_out_enabled = forms.BooleanField(label="Send PayOuts", required=False)



class TransferForm(forms.Form):
    """A withdrawal (merchant, trader) or a top-up (trader) of one crypto balance."""

    balance = forms.TypedChoiceField(label="Balance", coerce=int)
    direction = forms.ChoiceField(label="Kind", choices=[("withdrawal", "Withdraw"), ("top_up", "Top up")],
                                  initial="withdrawal")
    amount = forms.DecimalField(label="Amount", min_value=Decimal("0.00000001"), max_digits=20, decimal_places=8)
    network = forms.ChoiceField(label="Network", choices=TransferNetwork.choices)
    address = forms.CharField(label="Address", max_length=128,
                              help_text="Your wallet's address on that network; checked against its format.")

    def __init__(self, *args, balances, top_ups: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.balances = {balance.pk: balance for balance in balances}
        self.fields["balance"].choices = [(pk, str(label)) for pk, label in
                                          ((b.pk, _balance_label(b)) for b in self.balances.values())]
        if not top_ups:
            del self.fields["direction"]

    def clean_balance(self):
        return self.balances[self.cleaned_data["balance"]]


def _balance_label(balance) -> str:
    if hasattr(balance, "store"):
        return (f"{balance.store.store_name}: {crypto_display(balance.available, balance.crypto_currency.code)} "
                "available")
    return (f"{balance.fiat_currency.code}/{balance.crypto_currency.code}: "
            f"{crypto_display(balance.crypto_available, balance.crypto_currency.code)} available")
