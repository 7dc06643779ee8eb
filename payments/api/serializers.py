"""Shapes of the store API shared by several views: the order, the error body, strict input."""

import re
from collections.abc import Mapping
from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from core.crypto import mask
from payments.models import IncomingOrder, OrderType, StoreStatus
from payments.pay.selectors import payment_url


def reject_unencodable(value: str) -> None:
    """Lone surrogates (valid in JSON, not in UTF-8) would fail in the database driver: refuse them here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("Contains characters that are not valid Unicode text.")


class StrictTextMixin:
    """Text fields take JSON strings only (DRF would turn 12 or true into "12" / "True")."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        reject_unencodable(data)
        return super().to_internal_value(data)


class TextField(StrictTextMixin, serializers.CharField):
    pass


class URLTextField(StrictTextMixin, serializers.URLField):
    pass


class IPTextField(StrictTextMixin, serializers.IPAddressField):
    pass


def text(max_length: int, **kwargs) -> TextField:
    return TextField(max_length=max_length, **kwargs)


class StrictDecimalField(serializers.DecimalField):
    """Plain decimal notation only ("1500.00", 1500, 1500.5): no exponents, underscores, spaces, NaN or booleans."""

    PLAIN = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if not self.PLAIN.match(str(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class PrototypeFieldsMixin:
    """Fields built and bound once per class instead of DRF's deep copy and bind per serializer instance.

    DRF deep-copies every declared field for every instance (re-running each field's __init__) and binds
    each copy to it, so that one instance may alter its fields without touching the class. These
    serializers never alter their fields, and on the store API's hot path copying and binding were a
    sixth of a request's CPU, then (as shallow copies) still a third of rendering an order. So every
    instance shares one set of fields, bound to a template instance of the class. That is only sound
    while nothing a field or a `get_<field>` method does depends on the instance: no `self.context`
    (refused below), no nested serializer fields (refused when the fields are built).
    """

    def __init__(self, *args, **kwargs):
        if kwargs.get("context"):
            raise TypeError(f"{type(self).__name__} shares its fields between instances and takes no context.")
        super().__init__(*args, **kwargs)

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        bound = cls.__dict__.get("_bound_fields")
        if bound is None:
            template = object.__new__(cls)
            super(PrototypeFieldsMixin, template).__init__()
            bound = BindingDict(template)
            for name, field in template.get_fields().items():
                if isinstance(field, serializers.BaseSerializer):
                    raise TypeError(f"{cls.__name__}: PrototypeFieldsMixin is for flat serializers only.")
                bound[name] = field
            cls._bound_fields = bound
        return bound


class StrictInputSerializer(PrototypeFieldsMixin, serializers.Serializer):
    """Refuses fields it does not know (400), so a misspelt optional field is never silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


FIAT_CODE = RegexValidator(r"^[A-Z]{3}\Z", "Use the three-letter ISO 4217 code, e.g. THB.")
CRYPTO_CODE = RegexValidator(r"^[A-Z0-9]{2,10}\Z", "Use the ticker in capitals, e.g. USDT.")
METHOD_CODE = RegexValidator(r"^[a-z0-9_]{2,32}\Z", "A payment method code as listed by GET /api/v1/methods.")


class OrderRequestSerializer(StrictInputSerializer):
    """What a PayIn and a PayOut have in common; see the views for what differs."""

    amount_fiat = StrictDecimalField(
        max_digits=20, decimal_places=2, min_value=Decimal("0.01"), required=False,
        help_text="The amount in the store's fiat currency (e.g. \"1500.00\"). Give this or amount_crypto.")
    amount_crypto = StrictDecimalField(
        max_digits=20, decimal_places=8, min_value=Decimal("0.00000001"), required=False,
        help_text="The amount in the store's crypto currency (e.g. \"25.5\"). Give this or amount_fiat.")
    fiat_currency = TextField(
        max_length=3, required=False, validators=[FIAT_CODE],
        help_text="Optional check: must be the store's fiat currency.")
    crypto_currency = TextField(
        max_length=10, required=False, validators=[CRYPTO_CODE],
        help_text="Optional check: must be the store's crypto currency.")
    method = TextField(
        max_length=32, required=False, validators=[METHOD_CODE],
        help_text="Preferred payment method code, one GET /api/v1/methods lists (else 422 `method_not_served`).")
    bank = text(128, required=False, help_text="Preferred bank, by name as GET /api/v1/methods lists it (else 422 "
                                               "`bank_not_served`).")
    client_id = text(128, required=False, allow_null=True,
                     help_text="Your own order number, unique per store (a used one is 409 `duplicate_client_id` "
                               "naming the order that has it); filter the order list by it.")
    customer_id = text(128, required=False, allow_null=True,
                       help_text="Your customer's id (required when the store is set up to require it).")
    customer_ip = IPTextField(required=False, allow_null=True, help_text="Your customer's IP.")
    return_url = URLTextField(max_length=2000, required=False, allow_null=True,
                              help_text="Where the payment page sends the customer afterwards.")
    gateway_id = text(64, required=False, allow_null=True, help_text="Your gateway's id, if you run several.")

    def validate(self, attrs):
        if ("amount_fiat" in attrs) == ("amount_crypto" in attrs):
            raise serializers.ValidationError({"amount_fiat": ["Give exactly one of amount_fiat and amount_crypto."]})
        return attrs


class OrderSerializer(PrototypeFieldsMixin, serializers.Serializer):
    """An order as the store sees it. Select `payment_method`, `bank`, both currencies and `assigned_order`."""

    id = serializers.CharField(source="hash_id", help_text="The order's public id.")
    type = serializers.ChoiceField(source="order_type", choices=OrderType.choices)
    status = serializers.ChoiceField(
        source="store_status", choices=StoreStatus.choices,
        help_text="The order's lifecycle: new (waiting for a trader's requisite) → assigned (send the customer "
                  "to pay) → paid (the customer says they paid) → completed (your balance moved); or cancelled, "
                  "expired, failed, disputed. Callbacks carry the same value.")
    intake_status = serializers.ChoiceField(
        source="status", choices=IncomingOrder.Status.choices,
        help_text="Queue detail, for support only: new, processing, retrying (no free requisite yet, tried "
                  "again), assigned, failed (no requisite found in time), cancelled (before assignment). "
                  "Follow `status`.")
    amount_fiat = serializers.DecimalField(source="total_fiat", max_digits=20, decimal_places=2,
                                           help_text="Fiat amount of the order, fixed at intake.")
    amount_crypto = serializers.DecimalField(source="amount_currency", max_digits=20, decimal_places=8,
                                             help_text="Crypto amount of the order, fixed at intake.")
    fiat_currency = serializers.CharField(source="fiat_currency.code")
    crypto_currency = serializers.CharField(source="crypto_currency.code")
    exchange_rate = serializers.DecimalField(max_digits=20, decimal_places=8,
                                             help_text="Fiat per one crypto unit, fixed at intake.")
    store_commission = serializers.DecimalField(max_digits=20, decimal_places=8,
                                                help_text="Your commission in crypto, fixed at intake.")
    method = serializers.SerializerMethodField()
    bank = serializers.SerializerMethodField()
    client_id = serializers.CharField(allow_null=True)
    customer_id = serializers.CharField(allow_null=True)
    customer_requisite = serializers.SerializerMethodField(
        help_text="PayOut: the customer's number, masked to its last 4 characters.")
    return_url = serializers.CharField(allow_null=True)
    payment_url = serializers.SerializerMethodField(
        help_text="PayIn: send your customer here to pay. Null for PayOuts.")
    failure_reason = serializers.CharField(help_text="Why the order failed or was cancelled, if it did.")
    created = serializers.DateTimeField(source="created_at")
    updated = serializers.DateTimeField(source="updated_at")

    @extend_schema_field(OpenApiTypes.STR)
    def get_method(self, order: IncomingOrder) -> str | None:
        return order.payment_method.code if order.payment_method_id else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_bank(self, order: IncomingOrder) -> str | None:
        return order.bank.name if order.bank_id else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_customer_requisite(self, order: IncomingOrder) -> str | None:
        return mask(order.customer_requisite_last4) if order.customer_requisite_last4 else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_payment_url(self, order: IncomingOrder) -> str | None:
        if order.order_type != OrderType.PAY_IN:
            return None
        return payment_url(order.hash_id)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason, e.g. validation_error, amount_out_of_limits.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Problems per request field (may be empty).")
    order_id = serializers.CharField(
        required=False, help_text="Only with 409 `duplicate_client_id`: the `id` of your order that has this "
                                  "client_id already.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
