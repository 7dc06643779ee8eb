"""Store API v1: one view per operation; the rules live in payments.services.intake."""

from django.http import HttpResponse, JsonResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from core.api_errors import error_body
from payments.models import IncomingOrder, OrderType
from payments.services import intake

from . import selectors
from .base import StoreAPIView
from .filters import OrderFilter
from .idempotency import IDEMPOTENCY_PARAMETER, KeyMarker, key_marker, respond_idempotently
from .pagination import OrderCursorPagination
from .rendering import json_answer, rendered_json
from .serializers import ErrorSerializer, OrderRequestSerializer, OrderSerializer, text

TAG = ["Store API"]


def _errors(*codes: int) -> dict:
    meaning = {
        400: "Malformed JSON, a wrong type, an unknown field or a value out of range (see `fields`).",
        401: "No key, or not a valid store key.",
        403: "The store is disabled, its merchant blocked or its operator suspended; or this order type is "
             "turned off for the store.",
        404: "No such order among this store's orders.",
        409: "Conflict: the request's Idempotency-Key is in flight (`idempotency_key_in_flight`), the "
             "`client_id` is one of your orders' already (`duplicate_client_id`, with that order's `order_id`), "
             "the order is being assigned (`order_busy`, retry) or its state does not allow it.",
        422: "Understood but refused by a business rule (see `code`, e.g. amount_out_of_limits, "
             "no_exchange_rate, method_not_served, bank_not_served, idempotency_key_reused).",
        429: "Rate limit of this store reached; retry after the `Retry-After` seconds.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=meaning[code]) for code in codes}


AMOUNT_RULES = (
    "Exactly one of `amount_fiat` / `amount_crypto`; the other side is computed with the current exchange rate "
    "(fiat to 2 decimal places, crypto to 8, half up) and the store commission (its percentage of the crypto "
    "amount) is fixed now. The fiat amount must lie within the store's limits. Decimal amounts are best sent as "
    "strings. Unknown fields are refused (400)."
)


class OrderCreateView(StoreAPIView):
    """POST of a new order: takes the Idempotency-Key header."""

    def key_marker(self, request) -> KeyMarker | None:
        if not hasattr(self, "_key_marker"):
            self._key_marker = key_marker(request, self.store)
        return self._key_marker

    def handle_exception(self, exc):
        """Every error answer (400, 422, 409, 429, …) frees the key's Redis marker this request set."""
        marker = getattr(self, "_key_marker", None)
        if marker is not None:
            marker.release()
        return super().handle_exception(exc)


def _create_order(view: OrderCreateView, request, order_type: str) -> HttpResponse:
    """Validate (400s never keep the idempotency key), then create once per Idempotency-Key."""
    marker = view.key_marker(request)
    data = view.InputSerializer(data=request.data)
    data.is_valid(raise_exception=True)

    def answer(order: IncomingOrder) -> bytes:
        return rendered_json(OrderSerializer(order).data)

    def create(claim) -> HttpResponse:
        if claim is None:
            order = intake.create_incoming_order(store=view.store, order_type=order_type, **data.validated_data)
            return json_answer(answer(order), status=status.HTTP_201_CREATED)
        created = intake.create_incoming_order_with_key(store=view.store, order_type=order_type, claim=claim,
                                                        answer=answer, **data.validated_data)
        # The very bytes the key's row keeps, so a replay is byte-identical to this answer.
        return json_answer(created.answer, status=status.HTTP_201_CREATED)

    return respond_idempotently(marker, create)


class PayinCreateView(OrderCreateView):
    class InputSerializer(OrderRequestSerializer):
        class Meta:
            ref_name = "PayinRequest"

    @extend_schema(
        operation_id="payins_create", tags=TAG, summary="Create a PayIn",
        description=(
            "Your customer pays you fiat through a trader; your balance is credited in crypto. The order is "
            "accepted as `new`, and a trader's requisite is assigned shortly after; send the customer to "
            f"`payment_url`. {AMOUNT_RULES}"),
        request=InputSerializer, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: OrderSerializer, **_errors(400, 401, 403, 409, 422, 429)},
        examples=[OpenApiExample("PayIn of 1500 THB", request_only=True, value={
            "amount_fiat": "1500.00", "client_id": "order-10001", "customer_id": "cust-77", "method": "card",
            "return_url": "https://shop.example/thanks"})],
    )
    def post(self, request):
        return _create_order(self, request, OrderType.PAY_IN)


