"""In a real browser (Debian's chromium): support acts on an order from its admin page through the
confirmation page, and a tenant's own administrator works in /admin/ seeing only her operator."""

import pytest

from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_browser import PASSWORD_LABEL
from audit.models import AuditLog
from core.tests.browser import browser_page, needs_chromium
from payments.models import BalanceTrader, OrderHistory
from tenancy.scoping import tenant_context

from .execution_support import fund, held_order, make_world
from .factories import MerchantFactory, TraderFactory, make_reference_data, make_requisite, make_staff, make_store

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    with browser_page(live_server.url) as page:
        yield page


def log_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label(PASSWORD_LABEL).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()


def test_support_reassigns_an_order_through_its_confirmation_page(page, refs, tenant):
    world = make_world(refs)
    order = held_order(world)
    other = TraderFactory()
    fund(refs, trader=other, crypto="100")
    target = make_requisite(refs, trader=other)
    support = make_staff(tenant, {"can_manage_orders", "can_view_orders"}, password=TEST_PASSWORD)
    log_in(page, support)

    page.goto(f"/admin/payments/orderhistory/{order.pk}/change/")
    assert page.locator('input[name="_save"]').count() == 0  # a read-only page offers no Save
    assert "0E-8" not in page.content()
    page.get_by_role("link", name="Reassign").click()
    page.get_by_label("Move to requisite").select_option(value=str(target.pk))
    page.get_by_label("Reason").fill("the trader's bank is down")
    page.get_by_role("button", name="Move the order").click()
    page.get_by_text("moved to requisite").wait_for()

    with tenant_context(tenant):
        moved = OrderHistory.objects.get(pk=order.pk)
        held = BalanceTrader.objects.get(trader=other).crypto_hold
    assert moved.requisite_id == target.pk and held == order.hold_amount
    assert AuditLog.objects.filter(action="order.reassigned", actor=support).exists()
    assert page.refused == []


def test_a_tenants_own_administrator_works_in_her_operator_only(page, refs, tenant, other_tenant):
    MerchantFactory(first_name="Alpha", last_name="Seller")  # the first operator's merchant
    with tenant_context(other_tenant):
        other_refs = make_reference_data()
        theirs = MerchantFactory(first_name="Beta", last_name="Seller")
        make_store(other_refs, merchant=theirs, store_name="Beta Store")
    olga = make_staff(other_tenant, {"can_manage_merchants", "can_manage_traders", "can_edit_limits",
                                     "can_handle_appeals", "can_manage_supports"}, password=TEST_PASSWORD)
    log_in(page, olga)

    page.goto("/admin/")
    page.get_by_text("Orders by status").wait_for()  # her dashboard
    assert other_tenant.name in page.content() and tenant.name not in page.locator("#content").inner_text()
    page.goto("/admin/payments/merchant/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Beta" in rows.first.inner_text()
    page.goto("/admin/payments/merchantstore/")
    assert "Beta Store" in page.locator("#result_list").inner_text()
    assert page.refused == []
