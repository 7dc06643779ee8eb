"""Decimal columns of trading: prices and quantities need more places than fiat, never floats."""

from django.db import models


class PriceField(models.DecimalField):
    """A price or quantity: 28 digits, 12 after the point (covers 1e-12 lots and 1e15 prices)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 12)
        super().__init__(*args, **kwargs)


class MoneyField(models.DecimalField):
    """An amount in the quote/margin currency (USDT): balances, PnL, fees."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 8)
        super().__init__(*args, **kwargs)
