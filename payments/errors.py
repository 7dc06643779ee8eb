"""Domain errors of payments; the API maps them to its JSON error body (core.api_errors)."""

from rest_framework import status

from core.api_errors import DomainError


class PaymentsError(DomainError):
    """A payments rule refused the action; `code` says which."""


class NoExchangeRate(PaymentsError):
    code = "no_exchange_rate"


class ConflictError(PaymentsError):
    """The row is not in a state that allows the action (e.g. cancel after assignment)."""

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
