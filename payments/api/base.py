"""The base of every store API view: store key, access checks, rate limit, the store's tenant."""

from contextlib import ExitStack

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from payments.models import MerchantStore
from tenancy.scoping import tenant_context

from .authentication import StoreKeyAuthentication
from .idempotency import KeyMarker
from .permissions import StoreMayUseAPI
from .rendering import AsciiJSONRenderer
from .throttling import StoreRateThrottle


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class StoreJSONParser(JSONParser):
    """DRF's JSON parser, plus: bodies over MAX_BODY_BYTES and nesting deep enough to exhaust the parser's
    recursion are refused with 4xx instead of ending in a server error."""

    MAX_BODY_BYTES = 64 * 1024

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > self.MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.")


class StoreAPIView(APIView):
    """Authenticates the store, checks it may act, counts it against its rate limit, then runs the
    handler inside the store's tenant (scoped managers and PostgreSQL RLS see that tenant only)."""

    authentication_classes = [StoreKeyAuthentication]
    permission_classes = [StoreMayUseAPI]
    throttle_classes = [StoreRateThrottle]
    renderer_classes = [AsciiJSONRenderer]
    parser_classes = [StoreJSONParser]

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as tenant_scope:
            self._tenant_scope = tenant_scope
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._tenant_scope.enter_context(tenant_context(request.auth.tenant_id))

    @property
    def store(self) -> MerchantStore:
        return self.request.auth

    def key_marker(self, request) -> KeyMarker | None:
        """The request's Idempotency-Key marker (views that take the header); asked by the rate limit, so it
        can be set in the same Redis round trip, and by the view. One object per request."""
        return None
