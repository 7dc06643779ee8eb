"""`order.created` (written off the intake path, exactly once) and the cancel events, against a real receiver.

Intake writes no event: the first transaction that holds the order's row lock
does — the assignment worker claiming it, or the store cancelling it first —
ahead of the assigned / failed / cancelled event of the same transaction.
"""

import json
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from payments.errors import ConflictError
from payments.models import CallbackEvent, IncomingOrder, OrderType
from payments.services.assignment import Outcome, assign_incoming_order
from payments.services.intake import cancel_store_order
from payments.services.orders import cancel_incoming_order
from tenancy.scoping import tenant_context

from .api_support import PAYIN, make_api_store
from .assignment_support import make_funded_requisite, make_open_order
from .factories import make_reference_data, make_store


@pytest.fixture
def store(refs, server):
    store, _ = make_store(refs, callback_url=server.url)
    server.secret = store.secret_key
    return store


def assign(order: IncomingOrder):
    return assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)


def make_due(order: IncomingOrder) -> None:
    IncomingOrder.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now())


def event_types(order: IncomingOrder) -> list[str]:
    """The order's events in the order a store must see them (created_at, then id)."""
    return list(CallbackEvent.objects.filter(incoming_order=order).order_by("created_at", "id")
                .values_list("event_type", flat=True))


def received(server) -> list[tuple[str, str, str]]:
    """(type, order id, intake status in data) of every request the receiver got, verified ones only."""
    bodies = [json.loads(request.body) for request in server.requests if request.verified]
    return [(body["type"], body["data"]["id"], body["data"]["status"]) for body in bodies]


# --- the worker's first claim -------------------------------------------------------------------------------

@pytest.mark.usefixtures("in_tenant")
def test_the_first_claim_sends_created_then_assigned(refs, store, server, django_capture_on_commit_callbacks):
    make_funded_requisite(refs)
    order = make_open_order(store)

    with django_capture_on_commit_callbacks(execute=True):
        assert assign(order).outcome == Outcome.ASSIGNED
    with django_capture_on_commit_callbacks(execute=True):
        assert assign(order).outcome == Outcome.SKIPPED  # a duplicate message: nothing new

    assert event_types(order) == ["order.created", "order.assigned"]
    assert received(server) == [("order.created", order.hash_id, "new"), ("order.assigned", order.hash_id, "assigned")]
    created = CallbackEvent.objects.get(incoming_order=order, event_type="order.created")
    assert created.status == "delivered"
    assert created.payload["data"]["requested"] == {"amount_fiat": "1000.00", "amount_crypto": "25.00000000"}


@pytest.mark.usefixtures("in_tenant")
def test_an_order_retried_until_it_fails_is_created_once_then_failed(store, server, settings,
                                                                     django_capture_on_commit_callbacks):
    settings.ASSIGNMENT_MAX_ATTEMPTS = 3
    order = make_open_order(store)  # no requisite at all: every attempt fails

    for expected in (Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED):
        with django_capture_on_commit_callbacks(execute=True):
            assert assign(order).outcome == expected
        make_due(order)

    assert event_types(order) == ["order.created", "order.failed"]
    assert [kind for kind, *_ in received(server)] == ["order.created", "order.failed"]


@pytest.mark.usefixtures("in_tenant")
def test_an_attempt_that_rolls_back_still_announces_the_order_once(refs, store, server,
                                                                   django_capture_on_commit_callbacks):
    make_funded_requisite(refs)
    order = make_open_order(store, order_type=OrderType.PAY_OUT)  # the store cannot cover it: rolled back

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert assign(order).outcome == Outcome.RETRYING
        make_due(order)

    assert event_types(order) == ["order.created"]
    assert received(server) == [("order.created", order.hash_id, "new")]


# --- cancelling -------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("in_tenant")
def test_cancelling_a_never_claimed_order_sends_created_then_cancelled(store, server,
                                                                      django_capture_on_commit_callbacks):
    order = make_open_order(store)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_incoming_order(order=order, reason="customer left")

    assert event_types(order) == ["order.created", "order.cancelled"]
    assert received(server) == [("order.created", order.hash_id, "new"),
                                ("order.cancelled", order.hash_id, "cancelled")]


