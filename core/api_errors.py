"""One error body for every API answer: {"error": {"code", "message", "fields"}}."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A business rule refused the request; services raise it, the API maps it."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "unprocessable"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None,
                 status_code: int | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}
        # Further members of the error body a client acts on (e.g. `order_id` of the order that has a client_id).
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in detail.items()}
    return {}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code)
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
