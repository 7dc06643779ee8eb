"""Staff act on orders (payments.services.staff_orders and the admin pages): reassign, more time, resend
callbacks, cancel from the list — each with a reason, audited, balances exact, refused without the flag or
outside the actor's operator."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from payments.callbacks.events import enqueue_order_event
from payments.errors import ConflictError, PaymentsError
from payments.models import BalanceTrader, CallbackAttempt, OrderHistory, OrderType, RequisiteTurnover
from payments.selectors.ledger import verify_tenant_ledger
from payments.services import execution, staff_orders, turnover
from tenancy.scoping import tenant_context

from .execution_support import fund, held_order, make_world, store_balance, trader_balance
from .factories import TraderFactory, make_requisite, make_staff, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def world(refs):
    return make_world(refs, store_crypto="500")


@pytest.fixture
def manager(staff):
    return staff("can_manage_orders", "can_view_orders")


def other_trader_requisite(refs, crypto="100"):
    trader = TraderFactory(pay_in_commission_percent=Decimal("2"))
    fund(refs, trader=trader, crypto=crypto)
    return make_requisite(refs, trader=trader)


def balance_of(trader, refs):
    return BalanceTrader.objects.get(trader=trader, fiat_currency=refs.thb, crypto_currency=refs.usdt)


# --- reassign ---------------------------------------------------------------------------------------------

def test_reassigning_a_payin_moves_its_hold_to_the_new_trader_exactly(world, refs, manager):
    order = held_order(world)
    held = order.hold_amount
    target = other_trader_requisite(refs)

    result = staff_orders.reassign_order(order=order, requisite=target, actor=manager, reason="trader offline")

    order.refresh_from_db()
    assert result.hold_moved and order.requisite_id == target.pk and order.trader_id == target.trader_id
    assert order.trader_commission == Decimal("0.54869685")  # 2 % of 27.43484225, half up
    assert trader_balance(world).crypto_hold == 0 and trader_balance(world).crypto_balance == Decimal("100")
    new = balance_of(target.trader, refs)
    assert new.crypto_hold == held and new.crypto_balance == Decimal("100")
    entry = AuditLog.objects.get(action="order.reassigned")
    assert entry.actor == manager and entry.details["reason"] == "trader offline"
    assert entry.details["changes"]["requisite"] == {"old": world.requisite.pk, "new": target.pk}
    assert verify_tenant_ledger(order.tenant_id).differences == []
    # what the order counts against the limits moved with it: off the old requisite, onto the new one
    today = turnover.utc_day(timezone.now())
    assert turnover.mismatches(today=today) == []
    assert RequisiteTurnover.objects.get(requisite=target).total == order.total_fiat
    # the order then completes on the new trader's balance
    execution.confirm_order(order=order, actor=target.trader.user)
    assert balance_of(target.trader, refs).crypto_hold == 0
    assert verify_tenant_ledger(order.tenant_id).differences == []
    assert turnover.mismatches(today=today) == []


def test_reassigning_to_another_requisite_of_the_same_trader_leaves_the_hold(world, refs, manager):
    order = held_order(world)
    second = make_requisite(refs, trader=world.trader)

    result = staff_orders.reassign_order(order=order, requisite=second, actor=manager, reason="card limit")

    assert not result.hold_moved
    assert trader_balance(world).crypto_hold == order.hold_amount
    assert OrderHistory.objects.get(pk=order.pk).requisite_id == second.pk


def test_a_payout_keeps_its_hold_on_the_store(world, refs, manager):
    order = held_order(world, order_type=OrderType.PAY_OUT)
    store_hold = store_balance(world).hold
    target = other_trader_requisite(refs)

    staff_orders.reassign_order(order=order, requisite=target, actor=manager, reason="faster trader")

    assert store_balance(world).hold == store_hold and store_hold > 0
    assert balance_of(target.trader, refs).crypto_hold == 0


def test_reassigning_is_refused_when_the_new_trader_cannot_cover_the_hold(world, refs, manager):
    order = held_order(world)
    poor = other_trader_requisite(refs, crypto="1")

    with pytest.raises(PaymentsError) as refused:
        staff_orders.reassign_order(order=order, requisite=poor, actor=manager, reason="try")

    assert refused.value.code == "insufficient_balance"
    assert OrderHistory.objects.get(pk=order.pk).requisite_id == world.requisite.pk
    assert trader_balance(world).crypto_hold == order.hold_amount
    assert not AuditLog.objects.filter(action="order.reassigned").exists()


def test_a_paid_order_or_a_requisite_of_another_currency_is_not_a_target(world, refs, manager):
    order = held_order(world)
    paused = make_requisite(refs, status="paused")
    in_rubles = make_requisite(refs, fiat=refs.rub)
    resting = other_trader_requisite(refs)
    resting.trader.in_work = False
    resting.trader.save(update_fields=["in_work"])
    for target in (paused, in_rubles, resting):
        with pytest.raises(PaymentsError) as refused:
            staff_orders.reassign_order(order=order, requisite=target, actor=manager, reason="x")
        assert refused.value.code == "invalid_requisite"
    assert OrderHistory.objects.get(pk=order.pk).requisite_id == world.requisite.pk
    execution.mark_paid(order=order)
    with pytest.raises(ConflictError):
        staff_orders.reassign_order(order=order, requisite=other_trader_requisite(refs), actor=manager, reason="x")


def test_reassign_needs_the_flag_and_a_reason(world, refs, staff, manager):
    order = held_order(world)
    target = other_trader_requisite(refs)
    with pytest.raises(PermissionDenied):
        staff_orders.reassign_order(order=order, requisite=target, actor=staff("can_view_orders"), reason="x")
    with pytest.raises(PaymentsError) as no_reason:
        staff_orders.reassign_order(order=order, requisite=target, actor=manager, reason="  ")
    assert no_reason.value.code == "reason_required"


def test_a_manager_of_another_operator_is_refused(world, refs, other_tenant):
    order = held_order(world)
    outsider = make_staff(other_tenant, {"can_manage_orders"})
    target = other_trader_requisite(refs)

    for act in (
        lambda: staff_orders.reassign_order(order=order, requisite=target, actor=outsider, reason="x"),
        lambda: staff_orders.extend_order_expiry(order=order, minutes=10, actor=outsider, reason="x"),
        lambda: staff_orders.resend_order_callbacks(order=order, actor=outsider, reason="x"),
        lambda: execution.set_order_status_by_staff(order=order, status="cancelled", actor=outsider, reason="x"),
    ):
        with pytest.raises(PermissionDenied):
            act()
    order.refresh_from_db()
    assert order.status == "pending" and order.requisite_id == world.requisite.pk


# --- extend expiry ----------------------------------------------------------------------------------------

def test_extending_adds_minutes_to_the_deadline_and_is_audited(world, manager):
    order = held_order(world)
    before = OrderHistory.objects.get(pk=order.pk).expires_at

    staff_orders.extend_order_expiry(order=order, minutes=45, actor=manager, reason="customer at the bank")

    after = OrderHistory.objects.get(pk=order.pk).expires_at
    assert after - before == timedelta(minutes=45)
    entry = AuditLog.objects.get(action="order.expiry_extended")
    assert entry.actor == manager and entry.details["minutes"] == 45


def test_a_passed_deadline_is_extended_from_now_and_closed_orders_are_refused(world, manager):
    order = held_order(world)
    OrderHistory.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(hours=2))

    staff_orders.extend_order_expiry(order=order, minutes=10, actor=manager, reason="late")

    assert OrderHistory.objects.get(pk=order.pk).expires_at > timezone.now() + timedelta(minutes=9)
    with pytest.raises(PaymentsError):
        staff_orders.extend_order_expiry(order=order, minutes=0, actor=manager, reason="late")
    execution.set_order_status_by_staff(order=order, status="cancelled", actor=manager, reason="gone")
    with pytest.raises(ConflictError):
        staff_orders.extend_order_expiry(order=order, minutes=10, actor=manager, reason="late")


# --- resend callbacks -------------------------------------------------------------------------------------

def test_resending_posts_the_orders_undelivered_events_to_the_store(refs, manager, server):
    store, _ = make_store(refs, callback_url=server.url)
    server.secret = store.secret_key
    world = make_world(refs, store=store)
    order = held_order(world)
    enqueue_order_event(incoming_order=order.incoming_order, event_type="order.assigned")

    result = staff_orders.resend_order_callbacks(order=order, actor=manager, reason="store was down")

    assert result.delivered == 1 and not result.failed
    assert server.requests and server.requests[0].verified
    assert CallbackAttempt.objects.filter(manual=True).count() == 1
    assert AuditLog.objects.filter(action="order.callbacks_resent", actor=manager).exists()
    with pytest.raises(PaymentsError) as nothing:
        staff_orders.resend_order_callbacks(order=order, actor=manager, reason="again")
    assert nothing.value.code == "nothing_to_resend"


def test_resend_without_a_callback_url_says_not_configured(world, manager):
    order = held_order(world)
    enqueue_order_event(incoming_order=order.incoming_order, event_type="order.assigned")

    with pytest.raises(PaymentsError) as refused:
        staff_orders.resend_order_callbacks(order=order, actor=manager, reason="x")

    assert refused.value.code == "callback_not_configured"


# --- the admin pages --------------------------------------------------------------------------------------

def url(name, order):
    return reverse(f"admin:payments_orderhistory_{name}", args=[order.pk])


def test_the_order_page_offers_the_actions_and_no_save_button(client, world, manager, staff):
    order = held_order(world)
    client.force_login(manager)

    page = client.get(url("change", order)).content.decode()

    for name in ("status", "reassign", "extend"):
        assert url(name, order) in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "+0E-8" not in page and "0E-8" not in page
    client.force_login(staff("can_view_orders"))
    viewer_page = client.get(url("change", order)).content.decode()
    assert url("reassign", order) not in viewer_page and 'name="_save"' not in viewer_page
    assert client.get(url("reassign", order)).status_code == 403
    assert client.get(url("extend", order)).status_code == 403


def test_reassign_and_extend_through_their_confirmation_pages(client, world, refs, manager):
    order = held_order(world)
    target = other_trader_requisite(refs)
    client.force_login(manager)

    form = client.get(url("reassign", order))
    no_reason = client.post(url("reassign", order), {"requisite": target.pk, "reason": ""})
    moved = client.post(url("reassign", order), {"requisite": target.pk, "reason": "trader asleep"})
    extended = client.post(url("extend", order), {"minutes": "20", "reason": "customer asked"})

    assert form.status_code == 200 and target.pk in [r.pk for r in form.context["form"].fields["requisite"].queryset]
    assert no_reason.status_code == 400
    assert moved.status_code == 302 and extended.status_code == 302
    order.refresh_from_db()
    assert order.requisite_id == target.pk
    assert {"order.reassigned", "order.expiry_extended"} <= set(AuditLog.objects.values_list("action", flat=True))


def test_cancel_from_the_list_asks_for_a_reason_first(client, world, manager):
    first, second = held_order(world), held_order(world)
    client.force_login(manager)
    changelist = reverse("admin:payments_orderhistory_changelist")
    selected = {"action": "cancel_selected", "_selected_action": [first.pk, second.pk]}

    confirm = client.post(changelist, {**selected, "index": "0"})
    done = client.post(changelist, {**selected, "confirm": "yes", "reason": "duplicate orders"})

    assert confirm.status_code == 200 and b"duplicate" not in confirm.content
    assert "reason" in confirm.context["form"].fields
    assert done.status_code == 302
    assert OrderHistory.objects.filter(status="cancelled").count() == 2
    assert trader_balance(world).crypto_hold == 0
    assert AuditLog.objects.filter(action="order.status_changed", details__reason="duplicate orders").count() == 2


def test_an_order_of_another_tenant_is_not_found_in_the_admin(client, world, other_tenant):
    order = held_order(world)
    outsider = make_staff(other_tenant, {"can_manage_orders", "can_view_orders"})
    client.force_login(outsider)

    with tenant_context(other_tenant):
        response = client.get(url("reassign", order))

    assert response.status_code == 404
