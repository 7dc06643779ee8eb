"""Domain errors: what services raise when a rule refuses an action. They say nothing of HTTP; the API layer
(core.api_errors) maps each kind to its status code and the contract's error body, and pages show the
message next to the form.

`code` is the machine-readable reason (the error body's `code`), `fields` the per-field messages, and
`extra` further members of the body a client acts on (e.g. `order_id` of the order that has a client_id).
An app's own error may be several kinds at once; the first kind among its bases decides the status
(e.g. `class CredentialsLocked(TooManyAttempts, CredentialsError)`).
"""


class DomainError(Exception):
    """A business rule refused the request (422 in the API unless a subclass says otherwise)."""

    code = "unprocessable"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}
        self.extra = extra or {}


class InvalidInput(DomainError):
    """The request itself is malformed or names something unusable (400)."""

    code = "invalid"


class NotAuthenticated(DomainError):
    """Who is asking is not established: a wrong password, token or code (401)."""

    code = "not_authenticated"


class Forbidden(DomainError):
    """Who is asking is known and may not do this (403)."""

    code = "forbidden"


class NotFound(DomainError):
    """The row does not exist for whoever is asking (404)."""

    code = "not_found"


class Conflict(DomainError):
    """The row is not in a state that allows the action, or another request holds it (409)."""

    code = "conflict"


class RuleViolation(DomainError):
    """The request is well formed but a business rule refuses it (422)."""


class TooLarge(DomainError):
    """The request is larger than the action accepts (413)."""

    code = "too_large"


class TooManyAttempts(DomainError):
    """Too many tries: wait and try again (429)."""

    code = "too_many_attempts"


class Unavailable(DomainError):
    """Something the action needs (an SMS gateway, a provider) does not answer now (503)."""

    code = "unavailable"
