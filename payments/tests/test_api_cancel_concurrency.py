"""POST /api/v1/orders/<id>/cancel racing the assignment worker, on PostgreSQL with real threads.

A cancel sent right after create meets the worker assigning the order. It must wait for the worker
on the order's row lock and cancel the order as the worker left it (assigned and unpaid is
cancellable), or answer the retryable 409 `order_busy` — never `order_not_cancellable`, which
stores read as final and which is kept for paid, disputed and ended orders.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connections, transaction

from payments.models import BalanceTrader, IncomingOrder, OrderHistory
from payments.selectors.ledger import verify_tenant_ledger
from payments.services import orders as order_services
from payments.services.assignment import Outcome, assign_incoming_order
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .api_support import make_api_store
from .assignment_support import make_funded_requisite, make_open_order
from .concurrency_support import run_in_threads, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(transactional_db):
    api = make_api_store(Tenant.objects.create(name="Cancel Race"))
    with tenant_context(api.tenant):
        make_funded_requisite(api.refs, crypto=Decimal("100000"))
    return api


def _open_order(api) -> IncomingOrder:
    with tenant_context(api.tenant):
        return make_open_order(api.store)


def _cancel(api, order: IncomingOrder):
    return api.client().post(f"/api/v1/orders/{order.hash_id}/cancel")


def _assign_holding_the_row(order: IncomingOrder, assigned: threading.Event, hold_seconds: float):
    """The worker's assignment, its transaction kept open `hold_seconds` after the order is assigned in it."""

    def work():
        try:
            with tenant_context(order.tenant_id), transaction.atomic():
                result = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)
                assigned.set()
                threading.Event().wait(hold_seconds)
            return result
        finally:
            assigned.set()
            connections.close_all()

    return work


def _run(*jobs):
    return run_in_threads(jobs)


def _hold(api) -> Decimal:
    with tenant_context(api.tenant):
        return BalanceTrader.objects.get().crypto_hold


def test_a_cancel_that_meets_the_assignment_waits_for_it_and_cancels_the_assigned_order(api):
    # given a worker that has assigned the order in a transaction it has not committed yet
    order = _open_order(api)
    assigned = threading.Event()

    def cancel_once_assigned():
        assert assigned.wait(10)
        return _cancel(api, order)

    # when the store cancels meanwhile
    result, response = _run(_assign_holding_the_row(order, assigned, hold_seconds=0.5), cancel_once_assigned)

    # then the cancel waited for the worker and cancelled the assigned, unpaid order
    assert result.outcome == Outcome.ASSIGNED
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["intake_status"]) == ("cancelled", "assigned")
    with tenant_context(api.tenant):
        assert OrderHistory.objects.get(incoming_order=order).status == "cancelled"
        assert verify_tenant_ledger(api.tenant.pk).differences == []
    assert _hold(api) == 0  # the trader's hold was released


def test_a_cancel_that_waits_too_long_is_the_retryable_order_busy(api, monkeypatch):
    # given a worker holding the order's row longer than a cancel waits
    monkeypatch.setattr(order_services, "CANCEL_LOCK_WAIT_MS", 200)
    order = _open_order(api)
    assigned = threading.Event()

    def cancel_once_assigned():
        assert assigned.wait(10)
        return _cancel(api, order)

    # when the store cancels meanwhile
    result, response = _run(_assign_holding_the_row(order, assigned, hold_seconds=2), cancel_once_assigned)

    # then it is told to retry, and a retry cancels the order
    assert result.outcome == Outcome.ASSIGNED
    assert response.status_code == 409 and response.json()["error"]["code"] == "order_busy"
    retry = _cancel(api, order)
    assert retry.status_code == 200 and retry.json()["status"] == "cancelled"


def test_create_then_cancel_pairs_racing_the_worker_always_end_cancelled(api):
    # given 12 fresh orders, each raced by its assignment and the store's cancel, started together
    for _ in range(12):
        order = _open_order(api)

        # when both run at once
        result, response = run_together(api.tenant, [
            lambda order=order: assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id),
            lambda order=order: _cancel(api, order),
        ])

        # then the cancel succeeded (before or after the assignment) or asked for a retry; never refused
        assert not isinstance(result, Exception), result
        assert response.status_code in (200, 409), response.content
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "order_busy"
            response = _cancel(api, order)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        with tenant_context(api.tenant):
            order.refresh_from_db()
            execution = OrderHistory.objects.filter(incoming_order=order).first()
        assert order.status == "cancelled" if execution is None else execution.status == "cancelled"
    with tenant_context(api.tenant):
        assert verify_tenant_ledger(api.tenant.pk).differences == []
    assert _hold(api) == 0
