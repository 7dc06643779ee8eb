"""Money for people (core.money_display): thousands separators, the currency's display precision (2 places
of fiat, 2 to 4 of crypto), the exact value on hover, and always the currency's code beside the amount.

- `{% money value currency %}`: the currency a model or a code; `signed=True` for a movement of a balance;
- `{% rate value fiat crypto %}`: an exchange rate, every stored place kept;
- `{{ amount|fiat:"THB" }}`, `{{ amount|crypto:"USDT" }}`, `{{ amount|money:"USDT" }}` (crypto precision for a
  crypto code: payments.currency_codes), `{{ amount|money_text:"THB" }}` (plain text, for a <title>);
- `{{ value|percent }}` and `{{ number|in_fours }}` (a card number as printed on the card).

The same amounts as plain text for messages, form labels and errors written in Python: core.money_display's
`fiat_display` and `crypto_display`.
"""

from django import template

from core.money_display import crypto_display, fiat_display, format_amount, is_crypto, money_html, rate_html

register = template.Library()


@register.simple_tag(name="money")
def money_tag(value, currency=None, crypto=None, signed=False):
    return money_html(value, currency, crypto=crypto, signed=signed)


@register.simple_tag(name="rate")
def rate_tag(value, fiat=None, crypto=None):
    return rate_html(value, fiat, crypto)


@register.filter(name="crypto")
def crypto_filter(value, code: str = ""):
    return money_html(value, code, crypto=True)


@register.filter
def fiat(value, code: str = ""):
    return money_html(value, code, crypto=False)


@register.filter(name="money")
def money_filter(value, code: str = ""):
    """Crypto precision for a crypto code (one of the operator's crypto currencies), fiat otherwise."""
    return money_html(value, code, crypto=is_crypto(code))


@register.filter
def money_text(value, code: str = "") -> str:
    """Plain text, where markup cannot go (a page's <title>): `1,000.00 THB`, crypto precision for a crypto code."""
    return (crypto_display if is_crypto(code) else fiat_display)(value, code)


@register.filter
def percent(value) -> str:
    """`1.5 %` for a stored `1.500`: no trailing zeros, never `0E-3`."""
    shown = format_amount(value, crypto=True)
    if shown == "—":
        return shown
    return f"{shown.rstrip('0').rstrip('.')}\u00a0%"


@register.filter
def in_fours(value) -> str:
    """A card number (13–19 digits) in groups of four, as printed on the card; anything else as it is."""
    text = str(value or "")
    digits = text.replace(" ", "")
    if digits.isdigit() and 13 <= len(digits) <= 19:
        return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))
    return text
