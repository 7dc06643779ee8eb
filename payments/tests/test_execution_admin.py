"""Staff work orders in the admin: status changes by `can_manage_orders`, appeals by `can_handle_appeals`."""

import pytest
from django.urls import reverse

from audit.models import AuditLog
from payments.models import Appeal, IncomingOrder, OrderHistory, OrderType
from payments.services import execution

from .execution_support import held_order, make_world, png, trader_balance

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def world(refs):
    return make_world(refs)


def status_url(order):
    return reverse("admin:payments_orderhistory_status", args=[order.pk])


def test_the_order_page_shows_its_audit_trail_movements_appeals_and_receipts(client, world, staff):
    order = held_order(world)
    execution.mark_paid(order=order, receipt=png())
    execution.dispute_order(order=order, actor=world.trader.user, reason="amount differs")
    client.force_login(staff("can_view_orders"))

    response = client.get(reverse("admin:payments_orderhistory_change", args=[order.pk]))

    text = response.content.decode()
    assert response.status_code == 200
    for action in ("order.hold_placed", "order.paid", "order.disputed", "appeal.opened"):
        assert action in text
    assert "Hold placed" in text  # the movement table
    assert "by Trader" in text  # the appeal
    receipt = reverse("admin:payments_orderhistory_receipt", args=[order.pk, "customer"])
    assert receipt in text
    assert "Change status" not in text  # needs can_manage_orders
    served = client.get(receipt)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")


def test_order_managers_change_a_status_with_a_reason_and_the_hold_follows(client, world, staff, in_tenant):
    order = held_order(world)
    manager = staff("can_manage_orders")
    client.force_login(manager)

    form = client.get(status_url(order))
    empty = client.post(status_url(order), {"status": "cancelled", "reason": ""})
    done = client.post(status_url(order), {"status": "cancelled", "reason": "customer asked by phone"})

    assert form.status_code == 200
    choices = [value for value, _ in form.context["form"].fields["status"].choices]
    assert choices == execution.allowed_targets("pending")
    assert empty.status_code == 400
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled" and trader_balance(world).crypto_hold == 0
    entry = AuditLog.objects.get(action="order.status_changed")
    assert entry.actor == manager and entry.details["reason"] == "customer asked by phone"


def test_a_status_outside_the_table_is_not_offered_and_refused(client, world, staff):
    order = held_order(world)
    execution.confirm_order(order=order, actor=world.trader.user)
    client.force_login(staff("can_manage_orders"))

    response = client.post(status_url(order), {"status": "cancelled", "reason": "undo"})

    assert response.status_code == 400
    assert OrderHistory.objects.get(pk=order.pk).status == "completed"


def test_staff_complete_with_a_confirmed_amount(client, world, staff):
    order = held_order(world)
    client.force_login(staff("can_manage_orders"))

    client.post(status_url(order), {"status": "completed", "reason": "bank statement", "confirmed_fiat": "950.00"})

    order.refresh_from_db()
    assert (order.status, str(order.confirmed_fiat), order.amount_mismatch) == ("completed", "950.00", "underpaid")


def test_without_can_manage_orders_the_status_page_is_forbidden(client, world, staff):
    order = held_order(world)
    client.force_login(staff("can_view_orders", "can_handle_appeals"))

    assert client.get(status_url(order)).status_code == 403
    assert client.post(status_url(order), {"status": "cancelled", "reason": "x"}).status_code == 403
    assert OrderHistory.objects.get(pk=order.pk).status == "pending"


def test_appeal_handlers_resolve_an_appeal_from_its_page(client, world, staff):
    order = held_order(world)
    appeal = execution.open_appeal(order=order, opened_by_role="customer", reason="I paid", evidence=png())
    support = staff("can_handle_appeals")
    client.force_login(support)

    page = client.get(reverse("admin:payments_appeal_change", args=[appeal.pk]))
    evidence = client.get(reverse("admin:payments_appeal_evidence", args=[appeal.pk]))
    response = client.post(reverse("admin:payments_appeal_resolve", args=[appeal.pk]),
                           {"resolution": "completed", "note": "statement matches"})

    resolve_url = reverse("admin:payments_appeal_resolve", args=[appeal.pk])
    assert page.status_code == 200 and resolve_url in page.content.decode()
    assert evidence.status_code == 200
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert (appeal.status, appeal.resolution, appeal.resolution_note) == ("resolved", "completed", "statement matches")
    assert OrderHistory.objects.get(pk=order.pk).status == "completed"
    assert AuditLog.objects.get(action="appeal.resolved").actor == support


def test_without_can_handle_appeals_an_appeal_cannot_be_resolved(client, world, staff):
    appeal = execution.open_appeal(order=held_order(world), opened_by_role="customer", reason="I paid")
    client.force_login(staff("can_view_orders", "can_manage_orders"))

    page = client.get(reverse("admin:payments_appeal_change", args=[appeal.pk]))
    response = client.post(reverse("admin:payments_appeal_resolve", args=[appeal.pk]),
                           {"resolution": "cancelled"})

    assert page.status_code == 200
    assert reverse("admin:payments_appeal_resolve", args=[appeal.pk]) not in page.content.decode()
    assert response.status_code == 403
    assert Appeal.objects.get(pk=appeal.pk).status == "open"


def test_a_payouts_customer_requisite_is_shown_to_sensitive_staff_only_and_audited(client, refs, staff):
    world = make_world(refs, trader_crypto=None, trader_fiat="5000", store_crypto="50")
    order = held_order(world, order_type=OrderType.PAY_OUT)
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(customer_requisite="2200999988887777",
                                                                    customer_requisite_last4="7777")
    url = reverse("admin:payments_orderhistory_customer_requisite", args=[order.pk])

    client.force_login(staff("can_manage_orders", "can_view_orders"))
    refused = client.post(url, {"reason": "look"})
    incoming_page = client.get(reverse("admin:payments_incomingorder_change", args=[order.incoming_order_id]))
    client.force_login(staff("can_view_sensitive_data", "can_view_orders"))
    shown = client.post(url, {"reason": "customer called"})

    assert refused.status_code == 403
    assert "2200999988887777" not in incoming_page.content.decode()
    assert shown.status_code == 200 and "2200999988887777" in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    entry = AuditLog.objects.get(action="order.customer_requisite_revealed")
    assert entry.details["reason"] == "customer called"
