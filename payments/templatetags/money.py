"""Money for people (core.money_display): thousands separators, the currency's display precision (2 places
of fiat, 2 to 4 of crypto), the exact value on hover.

`{% money value currency %}` (the currency a model or a code; crypto told by the model), and the filters
`{{ amount|fiat:"THB" }}`, `{{ amount|crypto:"USDT" }}`, `{{ amount|money:"USDT" }}` (crypto for a crypto
code) and `{{ number|in_fours }}` (a card number as printed on the card).
"""

from django import template

from core.money_display import format_amount, money_html

register = template.Library()

CRYPTO_CODES = frozenset({"USDT", "USDC", "BTC", "ETH", "TRX", "TON", "BNB"})


def crypto_display(value) -> str:
    """The crypto amount as shown, without its code (for messages and admin cells)."""
    return format_amount(value, crypto=True)


def fiat_display(value, code: str = "") -> str:
    return format_amount(value, crypto=False)


@register.simple_tag(name="money")
def money_tag(value, currency=None, crypto=None, signed=False):
    return money_html(value, currency, crypto=crypto, signed=signed)


@register.filter(name="crypto")
def crypto_filter(value, code: str = ""):
    return money_html(value, code, crypto=True)


@register.filter
def fiat(value, code: str = ""):
    return money_html(value, code, crypto=False)


@register.filter(name="money")
def money_filter(value, code: str = ""):
    """Crypto precision for a crypto code (USDT, BTC, ...), fiat otherwise."""
    return money_html(value, code, crypto=bool(code) and code.upper() in CRYPTO_CODES)


@register.filter
def in_fours(value) -> str:
    """A card number (13–19 digits) in groups of four, as printed on the card; anything else as it is."""
    text = str(value or "")
    digits = text.replace(" ", "")
    if digits.isdigit() and 13 <= len(digits) <= 19:
        return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))
    return text
