"""Money for people: thousands separators, the currency's display precision, the exact value on hover.

Fiat shows 2 places; crypto shows 2 to 4 (trailing zeros past the second dropped),
the exact stored value (8 places) in the title. `{{ amount|money:"USDT" }}`,
`{{ amount|fiat:"THB" }}`, `{{ amount|crypto:"USDT" }}`.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

register = template.Library()

FIAT_CODES_WITH_NO_CENTS = frozenset({"JPY", "KRW", "VND", "IDR"})


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _grouped(number: Decimal, min_places: int, max_places: int) -> str:
    rounded = number.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{max_places}f}"
    if max_places > min_places:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0").ljust(min_places, "0")
        text = f"{whole}.{frac}" if frac else whole
    return "0.00" if text in ("-0.00", "-0") else text


def crypto_display(value) -> str:
    number = _decimal(value)
    return "" if number is None else _grouped(number, 2, 4)


def fiat_display(value, code: str = "") -> str:
    number = _decimal(value)
    if number is None:
        return ""
    places = 0 if code.upper() in FIAT_CODES_WITH_NO_CENTS else 2
    return _grouped(number, places, places)


def _exact(number: Decimal) -> str:
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _render(value, code: str, shown: str):
    number = _decimal(value)
    if number is None:
        return "—"
    label = f"{shown} {code}".strip()
    return format_html('<span class="money" title="{} {}">{}</span>', _exact(number), code, label)


@register.filter
def crypto(value, code: str = ""):
    return _render(value, code, crypto_display(value))


@register.filter
def fiat(value, code: str = ""):
    return _render(value, code, fiat_display(value, code))


@register.filter
def money(value, code: str = ""):
    """Crypto precision for a crypto code (USDT, BTC, ...), fiat otherwise; unknown codes get 2 places."""
    if code and code.upper() in {"USDT", "USDC", "BTC", "ETH", "TRX", "TON", "BNB"}:
        return crypto(value, code)
    return fiat(value, code)


@register.filter
def in_fours(value) -> str:
    """A card number (13–19 digits) in groups of four, as printed on the card; anything else as it is."""
    text = str(value or "")
    digits = text.replace(" ", "")
    if digits.isdigit() and 13 <= len(digits) <= 19:
        return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))
    return text
