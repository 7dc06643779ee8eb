"""Order execution: the transition table, each action's ledger movements, permissions, audit and callbacks."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from payments.errors import ConflictError, PaymentsError
from payments.models import (
    Appeal,
    BalanceStoreHistory,
    BalanceTraderCryptoHistory,
    CallbackEvent,
    IncomingOrder,
    MovementKind,
    OrderHistory,
    OrderType,
)
from payments.selectors.ledger import verify_tenant_ledger
from payments.services import execution, ledger, order_state
from payments.services.execution import TRANSITIONS

from .execution_support import (
    fund,
    held_order,
    make_world,
    order_movements,
    pdf,
    png,
    store_balance,
    trader_balance,
)

pytestmark = pytest.mark.usefixtures("in_tenant")

Status = OrderHistory.Status
A = Decimal("27.43484225")  # the factory order's crypto amount (1000.00 THB at 36.45)
SC = Decimal("0.54869684")  # its store commission
TC = Decimal("0.27434842")  # the trader commission held_order sets


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def world(refs):
    return make_world(refs, trader_crypto="100", store_crypto="100")


def events(order: OrderHistory) -> list[str]:
    return list(CallbackEvent.objects.filter(incoming_order_id=order.incoming_order_id)
                .order_by("id").values_list("event_type", flat=True))


def assert_ledger_exact(tenant):
    report = verify_tenant_ledger(tenant.pk)
    assert report.differences == [], [str(d) for d in report.differences]
    assert order_state.mismatches() == []  # and the merchant's view of each order followed


# --- the transition table ----------------------------------------------------------------------------------

def order_in(world, status: str) -> OrderHistory:
    """A PayIn brought to `status` the way the real flow gets there, ledger included."""
    order = held_order(world, expires_at=timezone.now() + timedelta(minutes=30))
    trader = world.trader.user
    if status == Status.PROCESSING:
        execution.mark_paid(order=order)
    elif status == Status.DISPUTED:
        execution.dispute_order(order=order, actor=trader, reason="no money")
    elif status == Status.COMPLETED:
        execution.confirm_order(order=order, actor=trader)
    elif status == Status.CANCELLED:
        execution.cancel_order(order=order, actor=trader)
    elif status == Status.EXPIRED:
        execution.expire_due_orders(now=timezone.now() + timedelta(hours=1))
    elif status == Status.FAILED:
        ledger.release_order_hold(order)
        OrderHistory.objects.filter(pk=order.pk).update(status=Status.FAILED)
        order_state.recount()
    order.refresh_from_db()
    assert order.status == status
    return order


@pytest.mark.parametrize("new", Status.values)
@pytest.mark.parametrize("current", Status.values)
def test_every_transition_is_allowed_or_refused_by_the_table(world, staff, in_tenant, current, new):
    order = order_in(world, current)
    manager = staff("can_manage_orders")
    before = events(order)

    if new in TRANSITIONS[current]:
        execution.set_order_status_by_staff(order=order, status=new, actor=manager, reason="by the table")
        order.refresh_from_db()
        assert order.status == new
        assert AuditLog.objects.filter(action="order.status_changed", target_id=str(order.pk)).count() == 1
        assert events(order)[-1] == execution.EVENT_FOR_STATUS[new]
    else:
        with pytest.raises(ConflictError) as refused:
            execution.set_order_status_by_staff(order=order, status=new, actor=manager, reason="by the table")
        assert refused.value.code == "invalid_transition"
        order.refresh_from_db()
        assert order.status == current
        assert events(order) == before
    assert_ledger_exact(in_tenant)


def test_closed_statuses_are_final_and_every_status_is_in_the_table():
    assert set(TRANSITIONS) == set(Status.values)
    for final in (Status.COMPLETED, Status.CANCELLED, Status.FAILED):
        assert TRANSITIONS[final] == frozenset()
    assert execution.allowed_targets(Status.EXPIRED) == [Status.COMPLETED, Status.CANCELLED]


def test_a_staff_change_needs_the_flag_and_a_reason(world, staff):
    order = held_order(world)

    with pytest.raises(PermissionDenied):
        execution.set_order_status_by_staff(order=order, status=Status.CANCELLED,
                                            actor=staff("can_view_orders"), reason="no")
    with pytest.raises(PaymentsError) as no_reason:
        execution.set_order_status_by_staff(order=order, status=Status.CANCELLED,
                                            actor=staff("can_manage_orders"), reason="  ")

    assert no_reason.value.code == "reason_required"
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.hold_amount == A


def test_a_stale_status_loses_the_compare_and_swap(world):
    order = held_order(world)
    stale = OrderHistory.objects.get(pk=order.pk)
    OrderHistory.objects.filter(pk=order.pk).update(status=Status.PROCESSING)

    with pytest.raises(ConflictError):
        execution._change_status(stale, Status.CANCELLED, actor=None, action="x", description="x")

    assert OrderHistory.objects.get(pk=order.pk).status == Status.PROCESSING


# --- holds ---------------------------------------------------------------------------------------------------

def test_assigning_a_payin_holds_the_traders_crypto(world, in_tenant):
    order = held_order(world)

    balance = trader_balance(world)
    assert (balance.crypto_balance, balance.crypto_hold, balance.crypto_available) == (Decimal("100"), A, 100 - A)
    assert order.hold_amount == A
    row = BalanceTraderCryptoHistory.objects.get(order=order)
    assert (row.kind, row.amount, row.hold_change, row.hold_after) == (MovementKind.HOLD, 0, A, A)
    assert_ledger_exact(in_tenant)


def test_a_hold_the_available_crypto_cannot_cover_is_refused_and_nothing_changes(refs):
    world = make_world(refs, trader_crypto="27.43484224")  # one satoshi short

    with pytest.raises(PaymentsError) as refused:
        held_order(world)

    assert refused.value.code == "insufficient_balance"
    assert trader_balance(world).crypto_hold == 0
    assert not BalanceTraderCryptoHistory.objects.filter(kind=MovementKind.HOLD).exists()


def test_place_payin_hold_refuses_a_payout_and_a_second_hold(world):
    order = held_order(world)
    with pytest.raises(PaymentsError) as twice:
        execution.place_payin_hold(order=order)
    payout = held_order(world, order_type=OrderType.PAY_OUT)
    with pytest.raises(PaymentsError) as wrong_type:
        execution.place_payin_hold(order=payout)

    assert twice.value.code == "already_held" and wrong_type.value.code == "invalid_order_type"
    assert trader_balance(world).crypto_hold == A


# --- PayIn: the customer pays, the trader confirms --------------------------------------------------------------

def test_the_customer_marks_a_payin_paid_with_a_receipt(world, settings):
    order = held_order(world, expires_at=timezone.now() + timedelta(minutes=5))

    execution.mark_paid(order=order, receipt=png("my card 4111.png"))

    order.refresh_from_db()
    assert order.status == Status.PROCESSING and order.paid_at is not None
    assert order.customer_receipt.name.startswith("receipts/customer/") and order.customer_receipt.name.endswith(".png")
    assert "4111" not in order.customer_receipt.name
    assert order.expires_at >= order.paid_at + settings.ORDER_CONFIRMATION_WINDOW - timedelta(seconds=1)
    assert IncomingOrder.objects.get(pk=order.incoming_order_id).payment_details_submitted
    assert events(order) == ["order.paid"]
    assert AuditLog.objects.get(action="order.paid").details["receipt"] is True


@pytest.mark.parametrize("upload, code", [
    (SimpleUploadedFile("x.png", b"<html>not an image</html>", content_type="image/png"), "invalid_receipt"),
    (SimpleUploadedFile("x.png", b"", content_type="image/png"), "invalid_receipt"),
    (SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * 2048, content_type="image/png"),
     "receipt_too_large"),
])
def test_a_bad_receipt_is_refused_and_nothing_changes(world, settings, upload, code):
    settings.ORDER_RECEIPT_MAX_BYTES = 1024
    order = held_order(world)

    with pytest.raises(PaymentsError) as refused:
        execution.mark_paid(order=order, receipt=upload)

    assert refused.value.code == code and "receipt" in refused.value.fields
    order.refresh_from_db()
    assert order.status == Status.PENDING and not order.customer_receipt
    assert events(order) == []


def test_mark_paid_is_refused_twice_after_expiry_and_for_a_payout(world):
    order = held_order(world)
    execution.mark_paid(order=order)
    late = held_order(world, expires_at=timezone.now() - timedelta(seconds=1))
    payout = held_order(world, order_type=OrderType.PAY_OUT)

    with pytest.raises(ConflictError) as again:
        execution.mark_paid(order=order)
    with pytest.raises(ConflictError) as expired:
        execution.mark_paid(order=late)
    with pytest.raises(PaymentsError) as wrong:
        execution.mark_paid(order=payout)

    assert (again.value.code, expired.value.code, wrong.value.code) == (
        "not_awaiting_payment", "order_expired", "invalid_order_type")


def test_confirming_a_payin_moves_every_balance_exactly(world, in_tenant):
    order = held_order(world)
    execution.mark_paid(order=order)

    execution.confirm_order(order=order, actor=world.trader.user)

    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.completed_at is not None
    assert (order.confirmed_fiat, order.confirmed_crypto, order.amount_mismatch, order.hold_amount) == (
        Decimal("1000.00"), A, "", 0)
    trader = trader_balance(world)
    assert trader.crypto_balance == Decimal("100") - A + TC
    assert trader.crypto_hold == 0
    assert trader.fiat_balance == Decimal("1000.00")
    assert store_balance(world).balance == Decimal("100") + A - SC
    assert order_movements(order) == {
        ("crypto", "hold"): (0, A),
        ("crypto", "commission"): (TC, 0),
        ("crypto", "pay_in"): (-A, -A),
        ("fiat", "pay_in"): (Decimal("1000.00"), None),
        ("store", "pay_in"): (A, 0),
        ("store", "commission"): (-SC, 0),
    }
    assert events(order) == ["order.paid", "order.completed"]
    assert_ledger_exact(in_tenant)


@pytest.mark.parametrize("confirmed, mismatch", [("900.00", "underpaid"), ("1050.50", "overpaid")])
def test_a_different_confirmed_amount_is_settled_recorded_audited_and_called_back(world, in_tenant, confirmed,
                                                                                   mismatch):
    order = held_order(world)
    confirmed = Decimal(confirmed)

    execution.confirm_order(order=order, actor=world.trader.user, confirmed_fiat=confirmed)

    order.refresh_from_db()
    crypto = (confirmed / Decimal("36.45")).quantize(Decimal("0.00000001"))
    assert (order.confirmed_fiat, order.confirmed_crypto, order.amount_mismatch) == (confirmed, crypto, mismatch)
    assert (order.total_fiat, order.amount_currency) == (Decimal("1000.00"), A)  # the request stays as it was
    ratio = crypto / A
    assert order.store_commission == (SC * ratio).quantize(Decimal("0.00000001"))
    assert order.trader_commission == (TC * ratio).quantize(Decimal("0.00000001"))
    assert store_balance(world).balance == Decimal("100") + crypto - order.store_commission
    assert trader_balance(world).fiat_balance == confirmed
    details = AuditLog.objects.get(action="order.completed").details
    assert (details["requested_fiat"], details["confirmed_fiat"], details["amount_mismatch"]) == (
        "1000.00", str(confirmed), mismatch)
    data = CallbackEvent.objects.get(event_type="order.completed").payload["data"]
    assert data["requested"]["amount_fiat"] == "1000.00"
    assert data["confirmed"]["amount_fiat"] == str(confirmed) and data["amount_mismatch"] == mismatch
    assert_ledger_exact(in_tenant)


def test_an_overpayment_the_trader_cannot_cover_is_refused_and_nothing_changes(refs, in_tenant):
    world = make_world(refs, trader_crypto="28")
    order = held_order(world)

    with pytest.raises(PaymentsError) as refused:
        execution.confirm_order(order=order, actor=world.trader.user, confirmed_fiat=Decimal("2000.00"))

    assert refused.value.code == "insufficient_balance"
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.hold_amount == A and order.confirmed_fiat is None
    assert trader_balance(world).crypto_hold == A
    assert events(order) == []
    assert_ledger_exact(in_tenant)


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("10.001"), Decimal("NaN")])
def test_a_bad_confirmed_amount_is_refused(world, amount):
    order = held_order(world)
    with pytest.raises(PaymentsError) as refused:
        execution.confirm_order(order=order, actor=world.trader.user, confirmed_fiat=amount)
    assert "confirmed_fiat" in refused.value.fields
    assert OrderHistory.objects.get(pk=order.pk).status == Status.PENDING


def test_only_the_orders_trader_confirms_or_disputes(world, refs):
    order = held_order(world)
    other = make_world(refs, store=world.store).trader

    for user in (other.user, world.store.merchant.user, UserFactory()):
        with pytest.raises(PermissionDenied):
            execution.confirm_order(order=order, actor=user)
        with pytest.raises(PermissionDenied):
            execution.dispute_order(order=order, actor=user, reason="x")
    assert OrderHistory.objects.get(pk=order.pk).status == Status.PENDING


def test_the_trader_disputes_and_support_gets_an_appeal(world):
    order = held_order(world)
    execution.mark_paid(order=order)

    execution.dispute_order(order=order, actor=world.trader.user, reason="No money arrived")

    order.refresh_from_db()
    assert order.status == Status.DISPUTED and order.dispute_reason == "No money arrived"
    assert order.hold_amount == A  # still held until support decides
    appeal = Appeal.objects.get(order=order)
    assert (appeal.opened_by_role, appeal.status, appeal.opened_by) == ("trader", "open", world.trader.user)
    assert events(order) == ["order.paid", "order.disputed", "appeal.opened"]


# --- PayOut: the trader pays the customer -------------------------------------------------------------------

def test_a_payout_holds_the_store_and_settles_on_the_traders_receipt(refs, in_tenant, staff):
    world = make_world(refs, trader_crypto=None, trader_fiat="5000.00", store_crypto="50")
    order = held_order(world, order_type=OrderType.PAY_OUT)
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(customer_requisite="2200123412341234",
                                                                    customer_requisite_last4="1234")
    assert store_balance(world).hold == A + SC

    number = execution.reveal_customer_requisite(order=order, viewer=world.trader.user)
    with pytest.raises(PaymentsError) as no_receipt:
        execution.confirm_order(order=order, actor=world.trader.user)
    execution.confirm_order(order=order, actor=world.trader.user, receipt=pdf())

    assert number == "2200123412341234"
    assert no_receipt.value.code == "receipt_required"
    entry = AuditLog.objects.get(action="order.customer_requisite_revealed")
    assert entry.actor == world.trader.user and "2200123412341234" not in str(entry.details)
    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.trader_receipt.name.endswith(".pdf")
    store = store_balance(world)
    assert (store.balance, store.hold) == (Decimal("50") - A - SC, 0)
    trader = trader_balance(world)
    assert (trader.crypto_balance, trader.fiat_balance) == (A + TC, Decimal("4000.00"))
    with pytest.raises(ConflictError):  # closed: the trader no longer sees it
        execution.reveal_customer_requisite(order=order, viewer=world.trader.user)
    assert execution.reveal_customer_requisite(order=order, viewer=staff("can_view_sensitive_data"),
                                               reason="check") == "2200123412341234"
    assert_ledger_exact(in_tenant)


def test_a_payout_the_traders_fiat_cannot_cover_is_not_shown_and_cannot_settle(refs, in_tenant):
    world = make_world(refs, trader_crypto=None, trader_fiat="999.99", store_crypto="50")
    order = held_order(world, order_type=OrderType.PAY_OUT)
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(customer_requisite="2200123412341234")

    with pytest.raises(PaymentsError) as hidden:
        execution.reveal_customer_requisite(order=order, viewer=world.trader.user)
    with pytest.raises(PaymentsError) as unsettled:
        execution.confirm_order(order=order, actor=world.trader.user, receipt=png())

    assert hidden.value.code == unsettled.value.code == "insufficient_balance"
    assert OrderHistory.objects.get(pk=order.pk).status == Status.PENDING
    assert_ledger_exact(in_tenant)


def test_a_credit_limit_lets_the_fiat_balance_go_below_zero_down_to_it(refs, settings, in_tenant):
    settings.PAYMENTS_TRADER_FIAT_CREDIT_LIMIT = "1500.00"
    world = make_world(refs, trader_crypto=None, store_crypto="100")
    first = held_order(world, order_type=OrderType.PAY_OUT)
    second = held_order(world, order_type=OrderType.PAY_OUT)

    execution.confirm_order(order=first, actor=world.trader.user, receipt=png())
    with pytest.raises(PaymentsError) as beyond:
        execution.confirm_order(order=second, actor=world.trader.user, receipt=png())

    assert trader_balance(world).fiat_balance == Decimal("-1000.00")
    assert trader_balance(world).fiat_credit_limit == Decimal("1500.00")
    assert beyond.value.code == "insufficient_balance"
    assert_ledger_exact(in_tenant)


def test_only_the_trader_or_sensitive_staff_see_a_customer_requisite(refs, staff):
    world = make_world(refs, trader_crypto=None, trader_fiat="5000", store_crypto="50")
    order = held_order(world, order_type=OrderType.PAY_OUT)
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(customer_requisite="2200123412341234")

    for viewer in (world.store.merchant.user, staff("can_manage_orders"), UserFactory()):
        with pytest.raises(PermissionDenied):
            execution.reveal_customer_requisite(order=order, viewer=viewer)
    assert not AuditLog.objects.filter(action="order.customer_requisite_revealed").exists()


# --- cancel and expire ------------------------------------------------------------------------------------------

def test_the_trader_or_merchant_cancels_a_pending_order_and_the_hold_comes_back(world, in_tenant):
    by_trader, by_merchant = held_order(world), held_order(world)

    execution.cancel_order(order=by_trader, actor=world.trader.user, reason="cannot take it")
    execution.cancel_order(order=by_merchant, actor=world.store.merchant.user)

    for order in (by_trader, by_merchant):
        order.refresh_from_db()
        assert order.status == Status.CANCELLED and order.hold_amount == 0
        assert events(order) == ["order.cancelled"]
        assert BalanceTraderCryptoHistory.objects.get(order=order, kind=MovementKind.RELEASE).hold_change == -A
    assert trader_balance(world).crypto_hold == 0
    assert_ledger_exact(in_tenant)


def test_once_the_customer_has_paid_only_staff_cancel(world, staff, refs):
    order = held_order(world)
    execution.mark_paid(order=order)

    with pytest.raises(ConflictError):
        execution.cancel_order(order=order, actor=world.trader.user)
    with pytest.raises(PermissionDenied):
        execution.cancel_order(order=order, actor=make_world(refs).trader.user)
    execution.cancel_order(order=order, actor=staff("can_manage_orders"), reason="fraud")

    assert OrderHistory.objects.get(pk=order.pk).status == Status.CANCELLED


def test_expiry_takes_only_unconfirmed_orders_past_their_time(world, refs, in_tenant):
    fund(refs, trader=world.trader, crypto="100")
    now = timezone.now()
    due = held_order(world, expires_at=now - timedelta(minutes=1))
    paid = held_order(world, expires_at=now + timedelta(minutes=1))
    execution.mark_paid(order=paid)  # moves expires_at out by the confirmation window
    later = held_order(world, expires_at=now + timedelta(minutes=5))
    disputed = held_order(world, expires_at=now - timedelta(minutes=1))
    OrderHistory.objects.filter(pk=disputed.pk).update(status=Status.DISPUTED)
    order_state.recount()  # written directly

    count = execution.expire_due_orders(now=now + timedelta(minutes=2))

    statuses = dict(OrderHistory.objects.values_list("pk", "status"))
    assert count == 1
    assert statuses[due.pk] == Status.EXPIRED
    assert (statuses[paid.pk], statuses[later.pk], statuses[disputed.pk]) == (
        Status.PROCESSING, Status.PENDING, Status.DISPUTED)
    assert events(due) == ["order.expired"]
    assert AuditLog.objects.get(action="order.expired").actor is None
    assert trader_balance(world).crypto_hold == 3 * A
    assert execution.expire_due_orders(now=now + timedelta(minutes=2)) == 0
    assert_ledger_exact(in_tenant)


def test_the_expiry_task_runs_the_sweep(world):
    from payments.tasks import expire_due_orders_task

    order = held_order(world, expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_due_orders_task.apply().get() == 1
    assert OrderHistory.objects.get(pk=order.pk).status == Status.EXPIRED


# --- appeals -------------------------------------------------------------------------------------------------------

def test_a_customer_appeal_freezes_the_order_and_support_completes_it(world, staff, in_tenant):
    order = held_order(world)
    execution.mark_paid(order=order)
    support = staff("can_handle_appeals")

    appeal = execution.open_appeal(order=order, opened_by_role="customer", reason="I paid 1000",
                                   evidence=png())
    with pytest.raises(ConflictError) as second:
        execution.open_appeal(order=order, opened_by_role="customer", reason="again")
    execution.resolve_appeal(appeal=appeal, actor=support, resolution="completed", note="bank statement ok")

    assert second.value.code == "appeal_open"
    appeal.refresh_from_db()
    order.refresh_from_db()
    assert (appeal.status, appeal.resolution, appeal.resolved_by) == ("resolved", "completed", support)
    assert appeal.opened_by is None and appeal.evidence.name.endswith(".png")
    assert order.status == Status.COMPLETED
    assert events(order) == ["order.paid", "order.disputed", "appeal.opened", "order.completed", "appeal.resolved"]
    resolved = AuditLog.objects.get(action="appeal.resolved")
    assert resolved.actor == support and resolved.details["resolution"] == "completed"
    assert_ledger_exact(in_tenant)


def test_an_appeal_on_an_expired_order_can_complete_it_without_a_hold(world, staff, in_tenant):
    order = held_order(world, expires_at=timezone.now() - timedelta(seconds=1))
    execution.expire_due_orders()
    appeal = execution.open_appeal(order=order, opened_by_role="merchant", actor=world.store.merchant.user,
                                   reason="customer paid late")

    execution.resolve_appeal(appeal=appeal, actor=staff("can_handle_appeals"), resolution="completed",
                             confirmed_fiat=Decimal("999.00"))

    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.amount_mismatch == "underpaid"
    assert trader_balance(world).crypto_hold == 0
    assert_ledger_exact(in_tenant)


def test_support_cancels_through_an_appeal_and_the_hold_comes_back(world, staff, in_tenant):
    order = held_order(world)
    execution.dispute_order(order=order, actor=world.trader.user, reason="fake receipt")
    appeal = Appeal.objects.get(order=order)

    execution.resolve_appeal(appeal=appeal, actor=staff("can_handle_appeals"), resolution="cancelled")

    order.refresh_from_db()
    assert order.status == Status.CANCELLED and order.hold_amount == 0
    assert trader_balance(world).crypto_hold == 0
    with pytest.raises(ConflictError):
        execution.resolve_appeal(appeal=appeal, actor=staff("can_handle_appeals"), resolution="completed")
    assert_ledger_exact(in_tenant)


def test_appeals_are_opened_only_by_the_orders_parties_and_resolved_only_with_the_flag(world, staff, refs):
    order = held_order(world)
    stranger = make_world(refs)

    with pytest.raises(PermissionDenied):
        execution.open_appeal(order=order, opened_by_role="trader", actor=stranger.trader.user, reason="x")
    with pytest.raises(PermissionDenied):
        execution.open_appeal(order=order, opened_by_role="merchant", actor=stranger.store.merchant.user,
                              reason="x")
    with pytest.raises(PaymentsError) as no_reason:
        execution.open_appeal(order=order, opened_by_role="customer", reason=" ")
    appeal = execution.open_appeal(order=order, opened_by_role="trader", actor=world.trader.user,
                                   reason="customer sent less")
    with pytest.raises(PermissionDenied):
        execution.resolve_appeal(appeal=appeal, actor=staff("can_manage_orders"), resolution="completed")
    with pytest.raises(PaymentsError):
        execution.resolve_appeal(appeal=appeal, actor=staff("can_handle_appeals"), resolution="refund")

    assert no_reason.value.code == "reason_required"
    assert Appeal.objects.get(pk=appeal.pk).status == "open"


def test_a_completed_order_cannot_be_appealed(world):
    order = held_order(world)
    execution.confirm_order(order=order, actor=world.trader.user)

    with pytest.raises(ConflictError) as refused:
        execution.open_appeal(order=order, opened_by_role="customer", reason="where is my money")

    assert refused.value.code == "not_appealable"


# --- every change is in one transaction -----------------------------------------------------------------------------

def test_a_failing_callback_write_rolls_the_whole_completion_back(world, monkeypatch, in_tenant):
    order = held_order(world)

    def broken(**kwargs):
        raise RuntimeError("callback table unavailable")

    monkeypatch.setattr(execution, "enqueue_order_event", broken)
    with pytest.raises(RuntimeError):
        execution.confirm_order(order=order, actor=world.trader.user)

    order.refresh_from_db()
    assert order.status == Status.PENDING and order.hold_amount == A
    assert not BalanceStoreHistory.objects.filter(order=order).exists()
    assert not AuditLog.objects.filter(action="order.completed").exists()
    assert_ledger_exact(in_tenant)


def test_the_cancel_of_an_unassigned_order_is_called_back(refs):
    from payments.services.orders import cancel_incoming_order

    from .factories import make_incoming_order, make_store

    incoming = make_incoming_order(make_store(refs)[0])
    cancel_incoming_order(order=incoming, reason="store changed its mind")

    assert list(CallbackEvent.objects.filter(incoming_order=incoming).order_by("created_at", "id")
                .values_list("event_type", flat=True)) == ["order.created", "order.cancelled"]
