"""Money columns: DECIMAL(20,8) for crypto (8 places, a satoshi-sized step), DECIMAL(20,2) for fiat (cents)."""

from decimal import Decimal

from django.db import models

CRYPTO_PLACES = 8
FIAT_PLACES = 2
ZERO = Decimal("0")


class CryptoAmountField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 20
        kwargs["decimal_places"] = CRYPTO_PLACES
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs


class FiatAmountField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 20
        kwargs["decimal_places"] = FIAT_PLACES
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs


class PercentField(models.DecimalField):
    """A commission rate in percent, 0.000–100.000."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 6
        kwargs["decimal_places"] = 3
        kwargs.setdefault("default", ZERO)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs
