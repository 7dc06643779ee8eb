"""Assignment under real concurrency on PostgreSQL: several threads, each with its own connection.

Every order is handed to the workers more than once (duplicate deliveries), and
orders that find no room are retried at once (no delay) until they fail.

Each runs twice: alone, and beside 100 000 other requisites of the currency (`background`, written in
one INSERT, at a lower priority): the search walks the same index past them, and the rules must hold.
"""

import queue
import random
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import Count, Sum
from django.utils import timezone

from audit.models import AuditLog
from payments.errors import ConflictError
from payments.models import BalanceTrader, CallbackEvent, IncomingOrder, OrderHistory
from payments.services import execution
from payments.services import turnover as turnover_service
from payments.services.assignment import Outcome, assign_incoming_order
from payments.services.orders import cancel_incoming_order
from tenancy.scoping import tenant_context

from .assignment_support import add_requisites_in_bulk, make_funded_requisite, make_open_order
from .factories import make_reference_data, make_staff, make_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 4
BACKGROUND_PRIORITY = 9


@pytest.fixture(params=[0, 100_000], ids=["alone", "beside-100k"])
def background(request):
    """How many requisites of priority BACKGROUND_PRIORITY to add beside a test's own (call it in the tenant)."""
    return request.param


def add_background(refs, count: int) -> set[int]:
    """The background's trader ids (none when `count` is 0)."""
    if not count:
        return set()
    return {trader.pk for trader in add_requisites_in_bulk(refs, count, priority=BACKGROUND_PRIORITY)}


@pytest.fixture
def no_delay(settings):
    settings.ASSIGNMENT_RETRY_BASE_DELAY = timedelta(0)
    settings.ASSIGNMENT_RETRY_MAX_DELAY = timedelta(0)


