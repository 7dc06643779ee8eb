"""payments.api.serializers.PrototypeFieldsMixin: one set of fields per class, shared by every instance."""

from decimal import Decimal

import pytest
from rest_framework import serializers

from payments.api.serializers import OrderRequestSerializer, OrderSerializer, PrototypeFieldsMixin
from tenancy.scoping import tenant_context

from .factories import make_incoming_order, make_reference_data, make_store


def test_instances_share_the_fields_and_still_render_their_own_object(tenant):
    with tenant_context(tenant):
        store, _key = make_store(make_reference_data())
        small = make_incoming_order(store, total_fiat=Decimal("150.00"), client_id="small")
        large = make_incoming_order(store, total_fiat=Decimal("9000.00"), client_id="large")

        first, second = OrderSerializer(small), OrderSerializer(large)

        assert first.fields is second.fields
        assert (first.data["client_id"], first.data["amount_fiat"]) == ("small", "150.00")
        assert (second.data["client_id"], second.data["amount_fiat"]) == ("large", "9000.00")
        assert [row["id"] for row in OrderSerializer([small, large], many=True).data] == [small.hash_id,
                                                                                           large.hash_id]


def test_one_instances_errors_do_not_reach_another():
    refused = OrderRequestSerializer(data={"amount_fiat": "abc"})
    accepted = OrderRequestSerializer(data={"amount_fiat": "100.00", "client_id": "c-1"})

    assert not refused.is_valid() and "amount_fiat" in refused.errors
    assert accepted.is_valid(), accepted.errors
    assert accepted.validated_data == {"amount_fiat": Decimal("100.00"), "client_id": "c-1"}


def test_a_context_is_refused_since_the_fields_are_shared():
    with pytest.raises(TypeError, match="takes no context"):
        OrderSerializer(context={"request": object()})


def test_a_nested_serializer_field_is_refused():
    class Nested(PrototypeFieldsMixin, serializers.Serializer):
        inner = OrderRequestSerializer()

    with pytest.raises(TypeError, match="flat serializers only"):
        Nested().fields  # noqa: B018
