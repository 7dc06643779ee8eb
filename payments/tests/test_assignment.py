"""Assignment of incoming orders (stage 2): the candidate search, limits, retries, the sweeper.

These run on SQLite and PostgreSQL; the races are in test_assignment_concurrency.py
and the crashed worker and the Redis outage in test_assignment_faults.py.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from audit.models import AuditLog
from payments.models import (
    BalanceStore,
    BalanceTrader,
    CallbackEvent,
    IncomingOrder,
    MovementKind,
    OrderHistory,
    OrderType,
    ReqTrader,
    RequisiteTurnover,
)
from payments.services import assignment, execution, ledger, order_state, traders, turnover
from payments.services.assignment import Outcome, assign_incoming_order, sweep_due_orders
from payments.services.orders import cancel_incoming_order

from .assignment_support import make_funded_requisite, make_open_order, set_limits
from .factories import make_assigned_order, make_staff, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def store(refs):
    return make_store(refs)[0]


def assign(order: IncomingOrder):
    return assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)


def test_a_payin_is_assigned_with_its_order_hold_audit_and_callback_event(refs, store):
    requisite = make_funded_requisite(refs, crypto=Decimal("100"))
    order = make_open_order(store, fiat=Decimal("1000.00"), client_id="c-7")

    result = assign(order)

    assert result.outcome == Outcome.ASSIGNED
    placed = OrderHistory.objects.get(incoming_order=order)
    assert result.order.pk == placed.pk
    assert (placed.requisite_id, placed.trader_id) == (requisite.pk, requisite.trader_id)
    assert placed.hash_id == order.hash_id and placed.client_id == "c-7"
    assert (placed.method_id, placed.bank_id, placed.fiat_id) == (refs.card.pk, refs.bank.pk, refs.thb.pk)
    assert placed.status == OrderHistory.Status.PENDING
    assert placed.amount_currency == Decimal("25.00000000") and placed.total_fiat == Decimal("1000.00")
    assert placed.trader_commission == Decimal("0.37500000")  # 1.5 % of 25 USDT
    assert placed.store_commission == order.store_commission
    assert placed.expires_at == placed.created_at + timedelta(minutes=30)
    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.ASSIGNED
    assert (order.payment_method_id, order.bank_id) == (refs.card.pk, refs.bank.pk)
    assert order.retry_count == 0 and order.failure_reason == "" and order.next_attempt_at is None
    assert ReqTrader.objects.get(pk=requisite.pk).last_used_at == placed.created_at
    balance = BalanceTrader.objects.get(trader=requisite.trader)
    assert (balance.crypto_balance, balance.crypto_hold) == (Decimal("100"), Decimal("25"))
    assert placed.hold_amount == Decimal("25")
    entry = AuditLog.objects.get(action="order.assigned")
    assert entry.target_id == str(order.pk)
    assert entry.details["changes"]["status"] == {"old": "new", "new": "assigned"}
    assert entry.details["requisite"] == requisite.pk
    assert CallbackEvent.objects.filter(incoming_order=order, event_type="order.assigned").count() == 1


def test_a_payout_holds_the_stores_crypto_and_uses_the_payout_commission(refs, store):
    make_funded_requisite(refs, crypto=Decimal("0"))
    ledger.post_store_movement(store=store, crypto_currency=refs.usdt, amount=Decimal("100"),
                               kind=MovementKind.DEPOSIT)
    order = make_open_order(store, fiat=Decimal("400.00"), order_type=OrderType.PAY_OUT)

    result = assign(order)

    assert result.outcome == Outcome.ASSIGNED
    assert result.order.trader_commission == Decimal("0.10000000")  # 1 % of 10 USDT
    held = BalanceStore.objects.get(store=store).hold
    assert held == order.amount_currency + order.store_commission


def test_a_payout_the_store_cannot_cover_writes_nothing_but_the_failed_attempt(refs, store):
    requisite = make_funded_requisite(refs)
    order = make_open_order(store, order_type=OrderType.PAY_OUT)

    result = assign(order)

    assert result.outcome == Outcome.RETRYING
    assert "hold could not be placed" in result.reason
    assert not OrderHistory.objects.exists()
    assert ReqTrader.objects.get(pk=requisite.pk).last_used_at is None
    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.RETRYING and order.retry_count == 1


def _blocked_user(requisite):
    User.objects.filter(pk=requisite.trader.user_id).update(status=User.Status.BLOCKED)


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda r, refs: ReqTrader.objects.filter(pk=r.pk).update(fiat=refs.rub), id="other fiat"),
    pytest.param(lambda r, refs: ReqTrader.objects.filter(pk=r.pk).update(status="paused"), id="not approved"),
    pytest.param(lambda r, refs: ReqTrader.objects.filter(pk=r.pk).update(is_excluded_from_distribution=True),
                 id="excluded"),
    pytest.param(lambda r, refs: type(r.trader).objects.filter(pk=r.trader_id).update(in_work=False),
                 id="trader not in work"),
    pytest.param(lambda r, refs: type(r.trader).objects.filter(pk=r.trader_id).update(pay_in=False),
                 id="trader takes no payins"),
    pytest.param(lambda r, refs: set_limits(r, pay_in=False), id="requisite takes no payins"),
    pytest.param(lambda r, refs: _blocked_user(r), id="user blocked"),
    pytest.param(lambda r, refs: set_limits(r, lower_limit=Decimal("1000.01")), id="below lower limit"),
    pytest.param(lambda r, refs: set_limits(r, upper_limit=Decimal("999.99")), id="above upper limit"),
    pytest.param(lambda r, refs: BalanceTrader.objects.filter(trader=r.trader).update(crypto_hold=Decimal("975.01")),
                 id="trader balance cannot cover"),
])
def test_a_requisite_that_does_not_fit_is_never_picked(refs, store, spoil):
    requisite = make_funded_requisite(refs)
    spoil(requisite, refs)
    order = make_open_order(store, fiat=Decimal("1000.00"))

    result = assign(order)

    assert result.outcome == Outcome.RETRYING
    assert result.reason == assignment.NO_CANDIDATE
    assert not OrderHistory.objects.exists()


def test_the_stores_method_and_bank_preference_is_honoured(refs, store):
    make_funded_requisite(refs, method=refs.card, bank=refs.bank)
    wanted = make_funded_requisite(refs, method=refs.promptpay, bank=refs.bank2)
    order = make_open_order(store, payment_method=refs.promptpay, bank=refs.bank2)

    assert assign(order).order.requisite_id == wanted.pk


def test_lower_priority_number_first_then_least_recently_used_first(refs, store):
    now = timezone.now()
    second = make_funded_requisite(refs, priority=1)
    first = make_funded_requisite(refs, priority=1)
    later = make_funded_requisite(refs, priority=5)
    ReqTrader.objects.filter(pk=second.pk).update(last_used_at=now - timedelta(minutes=1))

    picks = [assign(make_open_order(store)).order.requisite_id for _ in range(5)]

    # never used (NULLS FIRST), then round-robin within priority 1; priority 5 waits
    assert picks == [first.pk, second.pk, first.pk, second.pk, first.pk]
    assert later.pk not in picks


def test_round_robin_gives_each_requisite_of_a_priority_its_turn(refs, store):
    requisites = [make_funded_requisite(refs) for _ in range(3)]

    picks = [assign(make_open_order(store, fiat=Decimal("100.00"))).order.requisite_id for _ in range(9)]

    assert picks[:3] == picks[3:6] == picks[6:]
    assert sorted(picks[:3]) == sorted(r.pk for r in requisites)


def test_the_day_limit_counts_todays_orders_and_this_one(refs, store):
    full = make_funded_requisite(refs, priority=1, limits={"turnover_day_max": Decimal("2500.00")})
    spare = make_funded_requisite(refs, priority=5)
    make_assigned_order(store, full, total_fiat=Decimal("1000.00"))
    make_assigned_order(store, full, total_fiat=Decimal("900.00"), status=OrderHistory.Status.CANCELLED)
    yesterday = timezone.now() - timedelta(days=1, minutes=1)
    make_assigned_order(store, full, total_fiat=Decimal("5000.00"), created_at=yesterday)

    fits = assign(make_open_order(store, fiat=Decimal("1500.00")))
    too_much = assign(make_open_order(store, fiat=Decimal("100.00")))

    assert fits.order.requisite_id == full.pk  # 1000 today (the cancelled and yesterday's do not count) + 1500
    assert too_much.order.requisite_id == spare.pk


def test_the_total_limit_counts_every_day_and_a_confirmed_amount(refs, store):
    full = make_funded_requisite(refs, priority=1, limits={"total_limit": Decimal("3000.00")})
    spare = make_funded_requisite(refs, priority=5)
    long_ago = timezone.now() - timedelta(days=40)
    make_assigned_order(store, full, total_fiat=Decimal("1000.00"), confirmed_fiat=Decimal("2000.00"),
                        status=OrderHistory.Status.COMPLETED, created_at=long_ago)

    assert assign(make_open_order(store, fiat=Decimal("1000.00"))).order.requisite_id == full.pk
    assert assign(make_open_order(store, fiat=Decimal("100.00"))).order.requisite_id == spare.pk


def test_a_requisite_whose_window_is_full_is_passed_over_after_the_lock(refs, store):
    # A two-day window holds yesterday's order, which the day total no longer sees: the search lets the
    # requisite through, the check under its lock refuses it, and the next candidate takes the order.
    windowed = make_funded_requisite(refs, priority=1, limits={"turnover_day_max": Decimal("1500.00"),
                                                              "turnover_limit_minutes": 2880})
    spare = make_funded_requisite(refs, priority=5)
    make_assigned_order(store, windowed, total_fiat=Decimal("1000.00"),
                        created_at=timezone.now() - timedelta(days=1, minutes=1))

    result = assign(make_open_order(store, fiat=Decimal("1000.00")))

    assert result.order.requisite_id == spare.pk
    assert assign(make_open_order(store, fiat=Decimal("500.00"))).order.requisite_id == windowed.pk


def test_a_full_requisite_goes_to_the_back_of_its_round(refs, store, settings):
    settings.ASSIGNMENT_MAX_CANDIDATES = 1
    now = timezone.now()
    full, second, third = (make_funded_requisite(refs) for _ in range(3))
    set_limits(full, turnover_day_max=Decimal("500.00"))
    for hours, requisite in ((3, full), (2, second), (1, third)):
        ReqTrader.objects.filter(pk=requisite.pk).update(last_used_at=now - timedelta(hours=hours))

    refused = assign(make_open_order(store))
    then = [assign(make_open_order(store)).order.requisite_id for _ in range(2)]

    assert refused.outcome == Outcome.RETRYING and "daily turnover" in refused.reason
    assert then == [second.pk, third.pk]  # not `full` again and again


def test_only_a_bounded_number_of_candidates_is_tried_per_attempt(refs, store, settings):
    settings.ASSIGNMENT_MAX_CANDIDATES = 2
    yesterday = timezone.now() - timedelta(days=1, minutes=1)
    for priority in (1, 2):
        windowed = make_funded_requisite(refs, priority=priority, limits={"turnover_day_max": Decimal("1000.00"),
                                                                         "turnover_limit_minutes": 2880})
        make_assigned_order(store, windowed, total_fiat=Decimal("1000.00"), created_at=yesterday)
    make_funded_requisite(refs, priority=3)

    result = assign(make_open_order(store))

    assert result.outcome == Outcome.RETRYING
    assert "turnover of the last 2880 minutes" in result.reason


def test_a_failed_attempt_waits_a_growing_delay_and_the_last_one_fails_the_order(refs, store, settings):
    settings.ASSIGNMENT_MAX_ATTEMPTS = 3
    order = make_open_order(store)

    first = assign(order)
    order.refresh_from_db()
    assert first.outcome == Outcome.RETRYING
    assert order.status == IncomingOrder.Status.RETRYING and order.retry_count == 1
    assert order.failure_reason == assignment.NO_CANDIDATE
    assert order.last_attempt_at <= timezone.now() < order.next_attempt_at
    assert assign(order).outcome == Outcome.SKIPPED  # not due yet: nothing changes
    order.refresh_from_db()
    assert order.retry_count == 1

    for expected in (2, 3):
        IncomingOrder.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now())
        result = assign(order)
        order.refresh_from_db()
        assert order.retry_count == expected

    assert result.outcome == Outcome.FAILED
    assert order.status == IncomingOrder.Status.FAILED and order.next_attempt_at is None
    assert order.failure_reason.startswith("Not assigned after 3 attempts.")
    assert CallbackEvent.objects.filter(incoming_order=order, event_type="order.failed").count() == 1
    actions = list(AuditLog.objects.filter(target_entity="incoming_orders", target_id=str(order.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["order.assignment_retrying", "order.assignment_failed"]


def test_the_retry_delay_doubles_with_jitter_up_to_the_cap(settings):
    settings.ASSIGNMENT_RETRY_BASE_DELAY = timedelta(seconds=10)
    settings.ASSIGNMENT_RETRY_MAX_DELAY = timedelta(seconds=100)

    for _ in range(50):
        delays = [assignment.retry_delay(n).total_seconds() for n in range(1, 7)]
        assert [5 <= delays[0] <= 10, 10 <= delays[1] <= 20, 20 <= delays[2] <= 40, 40 <= delays[3] <= 80] == [True] * 4
        assert delays[:4] == sorted(delays[:4])
        assert all(50 <= d <= 100 for d in delays[4:])
    assert len({assignment.retry_delay(3) for _ in range(20)}) > 1  # jittered


def test_an_order_that_is_no_longer_open_is_left_alone(refs, store):
    make_funded_requisite(refs)
    order = make_open_order(store)
    assert assign(order).outcome == Outcome.ASSIGNED
    cancelled = make_open_order(store, status=IncomingOrder.Status.CANCELLED)

    again = assign(order)
    on_cancelled = assign(cancelled)

    assert again.outcome == on_cancelled.outcome == Outcome.SKIPPED
    assert OrderHistory.objects.count() == 1
    assert CallbackEvent.objects.filter(event_type="order.assigned").count() == 1


def test_an_unexpected_error_rolls_back_counts_the_attempt_and_is_raised(refs, store, monkeypatch):
    requisite = make_funded_requisite(refs)
    order = make_open_order(store)

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(assignment, "write_order_events", broken)
    with pytest.raises(RuntimeError):
        assign(order)

    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.RETRYING and order.retry_count == 1
    assert order.failure_reason == "Internal error while assigning (RuntimeError)."
    assert not OrderHistory.objects.exists()
    assert ReqTrader.objects.get(pk=requisite.pk).last_used_at is None
    assert BalanceTrader.objects.get(trader=requisite.trader).crypto_hold == 0


# --- the sweeper -------------------------------------------------------------------------------------

@pytest.fixture
def sent(monkeypatch):
    """Messages the sweeper sends, recorded instead of queued (the real broker is in the fault tests)."""
    from payments.tasks import assign_incoming_order_task

    messages = []
    monkeypatch.setattr(assign_incoming_order_task, "apply_async",
                        lambda args, kwargs: messages.append((args[0], kwargs["tenant_id"])))
    return messages


def test_the_sweeper_sends_lost_and_due_orders_once_and_leaves_the_rest(refs, store, settings, sent, tenant):
    settings.ASSIGNMENT_DISPATCH_LEASE_SECONDS = 60
    now = timezone.now()
    old = now - timedelta(minutes=5)
    lost = make_open_order(store, created_at=old)
    due = make_open_order(store, status="retrying", next_attempt_at=now - timedelta(seconds=1), created_at=old)
    make_open_order(store, dispatched_at=now)  # just accepted: its message is on the way
    make_open_order(store, status="retrying", next_attempt_at=now + timedelta(hours=1), created_at=old)
    make_open_order(store, status="assigned", created_at=old)
    make_open_order(store, status="cancelled", created_at=old)
    make_open_order(store, created_at=old, dispatched_at=now - timedelta(seconds=10))  # sent recently

    assert sweep_due_orders(now=now) == 2
    assert sorted(sent) == sorted([(lost.pk, str(tenant.pk)), (due.pk, str(tenant.pk))])
    assert IncomingOrder.objects.get(pk=lost.pk).dispatched_at == now
    assert sweep_due_orders(now=now + timedelta(seconds=30)) == 0  # every message still owns its order
    sent.clear()

    assert sweep_due_orders(now=now + timedelta(seconds=61)) == 4  # the leases have run out
    assert {lost.pk, due.pk} < {order_id for order_id, _ in sent}


def test_the_sweeper_keeps_each_tenant_in_its_own_scope(refs, store, other_tenant, sent):
    from tenancy.scoping import tenant_context

    from .factories import make_reference_data

    old = timezone.now() - timedelta(minutes=5)
    mine = make_open_order(store, created_at=old)
    with tenant_context(other_tenant):
        other_store = make_store(make_reference_data())[0]
        theirs = make_open_order(other_store, created_at=old)

    assert sweep_due_orders() == 2
    assert sorted(sent) == sorted([(mine.pk, str(mine.tenant_id)), (theirs.pk, str(other_tenant.pk))])


def test_a_broker_that_refuses_leaves_the_orders_for_a_later_sweep(refs, store, monkeypatch, settings):
    from payments.tasks import assign_incoming_order_task

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(assign_incoming_order_task, "apply_async", broker_down)
    now = timezone.now()
    order = make_open_order(store, created_at=now - timedelta(minutes=5))

    assert sweep_due_orders(now=now) == 1  # marked sent; its message is dropped (core.messaging.hints)
    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.NEW
    assert order.dispatched_at is None  # given back at once: no lease to wait out
    assert sweep_due_orders(now=now + timedelta(seconds=2)) == 1  # the next sweep tries again


def test_a_swept_order_is_assigned_by_the_task(refs, store):
    make_funded_requisite(refs)
    order = make_open_order(store, created_at=timezone.now() - timedelta(minutes=5))

    assert sweep_due_orders() == 1  # tasks run in-process in tests

    order.refresh_from_db()
    assert order.status == IncomingOrder.Status.ASSIGNED and order.dispatched_at is None


def test_the_batch_task_assigns_each_order_and_an_unknown_id_does_not_stop_the_rest(refs, store):
    """intake's coalesced hints (core.messaging.hints): each order of the batch gets its own assignment."""
    from payments.tasks import assign_incoming_orders_task

    make_funded_requisite(refs, crypto=Decimal("1000"))
    orders = [make_open_order(store) for _ in range(3)]

    assign_incoming_orders_task.apply(args=[[orders[0].pk, 999_999, orders[1].pk, orders[2].pk]],
                                      kwargs={"tenant_id": str(store.tenant_id)}).get()

    assert set(IncomingOrder.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {
        IncomingOrder.Status.ASSIGNED}


# --- the kept turnover (payments.services.turnover) and the priority on the requisite -------------------

def kept(requisite) -> RequisiteTurnover:
    return RequisiteTurnover.objects.get(requisite=requisite)


def test_the_kept_turnover_follows_assignment_cancel_expiry_and_a_confirmed_amount(refs, store, tenant):
    requisite = make_funded_requisite(refs)
    orders = [assign(make_open_order(store, fiat=Decimal(fiat))).order for fiat in ("1000.00", "700.00", "300.00")]
    assert (kept(requisite).total, kept(requisite).day_total) == (Decimal("2000.00"), Decimal("2000.00"))
    assert kept(requisite).day == timezone.now().astimezone(UTC).date()

    execution.cancel_order(order=orders[0])
    execution.confirm_order(order=orders[1], actor=requisite.trader.user, confirmed_fiat=Decimal("650.00"))
    OrderHistory.objects.filter(pk=orders[2].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert execution.expire_due_orders() == 1

    assert (kept(requisite).total, kept(requisite).day_total) == (Decimal("650.00"), Decimal("650.00"))
    staff = make_staff(tenant, {"can_manage_orders"})
    execution.set_order_status_by_staff(order=orders[2], status=OrderHistory.Status.COMPLETED, actor=staff,
                                        reason="paid late", confirmed_fiat=Decimal("310.00"))
    assert (kept(requisite).total, kept(requisite).day_total) == (Decimal("960.00"), Decimal("960.00"))
    assert turnover.mismatches(today=turnover.utc_day(timezone.now())) == []
    assert order_state.mismatches() == []  # the merchant's state followed every change too


def test_the_day_rolls_over_at_midnight_utc_and_a_change_to_yesterdays_order_moves_only_the_total(
        refs, store, monkeypatch):
    requisite = make_funded_requisite(refs, priority=1, limits={"turnover_day_max": Decimal("1500.00")})
    spare = make_funded_requisite(refs, priority=5)
    today = timezone.now().astimezone(UTC).date()
    late_yesterday = datetime.combine(today, time.min, tzinfo=UTC) - timedelta(seconds=30)
    monkeypatch.setattr(assignment.timezone, "now", lambda: late_yesterday)
    yesterdays = assign(make_open_order(store, fiat=Decimal("1000.00"))).order
    over = assign(make_open_order(store, fiat=Decimal("1000.00"))).order
    monkeypatch.undo()
    assert (yesterdays.requisite_id, over.requisite_id) == (requisite.pk, spare.pk)
    assert (kept(requisite).day, kept(requisite).day_total) == (today - timedelta(days=1), Decimal("1000.00"))

    after_midnight = assign(make_open_order(store, fiat=Decimal("1000.00"))).order  # a new day: 0 so far

    assert after_midnight.requisite_id == requisite.pk
    assert (kept(requisite).day, kept(requisite).day_total, kept(requisite).total) == (
        today, Decimal("1000.00"), Decimal("2000.00"))
    execution.cancel_order(order=yesterdays)
    assert (kept(requisite).day, kept(requisite).day_total, kept(requisite).total) == (
        today, Decimal("1000.00"), Decimal("1000.00"))
    assert turnover.mismatches(today=today) == []


def test_a_row_already_on_a_later_day_than_this_workers_clock_is_checked_from_order_history(refs, store):
    # Another worker whose clock is past midnight moved the row to tomorrow: today's turnover is then
    # summed from order_history (1000), not taken as zero.
    requisite = make_funded_requisite(refs, priority=1, limits={"turnover_day_max": Decimal("1500.00")})
    spare = make_funded_requisite(refs, priority=5)
    make_assigned_order(store, requisite, total_fiat=Decimal("1000.00"))
    tomorrow = timezone.now().astimezone(UTC).date() + timedelta(days=1)
    RequisiteTurnover.objects.filter(requisite=requisite).update(day=tomorrow, day_total=Decimal("0.00"))

    result = assign(make_open_order(store, fiat=Decimal("1000.00")))

    assert result.order.requisite_id == spare.pk


def test_a_new_priority_is_copied_to_the_requisites_and_orders_the_search(refs, store):
    first = make_funded_requisite(refs, priority=1)
    second = make_funded_requisite(refs, priority=2)
    assert ReqTrader.objects.get(pk=first.pk).trader_priority == 1

    traders.update_trader(trader=first.trader, changes={"trafic_priority": 3})

    assert ReqTrader.objects.get(pk=first.pk).trader_priority == 3
    assert assign(make_open_order(store)).order.requisite_id == second.pk


def test_the_merchants_state_follows_intake_assignment_retries_and_the_stores_cancel(refs, store, settings):
    settings.ASSIGNMENT_MAX_ATTEMPTS = 2
    waiting, failing = make_open_order(store), make_open_order(store)
    assert (waiting.state, assign(waiting).outcome) == ("new", Outcome.RETRYING)
    assign(failing)
    IncomingOrder.objects.filter(pk=failing.pk).update(next_attempt_at=timezone.now())
    assert assign(failing).outcome == Outcome.FAILED
    cancel_incoming_order(order=waiting, reason="customer left")
    make_funded_requisite(refs)
    assigned = make_open_order(store)
    assign(assigned)

    states = dict(IncomingOrder.objects.filter(pk__in=[waiting.pk, failing.pk, assigned.pk])
                  .values_list("pk", "state"))
    assert states == {waiting.pk: "cancelled", failing.pk: "failed", assigned.pk: "pending"}
    assert order_state.mismatches() == []
    IncomingOrder.objects.filter(pk=assigned.pk).update(state="new")  # drifted (written directly)
    assert order_state.mismatches() == [(assigned.pk, "new", "pending")] and order_state.recount() == 1