def work_off(order_ids: list[int], tenant_id, *, copies: int = 2) -> Counter:
    """WORKERS threads take order ids from one queue (each id `copies` times) and assign them;
    an order left `retrying` goes back on the queue. Returns the outcomes."""
    todo: queue.Queue[int] = queue.Queue()
    for _ in range(copies):
        for order_id in order_ids:
            todo.put(order_id)
    outcomes: Counter = Counter()
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def worker():
        try:
            barrier.wait()
            while True:
                try:
                    order_id = todo.get_nowait()
                except queue.Empty:
                    return
                result = assign_incoming_order(order_id=order_id, tenant_id=tenant_id)
                outcomes[result.outcome] += 1
                if result.outcome == Outcome.RETRYING:
                    todo.put(order_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return outcomes


def assert_assigned_once(tenant) -> None:
    """One order_history row, one audit entry, one callback event and one hold per assigned order."""
    with tenant_context(tenant):
        assigned = IncomingOrder.objects.filter(status=IncomingOrder.Status.ASSIGNED)
        assert OrderHistory.objects.count() == assigned.count()
        assert set(OrderHistory.objects.values_list("incoming_order_id", flat=True)) == set(
            assigned.values_list("pk", flat=True))
        assert CallbackEvent.objects.filter(event_type="order.assigned").count() == assigned.count()
        for balance in BalanceTrader.objects.all():
            held = OrderHistory.objects.filter(trader_id=balance.trader_id).aggregate(s=Sum("amount_currency"))["s"]
            assert balance.crypto_hold == (held or 0)
        assigned_count = assigned.count()
    audited = AuditLog.objects.filter(action="order.assigned").values("target_id").annotate(n=Count("id"))
    assert {row["n"] for row in audited} <= {1}
    assert len(audited) == assigned_count


def assert_kept_turnover_is_exact() -> None:
    """Every requisite's kept turnover (payments.services.turnover) equals order_history's recomputation."""
    assert turnover_service.mismatches(today=turnover_service.utc_day(timezone.now())) == []


def test_tight_limits_are_never_exceeded_and_are_filled_exactly(tenant, settings, no_delay, background):
    # Orders of 1 000 THB against: two requisites of 3 000 a day (3 orders each), one of 2 000 over its
    # lifetime (2), one of 1 000 in any 30 minutes (1) — 9 fit, the other 7 of the 16 must fail (alone),
    # or go to the background's requisites, which come after these four (beside 100 000).
    settings.ASSIGNMENT_MAX_ATTEMPTS = 15
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        background_traders = add_background(refs, background)
        caps = {}
        for limits, cap in (({"turnover_day_max": Decimal("3000.00")}, "3000.00"),
                            ({"turnover_day_max": Decimal("3000.00")}, "3000.00"),
                            ({"total_limit": Decimal("2000.00")}, "2000.00"),
                            ({"turnover_day_max": Decimal("1000.00"), "turnover_limit_minutes": 30}, "1000.00")):
            caps[make_funded_requisite(refs, limits=limits).pk] = Decimal(cap)
        orders = [make_open_order(store, fiat=Decimal("1000.00")).pk for _ in range(16)]

    work_off(orders, tenant.pk, copies=2)

    with tenant_context(tenant):
        turnover = dict(OrderHistory.objects.exclude(trader_id__in=background_traders).values("requisite")
                        .annotate(s=Sum("total_fiat")).values_list("requisite", "s"))
        statuses = Counter(IncomingOrder.objects.values_list("status", flat=True))
        if background:
            # Never above a cap; an order finding the four full or busy went to the background.
            assert all(turnover.get(pk, 0) <= cap for pk, cap in caps.items()), (turnover, caps)
            assert statuses == {"assigned": 16}
            assert OrderHistory.objects.filter(trader_id__in=background_traders).count() == 16 - sum(
                cap for cap in turnover.values()) / 1000
        else:
            assert turnover == caps  # never above a cap, and every cap used up
            assert statuses == {"assigned": 9, "failed": 7}
            failed = IncomingOrder.objects.filter(status=IncomingOrder.Status.FAILED)
            assert all(order.failure_reason.startswith("Not assigned after 15 attempts.") for order in failed)
        assert_kept_turnover_is_exact()
    assert_assigned_once(tenant)


def test_round_robin_spreads_orders_evenly_within_a_priority(tenant, background):
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        first = [make_funded_requisite(refs, priority=5) for _ in range(WORKERS)]
        backup = [make_funded_requisite(refs, priority=9) for _ in range(2)]
        background_traders = add_background(refs, background)
        orders = [make_open_order(store, fiat=Decimal("200.00")).pk for _ in range(40)]

    outcomes = work_off(orders, tenant.pk, copies=2)

    assert outcomes[Outcome.ASSIGNED] == 40
    with tenant_context(tenant):
        per_requisite = Counter(OrderHistory.objects.values_list("requisite_id", flat=True))
    # A worker holds at most one requisite at a time, so one of the WORKERS priority-5 requisites is
    # always free for the others: priority 9 is never reached.
    assert not any(per_requisite[r.pk] for r in backup)
    with tenant_context(tenant):
        assert not OrderHistory.objects.filter(trader_id__in=background_traders).exists()
    shares = [per_requisite[r.pk] for r in first]
    # 10 each, give or take a lock held while another worker took its turn (a loaded machine: up to 2 each way)
    assert sum(shares) == 40 and max(shares) - min(shares) <= 4, shares
    assert_assigned_once(tenant)


def test_a_cancel_racing_the_assignment_leaves_one_consistent_outcome(tenant, no_delay, background):
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        for _ in range(3):
            make_funded_requisite(refs)
        add_background(refs, background)
        orders = [make_open_order(store, fiat=Decimal("300.00")) for _ in range(30)]
    refused: list[int] = []

    def cancel_all():
        with tenant_context(tenant):
            for order in orders:
                try:
                    cancel_incoming_order(order=order, reason="customer left")
                except ConflictError:
                    refused.append(order.pk)
        connections.close_all()

    canceller = threading.Thread(target=cancel_all)
    canceller.start()
    work_off([order.pk for order in orders], tenant.pk, copies=1)
    canceller.join()

    with tenant_context(tenant):
        assigned = set(OrderHistory.objects.values_list("incoming_order_id", flat=True))
        for order in IncomingOrder.objects.all():
            assert order.status in ("assigned", "cancelled")
            assert (order.status == "assigned") == (order.pk in assigned) == (order.pk in refused)
    assert_assigned_once(tenant)


def test_the_kept_turnover_is_exact_after_a_mixed_run(tenant, no_delay, background):
    # Workers assign while another thread cancels, confirms (at the amount or another), expires and
    # completes late the orders they assign: every change of what counts races the assignments.
    with tenant_context(tenant):
        refs = make_reference_data()
        store = make_store(refs)[0]
        for limits in ({"turnover_day_max": Decimal("6000.00")}, {"total_limit": Decimal("7000.00")},
                       {"turnover_day_max": Decimal("5000.00"), "turnover_limit_minutes": 30}, {}, {}):
            make_funded_requisite(refs, limits=limits)
        add_background(refs, background)
        staff = make_staff(tenant, {"can_manage_orders"})
        rng = random.Random(21)
        orders = [make_open_order(store, fiat=Decimal(rng.randrange(200, 1500))).pk for _ in range(60)]
    done = threading.Event()
    churned: Counter = Counter()
    errors: list[BaseException] = []

    def churn():
        step = 0
        try:
            with tenant_context(tenant):
                while not done.is_set() or OrderHistory.objects.filter(status="pending").exists():
                    order = OrderHistory.objects.filter(status__in=["pending", "expired"]).order_by("?").first()
                    if order is None:
                        done.wait(0.01)  # the workers have not assigned the next one yet
                        continue
                    step += 1
                    try:
                        if order.status == "expired":
                            execution.set_order_status_by_staff(order=order, status="completed", actor=staff,
                                                                reason="paid late", confirmed_fiat=order.total_fiat)
                            churned["late"] += 1
                        elif step % 4 == 0:
                            execution.cancel_order(order=order)
                            churned["cancelled"] += 1
                        elif step % 4 == 1:
                            execution.confirm_order(order=order, actor=order.trader.user,
                                                    confirmed_fiat=order.total_fiat - Decimal("50.00"))
                            churned["confirmed"] += 1
                        elif step % 4 == 2:
                            OrderHistory.objects.filter(pk=order.pk).update(
                                expires_at=timezone.now() - timedelta(seconds=1))
                            churned["expired"] += execution.expire_due_orders()
                        else:
                            continue  # left pending
                    except ConflictError:
                        pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        work_off(orders, tenant.pk, copies=1)
    finally:
        done.set()
        churner.join()
    assert not errors, errors

    assert churned["cancelled"] and churned["confirmed"] and churned["expired"] and churned["late"], churned
    with tenant_context(tenant):
        assert_kept_turnover_is_exact()
