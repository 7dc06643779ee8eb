"""Django admin of payments; each module registers its models."""

from . import balances, callbacks, dashboard, merchants, onboarding, orders, reference, traders, transfers  # noqa: F401
