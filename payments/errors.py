"""Domain errors of payments (kinds: core.errors); the API maps them to its JSON error body (core.api_errors)."""


from core.errors import Conflict, DomainError, NotFound


class PaymentsError(DomainError):
    """A payments rule refused the action; `code` says which."""


class NoExchangeRate(PaymentsError):
    code = "no_exchange_rate"


class ConflictError(Conflict, PaymentsError):
    """The row is not in a state that allows the action (e.g. cancel after assignment)."""

    code = "conflict"


class OrderNotFound(NotFound, PaymentsError):
    """No such order for whoever is asking."""

    code = "not_found"
