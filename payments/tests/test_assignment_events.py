"""The assignment worker builds its callback bodies from the rows in hand: they must be what a fresh read
of the same rows gives (`order_event_data`), so a store sees the same body whichever path wrote it."""

from datetime import timedelta
from decimal import Decimal

import pytest

from payments.callbacks.bodies import order_event_data
from payments.models import CallbackEvent, OrderType
from payments.services.assignment import Outcome, assign_incoming_order

from .assignment_support import make_funded_requisite, make_open_order
from .factories import make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def store(refs):
    store = make_store(refs)[0]
    store.callback_url = "https://shop.example.com/hooks"
    store.save(update_fields=["callback_url"])
    return store


def events_of(order) -> list[CallbackEvent]:
    return list(CallbackEvent.objects.filter(incoming_order=order).order_by("created_at", "id"))


@pytest.mark.parametrize("order_type", [OrderType.PAY_IN, OrderType.PAY_OUT])
def test_created_and_assigned_bodies_match_a_fresh_read(refs, store, order_type):
    from payments.models import MovementKind
    from payments.services import ledger

    make_funded_requisite(refs)
    ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("500"),
                               kind=MovementKind.DEPOSIT)
    order = make_open_order(store, order_type=order_type, payment_method=None, bank=None, client_id="c-1")
    before = order_event_data(order, event_type="order.created")

    result = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)

    assert result.outcome == Outcome.ASSIGNED
    created, assigned = events_of(order)
    assert [created.event_type, assigned.event_type] == ["order.created", "order.assigned"]
    assert created.payload["data"] == before  # the order as it was when the worker claimed it
    after = order_event_data(order, event_type="order.assigned")
    assert assigned.payload["data"] == after
    assert after["status"] == "assigned" and after["intake_status"] == "assigned"
    assert (after["method"], after["bank"]) == (refs.card.code, refs.bank.name)  # the requisite's, chosen now
    assert (created.status, assigned.status) == ("pending", "pending")
    assert created.payload["id"] == str(created.event_id) and assigned.created_at >= created.created_at


def test_the_failed_body_of_the_last_attempt_matches_a_fresh_read(refs, store, settings):
    settings.ASSIGNMENT_MAX_ATTEMPTS = 1
    order = make_open_order(store)  # no requisite at all

    result = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)

    assert result.outcome == Outcome.FAILED
    created, failed = events_of(order)
    assert [created.event_type, failed.event_type] == ["order.created", "order.failed"]
    assert created.payload["data"]["status"] == "new"
    data = order_event_data(order, event_type="order.failed")
    assert failed.payload["data"] == data and data["failure_reason"].startswith("Not assigned after 1 attempts.")


def test_a_retry_writes_order_created_once(refs, store, settings):
    settings.ASSIGNMENT_RETRY_BASE_DELAY = timedelta(0)
    settings.ASSIGNMENT_RETRY_MAX_DELAY = timedelta(0)
    order = make_open_order(store)

    first = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)
    make_funded_requisite(refs)
    second = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)

    assert (first.outcome, second.outcome) == (Outcome.RETRYING, Outcome.ASSIGNED)
    assert [event.event_type for event in events_of(order)] == ["order.created", "order.assigned"]
    assert events_of(order)[1].payload["data"] == order_event_data(order, event_type="order.assigned")


def test_a_store_without_a_callback_url_gets_its_events_as_not_sent(refs, store):
    store.callback_url = ""
    store.save(update_fields=["callback_url"])
    make_funded_requisite(refs)
    order = make_open_order(store)

    assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)

    assert {(event.status, event.last_error) for event in events_of(order)} == {
        ("failed", "Not sent: the store has no callback URL.")}
