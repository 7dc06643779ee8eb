"""The staff dashboard on the admin index: what it shows, only the viewer's operators, and a number of
queries that does not grow with the data."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.callbacks.events import enqueue_order_event
from payments.models import CallbackEvent, OrderHistory
from payments.selectors.dashboard import operator_dashboard
from payments.services import execution
from tenancy.scoping import tenant_context

from .execution_support import held_order, make_world
from .factories import make_reference_data, make_staff, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


def add_business(refs, *, orders: int, server_url: str = "https://store.example/cb"):
    """`orders` PayIns in every state the dashboard counts: completed today, paid, disputed with an appeal,
    past their deadline; and a store whose callbacks are being retried."""
    store, _ = make_store(refs, callback_url=server_url)
    world = make_world(refs, trader_crypto="100000", store=store)
    made = []
    for n in range(orders):
        order = held_order(world)
        kind = n % 4
        if kind == 0:
            execution.confirm_order(order=order, actor=world.trader.user)
        elif kind == 1:
            execution.mark_paid(order=order)
        elif kind == 2:
            execution.open_appeal(order=order, opened_by_role="merchant", actor=store.merchant.user, reason="late")
        else:
            OrderHistory.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=3))
        enqueue_order_event(incoming_order=order.incoming_order, event_type="order.paid")
        made.append(order)
    CallbackEvent.objects.filter(store=store).update(attempts=2, last_error="HTTP 502")
    return made


def count_queries(action) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def test_the_dashboard_counts_what_needs_a_person(refs, tenant):
    add_business(refs, orders=8)

    board = operator_dashboard(tenant)

    counts = {value: now for value, _label, now, _today in board.by_status}
    assert counts["completed"] == 2 and counts["processing"] == 2 and counts["disputed"] == 2
    assert counts["pending"] == 2
    assert board.open_appeals == 2 and len(board.oldest_appeals) == 2
    assert len(board.attention) == 2 and all(order.overdue for order in board.attention)
    assert len(board.failing_stores) == 1
    assert board.failing_stores[0]["pending"] == CallbackEvent.objects.count() >= 8
    assert len(board.volume) == 1 and board.volume[0]["orders"] == 2


def test_the_dashboard_costs_the_same_queries_for_a_little_or_a_lot_of_data(refs, tenant,
                                                                          django_assert_num_queries):
    add_business(refs, orders=4)
    with django_assert_num_queries(10):
        operator_dashboard(tenant)
    add_business(refs, orders=40)
    with django_assert_num_queries(10):
        board = operator_dashboard(tenant)
    assert board.open_appeals == 11 and len(board.oldest_appeals) == 10


def test_the_admin_index_shows_the_dashboard_of_the_viewers_operators_only(client, refs, tenant, other_tenant):
    add_business(refs, orders=4)
    with tenant_context(other_tenant):
        other_refs = make_reference_data()
        other_store, _ = make_store(other_refs, store_name="Elsewhere Shop")
    viewer = make_staff(tenant, {"can_view_orders"})
    client.force_login(viewer)

    client.get(reverse("admin:index"))  # the first request stores the current operator in the session
    small = count_queries(lambda: client.get(reverse("admin:index")))
    add_business(refs, orders=24)
    page = client.get(reverse("admin:index"))
    large = count_queries(lambda: client.get(reverse("admin:index")))

    text = page.content.decode()
    assert page.status_code == 200
    assert "Orders by status" in text and "Disputes waiting" in text and "Failing callback endpoints" in text
    assert tenant.name in text and other_tenant.name not in text and "Elsewhere Shop" not in text
    assert "P2P Platform · back office" in text
    assert large == small


def test_staff_without_payments_flags_see_no_payments_dashboard(client, tenant):
    client.force_login(make_staff(tenant, {"can_manage_supports"}))

    page = client.get(reverse("admin:index"))

    assert page.status_code == 200 and "Orders by status" not in page.content.decode()
