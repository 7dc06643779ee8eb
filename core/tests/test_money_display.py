"""Money for people: separators, display precision, never `0E-8`, the exact value on hover."""

from decimal import Decimal

from core.money_display import exact, format_amount, format_rate, money_html, rate_html


def test_fiat_has_separators_and_two_places():
    assert format_amount(Decimal("1234567.5")) == "1,234,567.50"
    assert format_amount(Decimal("-2500.00"), signed=True) == "−2,500.00"


def test_crypto_shows_at_most_four_places_and_at_least_two():
    assert format_amount(Decimal("27.43484225"), crypto=True) == "27.4348"
    assert format_amount(Decimal("5000.00000000"), crypto=True) == "5,000.00"
    assert format_amount(Decimal("0.10000000"), crypto=True, signed=True) == "+0.10"


def test_a_zero_decimal_never_reads_0E_8():
    assert format_amount(Decimal("0E-8"), crypto=True, signed=True) == "0.00"
    assert format_amount(Decimal("-0E-8")) == "0.00"
    assert exact(Decimal("0E-8"), signed=True) == "0.00000000"
    assert exact(Decimal("27.43484225"), signed=True) == "+27.43484225"


def test_the_html_keeps_the_exact_value_on_hover():
    html = str(money_html(Decimal("27.43484225"), "USDT", crypto=True))
    assert 'title="27.43484225 USDT"' in html and ">27.4348\u00a0USDT<" in html
    assert money_html(None, "THB") == "—"


def test_a_rate_keeps_its_places_without_trailing_zeros_or_exponent():
    assert format_rate(Decimal("36.45000000")) == "36.45"
    assert format_rate(Decimal("3500000.12345678")) == "3,500,000.12345678"
    assert format_rate(Decimal("1E+3")) == "1,000.00"
    assert format_rate(Decimal("0E-8")) == "0.00"
    assert format_rate(None) == "—"


def test_a_rate_says_its_pair_and_keeps_the_stored_value_on_hover():
    html = str(rate_html(Decimal("36.45000000"), "THB", "USDT"))
    assert html == '<span class="money" title="36.45000000 THB per USDT">36.45\u00a0THB per USDT</span>'