@pytest.mark.usefixtures("in_tenant")
def test_cancelling_after_a_claim_adds_only_cancelled(store, server, django_capture_on_commit_callbacks):
    order = make_open_order(store)
    with django_capture_on_commit_callbacks(execute=True):
        assert assign(order).outcome == Outcome.RETRYING
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        cancel_incoming_order(order=order)

    assert event_types(order) == ["order.created", "order.cancelled"]
    assert [kind for kind, *_ in received(server)] == ["order.created", "order.cancelled"]


@pytest.mark.usefixtures("in_tenant")
def test_a_refused_cancel_writes_no_event(refs, store, server, django_capture_on_commit_callbacks):
    order = make_open_order(store, status=IncomingOrder.Status.PROCESSING)

    with pytest.raises(ConflictError), django_capture_on_commit_callbacks(execute=True):
        cancel_incoming_order(order=order)

    assert event_types(order) == [] and server.requests == []


@pytest.mark.usefixtures("in_tenant")
def test_the_store_cancelling_a_failed_order_gets_order_cancelled(store, server, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.ASSIGNMENT_MAX_ATTEMPTS = 1
    order = make_open_order(store)
    with django_capture_on_commit_callbacks(execute=True):
        assert assign(order).outcome == Outcome.FAILED
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = cancel_store_order(store=store, order=order)

    assert cancelled.status == IncomingOrder.Status.CANCELLED
    assert event_types(order) == ["order.created", "order.failed", "order.cancelled"]
    assert received(server)[-1] == ("order.cancelled", order.hash_id, "cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        cancel_store_order(store=store, order=cancelled)  # a retried cancel answers as it is
    assert event_types(order).count("order.cancelled") == 1


# --- through the store API ----------------------------------------------------------------------------------

@pytest.fixture
def api(tenant, server):
    """A store API client whose store's callbacks go to `server`."""
    api = make_api_store(tenant, callback_url=server.url)
    server.secret = api.store.secret_key
    return api


def test_an_order_accepted_by_the_store_api_is_announced_by_the_worker_not_by_intake(
        tenant, api, server, django_capture_on_commit_callbacks):
    with tenant_context(tenant):
        make_funded_requisite(api.refs)

    with django_capture_on_commit_callbacks(execute=False) as after_intake:
        response = api.client().post("/api/v1/payins", PAYIN, format="json")
    assert response.status_code == 201
    with tenant_context(tenant):
        assert not CallbackEvent.objects.exists()  # the request wrote the order and nothing else
    with django_capture_on_commit_callbacks(execute=True):
        for callback in after_intake:
            callback()  # the assignment message, taken by the (in-process) worker

    hash_id = response.json()["id"]
    assert received(server) == [("order.created", hash_id, "new"), ("order.assigned", hash_id, "assigned")]


def test_the_store_api_cancel_of_a_never_claimed_order_sends_created_then_cancelled(
        tenant, api, server, django_capture_on_commit_callbacks):
    with tenant_context(tenant):
        order = make_open_order(api.store)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.client().post(f"/api/v1/orders/{order.hash_id}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert received(server) == [("order.created", order.hash_id, "new"),
                                ("order.cancelled", order.hash_id, "cancelled")]


# --- races (PostgreSQL: each thread its own connection) ---------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_and_a_cancel_racing_write_one_created_per_order_and_always_first(tenant):
    """Two messages per order and a cancel for each, all at once: every order ends with exactly one
    order.created, first among its events, and one final event (assigned or cancelled)."""
    with tenant_context(tenant):
        refs = make_reference_data()
        store, _ = make_store(refs)  # no callback URL: events are recorded, not sent
        for _ in range(3):
            make_funded_requisite(refs)
        orders = [make_open_order(store, fiat=Decimal("300.00")) for _ in range(20)]
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run(action):
        try:
            with tenant_context(tenant):
                start.wait()
                for order in orders:
                    try:
                        action(order)
                    except ConflictError:
                        pass  # assigned first: the cancel is refused
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(assign,)), threading.Thread(target=run, args=(assign,)),
               threading.Thread(target=run, args=(lambda order: cancel_incoming_order(order=order),))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with tenant_context(tenant):
        for order in IncomingOrder.objects.all():
            types = event_types(order)
            assert types[0] == "order.created", types
            assert Counter(types)["order.created"] == 1, types
            final = {"assigned": "order.assigned", "cancelled": "order.cancelled"}[order.status]
            assert types.count(final) == 1 and len(types) == 2, types
