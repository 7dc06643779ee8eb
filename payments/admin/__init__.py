"""Django admin of payments; each module registers its models."""

from . import balances, callbacks, dashboard, merchants, orders, reference, traders  # noqa: F401
