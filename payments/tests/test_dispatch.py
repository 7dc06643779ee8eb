"""The two leases of a dispatched row (payments.services.dispatch): a worker's claim, a dropped hint given back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import IncomingOrder
from payments.services.assignment import Outcome, assign_incoming_order, claim_orders, sweep_due_orders
from payments.services.intake import create_incoming_order

from .api_support import fresh_rate
from .assignment_support import RATE, make_funded_requisite, make_open_order
from .factories import make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def store(refs):
    return make_store(refs)[0]


@pytest.fixture
def sent(monkeypatch):
    """Messages the sweeper sends, recorded instead of run."""
    from payments.tasks import assign_incoming_order_task

    messages = []
    monkeypatch.setattr(assign_incoming_order_task, "apply_async", lambda args, kwargs: messages.append(args[0]))
    return messages


def test_a_claimed_order_is_left_alone_until_its_claim_runs_out_then_sent_again(store, settings, sent):
    settings.ASSIGNMENT_CLAIM_LEASE_SECONDS = 5
    settings.ASSIGNMENT_DISPATCH_LEASE_SECONDS = 3600
    now = timezone.now()
    order = make_open_order(store, dispatched_at=now)  # its message is out

    claimed, until = claim_orders([order.pk], now=now)  # a worker took it ... and was killed

    assert claimed == [order.pk] and until == now + timedelta(seconds=5)
    order.refresh_from_db()
    assert order.dispatched_at is None and order.next_attempt_at == until
    assert sweep_due_orders(now=now + timedelta(seconds=4)) == 0  # the claim still holds
    assert sweep_due_orders(now=now + timedelta(seconds=6)) == 1  # seconds, not the hour of the dispatch lease
    assert sent == [order.pk]


def test_an_order_claimed_by_a_live_worker_is_not_claimed_again_and_a_stale_claim_loses_it(store, refs):
    make_funded_requisite(refs)
    now = timezone.now()
    order = make_open_order(store)
    first, first_until = claim_orders([order.pk], now=now)

    assert claim_orders([order.pk], now=now + timedelta(seconds=1))[0] == []  # a duplicate message: no-op
    second, second_until = claim_orders([order.pk], now=first_until + timedelta(seconds=1))  # ran out: taken over

    assert first == second == [order.pk]
    stale = assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id, claim=first_until)
    assert stale.outcome == Outcome.SKIPPED
    # the claim is in the future, so only its holder may attempt now
    assert assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id).outcome == Outcome.SKIPPED
    assert assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id,
                                 claim=second_until).outcome == Outcome.ASSIGNED


def test_a_dropped_intake_hint_gives_the_order_back_at_once(store, refs, monkeypatch,
                                                           django_capture_on_commit_callbacks):
    from payments.tasks import assign_incoming_order_task

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(assign_incoming_order_task, "apply_async", broker_down)
    fresh_rate(refs, RATE)

    with django_capture_on_commit_callbacks(execute=True):
        order = create_incoming_order(store=store, order_type="pay_in", amount_fiat=Decimal("1000.00"))

    order = IncomingOrder.objects.get(pk=order.pk)
    assert order.status == IncomingOrder.Status.NEW
    assert order.dispatched_at is None  # due for the next sweep, not after a lease