class PayoutCreateView(OrderCreateView):
    class InputSerializer(OrderRequestSerializer):
        customer_requisite = text(64, help_text="The customer's card, account or phone number the trader pays "
                                                "to (6–34 letters or digits; spaces and dashes ignored). Never "
                                                "shown back whole.")

        class Meta:
            ref_name = "PayoutRequest"

    @extend_schema(
        operation_id="payouts_create", tags=TAG, summary="Create a PayOut",
        description=(
            "A trader pays your customer fiat; your balance is debited in crypto. The order is accepted as `new` "
            f"and assigned to a trader shortly after. {AMOUNT_RULES}"),
        request=InputSerializer, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: OrderSerializer, **_errors(400, 401, 403, 409, 422, 429)},
        examples=[OpenApiExample("PayOut of 20 USDT", request_only=True, value={
            "amount_crypto": "20", "client_id": "withdrawal-5001", "customer_requisite": "4111 1111 1111 1111",
            "bank": "Kasikornbank", "method": "card"})],
    )
    def post(self, request):
        return _create_order(self, request, OrderType.PAY_OUT)


class OrderListView(StoreAPIView):
    queryset = IncomingOrder.objects.none()  # tells the schema generator the filters' model
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter
    pagination_class = OrderCursorPagination

    @extend_schema(
        operation_id="orders_list", tags=TAG, summary="List your orders",
        description="Newest first, 50 per page (`page_size` up to 200); follow `next` for older orders.",
        responses={200: OrderSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
    )
    def get(self, request):
        orders = selectors.store_orders(self.store)
        for backend in self.filter_backends:
            orders = backend().filter_queryset(request, orders, self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)


class OrderDetailView(StoreAPIView):
    @extend_schema(operation_id="orders_retrieve", tags=TAG, summary="Get one order",
                   description="`order_id` is the order's `id` as returned at creation.",
                   responses={200: OrderSerializer, **_errors(401, 403, 404, 429)})
    def get(self, request, order_id: str):
        order = selectors.store_order(self.store, order_id)
        if order is None:
            raise NotFound("No such order.")
        return Response(OrderSerializer(order).data)


class OrderCancelView(StoreAPIView):
    @extend_schema(
        operation_id="orders_cancel", tags=TAG, summary="Cancel an order", request=None,
        description=(
            "Possible until the customer has paid: an order `new` or `failed` is cancelled, and so is an "
            "`assigned` one (nobody has paid yet; the trader's reserved balance is released). A cancel that "
            "meets the order being assigned waits for it and cancels the order as it then is, or, if it cannot "
            "wait long enough, answers 409 `order_busy` (retry in a moment). Cancelling a cancelled order "
            "answers it as it is. A completed order answers 409 `order_completed`; one paid, disputed or "
            "otherwise ended 409 `order_not_cancellable` (final: open an appeal with your operator)."),
        responses={200: OrderSerializer, **_errors(401, 403, 404, 409, 429)},
    )
    def post(self, request, order_id: str):
        order = selectors.store_order(self.store, order_id)
        if order is None:
            raise NotFound("No such order.")
        intake.cancel_store_order(store=self.store, order=order, actor=request.user)
        return Response(OrderSerializer(selectors.store_order(self.store, order_id)).data)


class BalanceView(StoreAPIView):
    class OutputSerializer(serializers.Serializer):
        crypto_currency = serializers.CharField(source="crypto_currency.code")
        balance = serializers.DecimalField(max_digits=20, decimal_places=8, help_text="Everything you hold.")
        hold = serializers.DecimalField(max_digits=20, decimal_places=8, help_text="Reserved for open PayOuts.")
        available = serializers.DecimalField(max_digits=20, decimal_places=8, help_text="balance − hold.")

        class Meta:
            ref_name = "StoreBalance"

    @extend_schema(operation_id="balance_retrieve", tags=TAG, summary="Your balance",
                   description="Your store's balance in its crypto currency.",
                   responses={200: OutputSerializer, **_errors(401, 403, 429)})
    def get(self, request):
        return Response(self.OutputSerializer(selectors.store_balance(self.store)).data)


class MethodListView(StoreAPIView):
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField(help_text="Send as `method`.")
        name = serializers.CharField()
        banks = serializers.ListField(child=serializers.CharField(),
                                      help_text="Banks of your currency offering it; send one as `bank`.")

        class Meta:
            ref_name = "PaymentMethodOffer"

    @extend_schema(
        operation_id="methods_list", tags=TAG, summary="Payment methods and banks",
        description=(
            "What `method` and `bank` of a PayIn/PayOut may name: the methods your store can be served with — "
            "offered by some bank of your store's fiat currency — each with those banks. A PayIn/PayOut naming "
            "anything else is refused with 422 (`method_not_served`, `bank_not_served`, `method_not_available`). "
            "It says what can be served at all, not what is free right now: an order whose requisites are all "
            "busy is accepted and assigned as soon as one is free."),
        responses={200: OutputSerializer(many=True), **_errors(401, 403, 429)})
    def get(self, request):
        return Response(self.OutputSerializer(selectors.available_methods(self.store), many=True).data)


def unknown_endpoint(request, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v1/: the JSON error body, not Django's HTML page."""
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
