"""Forms of the trading pages: they only shape input; the services hold the rules (and their errors
come back onto the form through `add_domain_errors`)."""

from decimal import Decimal

from django import forms

from trading.models import SignalAction


class SettingsForm(forms.Form):
    risk_per_trade = forms.DecimalField(label="Risk per trade, % of equity", max_digits=6, decimal_places=3,
                                        min_value=Decimal("0.001"), max_value=Decimal("10"))
    min_leverage = forms.IntegerField(label="Minimum leverage", min_value=1, max_value=500)
    max_leverage = forms.IntegerField(label="Maximum leverage", min_value=1, max_value=500)
    require_stop_loss = forms.BooleanField(label="Require a stop loss on every signal", required=False)
    max_open_positions = forms.IntegerField(label="Open positions at most", min_value=0, max_value=1000)
    daily_loss_limit = forms.DecimalField(label="Daily loss limit (empty: none)", required=False, max_digits=20,
                                          decimal_places=2, min_value=Decimal("0.01"))

    def clean(self):
        data = super().clean()
        low, high = data.get("min_leverage"), data.get("max_leverage")
        if low and high and high < low:
            self.add_error("max_leverage", "The maximum leverage is below the minimum.")
        return data


class CredentialForm(forms.Form):
    """Write-only: nothing typed here is ever rendered back."""

    api_key = forms.CharField(label="API key", max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    secret = forms.CharField(label="Secret", max_length=200, widget=forms.PasswordInput(render_value=False))
    passphrase = forms.CharField(label="Passphrase (only some exchanges)", max_length=200, required=False,
                                 widget=forms.PasswordInput(render_value=False))


class TestSignalForm(forms.Form):
    symbol = forms.CharField(max_length=40, initial="BTCUSDT")
    action = forms.ChoiceField(label="Signal", choices=SignalAction.choices)
    price = forms.DecimalField(label="Entry price", required=False, max_digits=28, decimal_places=12,
                               min_value=Decimal(0))
    stop_price = forms.DecimalField(label="Stop loss", required=False, max_digits=28, decimal_places=12,
                                    min_value=Decimal(0))
    take_profit_price = forms.DecimalField(label="Take profit", required=False, max_digits=28, decimal_places=12,
                                           min_value=Decimal(0))
    leverage = forms.IntegerField(required=False, min_value=1, max_value=500)

    def signal_fields(self) -> dict:
        """The webhook's field names and string values (what receive_signal takes)."""
        return {name: format(value, "f") if isinstance(value, Decimal) else str(value)
                for name, value in self.cleaned_data.items() if value not in (None, "")}
