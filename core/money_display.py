"""Money for people: thousands separators, the currency's display precision, the exact value on hover.

Stored amounts keep their full precision (8 places of crypto); a person reads 2 places of fiat and at most
4 of crypto, and `+0E-8` (a zero Decimal printed raw) never. The exact value stays in the `title`
attribute, and exports use the stored value.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.html import format_html

FIAT_DISPLAY_PLACES = 2
CRYPTO_DISPLAY_PLACES = 4


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def exact(value, *, signed: bool = False) -> str:
    """The stored value in plain notation (never `0E-8`), trailing zeros kept to the field's places."""
    number = _decimal(value)
    if number is None:
        return ""
    if number == 0:
        number = abs(number)
    return f"{number:+f}" if signed and number != 0 else f"{number:f}"


def format_amount(value, *, crypto: bool = False, signed: bool = False) -> str:
    """`1,234.56` (fiat) or `0.2743` (crypto, at most 4 places, at least 2); `+`/`−` with `signed`."""
    number = _decimal(value)
    if number is None:
        return "—"
    places = CRYPTO_DISPLAY_PLACES if crypto else FIAT_DISPLAY_PLACES
    shown = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if shown == 0:
        shown = abs(shown)
    text = f"{abs(shown):,.{places}f}"
    if crypto:
        whole, _, fraction = text.partition(".")
        fraction = fraction.rstrip("0").ljust(FIAT_DISPLAY_PLACES, "0")
        text = f"{whole}.{fraction}"
    if shown < 0:
        return f"−{text}"
    return f"+{text}" if signed and shown > 0 else text


def _with_code(shown: str, code: str) -> str:
    return f"{shown} {code}" if code and shown != "—" else shown


def crypto_display(value, code: str = "") -> str:
    """`27.4348 USDT`: a crypto amount as plain text (messages, form labels, errors), with its code if given."""
    return _with_code(format_amount(value, crypto=True), code)


def fiat_display(value, code: str = "") -> str:
    """`1,234.56 THB`: a fiat amount as plain text, with its code if given."""
    return _with_code(format_amount(value, crypto=False), code)


def is_crypto(currency) -> bool:
    """A currency row, or a code: a code is crypto when the operator's crypto currencies list it
    (payments.currency_codes, cached per process, so asking once per cell costs no query)."""
    from payments.currency_codes import is_crypto_currency

    return is_crypto_currency(currency)


def currency_code(currency) -> str:
    if currency is None:
        return ""
    return getattr(currency, "code", None) or str(currency)


def format_rate(value) -> str:
    """An exchange rate as a person reads it: separators, the stored places without trailing zeros (at least 2),
    never rounded and never `3.645E+1`: a rate is a price, and its last places matter to whoever checks it."""
    number = _decimal(value)
    if number is None:
        return "—"
    text = f"{abs(number):,f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(FIAT_DISPLAY_PLACES, "0")
    return f"{'−' if number < 0 else ''}{whole}.{fraction}"


def rate_html(value, fiat=None, crypto=None):
    """`<span class="money" title="36.45000000 THB per USDT">36.45 THB per USDT</span>`."""
    shown = format_rate(value)
    if shown == "—":
        return shown
    unit = f"{currency_code(fiat)} per {currency_code(crypto)}" if fiat and crypto else currency_code(fiat or crypto)
    return format_html('<span class="money" title="{}">{}{}</span>', f"{exact(value)} {unit}".strip(), shown,
                       f"\u00a0{unit}" if unit else "")


def money_html(value, currency=None, *, crypto: bool | None = None, signed: bool = False):
    """`<span class="money" title="exact">1,234.56 THB</span>`; `crypto` None: from the currency's model."""
    if crypto is None:
        crypto = is_crypto(currency)
    code = currency_code(currency)
    shown = format_amount(value, crypto=crypto, signed=signed)
    if shown == "—":
        return shown
    full = exact(value)
    return format_html('<span class="money" title="{}">{}{}</span>', f"{full} {code}".strip(), shown,
                       f"\u00a0{code}" if code else "")
