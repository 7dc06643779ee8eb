"""Forms of the copy-trading pages (seed 001). They shape input; trading.services.copy_accounts decides."""

import json
from decimal import Decimal

from django import forms

from trading.models import AccountRole, CopyMode, LotMode


class NewAccountForm(forms.Form):
    name = forms.CharField(label="Account name", max_length=100)
    role = forms.ChoiceField(label="Role", choices=AccountRole.choices, widget=forms.RadioSelect,
                             initial=AccountRole.FOLLOWER)


class RenameForm(forms.Form):
    name = forms.CharField(label="Account name", max_length=100)


class CopyModeForm(forms.Form):
    copy_mode = forms.ChoiceField(label="Copy mode", choices=CopyMode.choices)


class FollowForm(forms.Form):
    follower = forms.TypedChoiceField(label="My follower account", coerce=int)
    master_token = forms.CharField(label="Master token", max_length=40)

    def __init__(self, *args, followers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["follower"].choices = [(account.pk, account.name) for account in followers]


class ReauthForm(forms.Form):
    password = forms.CharField(label="Your password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    code = forms.CharField(label="Authenticator or backup code", required=False, max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


def _symbols(text: str) -> list[str]:
    return [part.strip().upper() for part in text.replace("\n", ",").split(",") if part.strip()]


class CopyOptionsForm(forms.Form):
    lot_mode = forms.ChoiceField(label="Lot mode", choices=LotMode.choices)
    lot_value = forms.DecimalField(label="Lot value", min_value=Decimal("0"), max_digits=20, decimal_places=8)
    lot_step = forms.DecimalField(label="Lot step", min_value=Decimal("0.00000001"), max_digits=20,
                                  decimal_places=8)
    min_lots = forms.DecimalField(label="Minimum lots", min_value=Decimal("0"), max_digits=20, decimal_places=8)
    max_lots = forms.DecimalField(label="Maximum lots", min_value=Decimal("0"), max_digits=20, decimal_places=8)
    symbol_prefix = forms.CharField(label="Symbol prefix", max_length=16, required=False)
    symbol_suffix = forms.CharField(label="Symbol suffix", max_length=16, required=False)
    symbol_map = forms.CharField(label="Symbol mapping (JSON)", required=False,
                                 help_text='e.g. {"XAUUSD": "GOLD"}', widget=forms.TextInput)
    reverse = forms.BooleanField(label="Reverse (BUY ↔ SELL)", required=False)
    max_delay_seconds = forms.IntegerField(label="Maximum signal delay, seconds", min_value=0, max_value=86400)
    allowed_symbols = forms.CharField(label="Only these symbols (comma-separated)", required=False)
    blocked_symbols = forms.CharField(label="Never these symbols (comma-separated)", required=False)

    @classmethod
    def initial_from(cls, row) -> dict:
        return {"lot_mode": row.lot_mode, "lot_value": row.lot_value, "lot_step": row.lot_step,
                "min_lots": row.min_lots, "max_lots": row.max_lots, "symbol_prefix": row.symbol_prefix,
                "symbol_suffix": row.symbol_suffix,
                "symbol_map": json.dumps(row.symbol_map) if row.symbol_map else "",
                "reverse": row.reverse, "max_delay_seconds": row.max_delay_seconds,
                "allowed_symbols": ", ".join(row.allowed_symbols or []),
                "blocked_symbols": ", ".join(row.blocked_symbols or [])}

    def clean_symbol_map(self) -> dict:
        text = (self.cleaned_data.get("symbol_map") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError("Write the mapping as JSON, e.g. {\"XAUUSD\": \"GOLD\"}.") from exc
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                  for k, v in value.items()):
            raise forms.ValidationError("The mapping is an object of symbol → symbol.")
        return {k.strip().upper(): v.strip() for k, v in value.items()}

    def clean_allowed_symbols(self) -> list[str]:
        return _symbols(self.cleaned_data.get("allowed_symbols") or "")

    def clean_blocked_symbols(self) -> list[str]:
        return _symbols(self.cleaned_data.get("blocked_symbols") or "")
