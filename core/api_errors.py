"""One error body for every API answer: {"error": {"code", "message", "fields"}}; domain errors (core.errors)
mapped to their HTTP status here, the only place that knows both."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RuleViolation,
    TooLarge,
    TooManyAttempts,
    Unavailable,
)

# Each kind of domain error and its status; an error that is several kinds takes the first of its MRO.
STATUS_OF_KIND: dict[type[DomainError], int] = {
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    NotAuthenticated: status.HTTP_401_UNAUTHORIZED,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    RuleViolation: status.HTTP_422_UNPROCESSABLE_ENTITY,
    TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    TooManyAttempts: status.HTTP_429_TOO_MANY_REQUESTS,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    DomainError: status.HTTP_422_UNPROCESSABLE_ENTITY,
}


def http_status(exc: DomainError) -> int:
    """The HTTP status of a domain error, by its kind (core.errors)."""
    return next(STATUS_OF_KIND[kind] for kind in type(exc).__mro__ if kind in STATUS_OF_KIND)


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in detail.items()}
    return {}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=http_status(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("validation_error", "The request has invalid fields.", _flatten(exc.detail))
        if isinstance(exc.detail, list):
            body["error"]["message"] = "; ".join(str(item) for item in exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = "malformed_json" if isinstance(exc, exceptions.ParseError) else getattr(exc, "default_code", "error")
        if isinstance(detail, dict):
            body = error_body(code, "The request was refused.", _flatten(detail))
        else:
            body = error_body(code, str(detail))
    response.data = body
    return response
