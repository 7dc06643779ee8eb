"""Issue 19 in a real browser (Debian's chromium through Playwright), under the site's Content-Security-Policy:
an application from sign-up to approval, a withdrawal from request to settlement, both dashboards drawing their
charts (and the trader's new-order alert), and the pay page and a cabinet page at a phone's 390 px.

With SCREENSHOTS=<dir> in the environment the walks also save the pictures of docs/screenshots/.
"""

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail

from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_browser import PASSWORD_LABEL
from core.tests.browser import browser_page, fits_the_phone, needs_chromium, open_site_menu, phone_page
from payments.models import BalanceStore, CryptoTransfer, IncomingOrder
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from .cabinet_support import fund_store, fund_trader, make_merchant, make_trader, open_order
from .factories import make_assigned_order, make_requisite, make_staff, make_store

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

TRON = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
SHOTS = os.environ.get("SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def page(live_server):
    with browser_page(live_server.url) as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        yield page


def log_in(page, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    open_site_menu(page)
    page.get_by_role("button", name="Log out").wait_for()


def log_out(page) -> None:
    open_site_menu(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("load")


def test_an_application_from_sign_up_to_approval(page, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(accepts_applications=True)
    staff = make_staff(tenant, {"can_manage_merchants"})
    email, password = "new.merchant@example.com", "Plum-Orbit-Lantern-42"

    page.goto("/accounts/register/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Full name").fill("Nora Newshop")
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_label(re.compile(r"^Password again:?$")).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("email", exact=False).first.wait_for()
    link = re.search(r"https?://\S+", [m for m in mail.outbox if email in m.to][-1].body).group(0)
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    log_in(page, email, password)

    page.goto("/cabinet/")  # the dead end of before: now a way to ask
    page.get_by_role("button", name="Apply to become a merchant or trader").click()
    page.get_by_label("Operator").select_option(label=tenant.name)
    page.get_by_label("Company").fill("Newshop Ltd")
    page.get_by_label("Site").fill("https://newshop.example")
    page.get_by_label("Expected volume a month").fill("20,000 USDT")
    shot(page, "onboarding-apply")
    page.get_by_role("button", name="Send the application").click()
    page.locator("#applications").get_by_text("Waiting for review").wait_for()
    log_out(page)

    log_in(page, staff.email)
    page.goto("/admin/accounts/operatorapplication/")
    page.get_by_role("link", name="Approve", exact=True).click()
    page.get_by_label("Reason").fill("Welcome aboard")
    page.get_by_label("I have reviewed the application").check()
    shot(page, "onboarding-admin-approve")
    page.get_by_role("button", name="Approve", exact=True).click()
    page.locator(".messagelist").get_by_text("approved; the applicant gets an email").wait_for()
    log_out(page)

    log_in(page, email, password)
    page.goto("/accounts/apply/")
    page.locator("#applications").get_by_text("Approved").wait_for()
    assert any("approved" in m.subject and email in m.to for m in mail.outbox)
    assert not page.refused, page.refused


def test_a_withdrawal_from_request_to_settlement(page, tenant, refs):
    merchant = make_merchant(tenant)
    with tenant_context(tenant):
        store, _ = make_store(refs, merchant, store_name="Corner Shop")
        fund_store(store, "1500")
    staff = make_staff(tenant, {"can_manage_merchants"})

    log_in(page, merchant.user.email)
    page.goto("/cabinet/merchant/")
    page.get_by_role("link", name="Withdrawals", exact=True).click()
    page.get_by_label("Amount").fill("250.5")
    page.get_by_label("Network").select_option("TRC20")
    page.get_by_label("Address").fill(TRON)
    page.get_by_role("button", name="Ask to withdraw").click()
    page.locator("#transfers").get_by_text("Waiting for approval").wait_for()
    shot(page, "merchant-withdrawals")
    log_out(page)

    log_in(page, staff.email)
    page.goto("/admin/payments/cryptotransfer/")
    page.get_by_role("link", name="Approve", exact=True).click()
    page.get_by_label("Transaction reference").fill("0xabc123")
    page.get_by_label("I have checked the address, the network and the amount").check()
    shot(page, "admin-withdrawal-approve")
    page.get_by_role("button", name="Approve", exact=True).click()
    page.locator(".messagelist").get_by_text("approved and settled").wait_for()
    log_out(page)

    log_in(page, merchant.user.email)
    page.goto("/cabinet/merchant/withdrawals/")
    page.locator("#transfers").get_by_text("Approved and settled").wait_for()
    with tenant_context(tenant):
        balance = BalanceStore.objects.get(store=store)
        assert (balance.balance, balance.hold) == (Decimal("1249.5"), Decimal("0"))
        assert CryptoTransfer.objects.get().status == "settled"
    assert not page.refused, page.refused


def charts_drawn(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('canvas[data-drawn=\"1\"]').length >= {count}")


def test_each_dashboard_draws_its_charts_and_a_new_order_raises_the_alert(page, tenant, refs):
    merchant = make_merchant(tenant)
    trader = make_trader(tenant)
    with tenant_context(tenant):
        store, _ = make_store(refs, merchant, store_name="Chart Shop")
        requisite = make_requisite(refs, trader)
        fund_trader(trader, refs, "500")
        for _ in range(3):
            order = make_assigned_order(store, requisite, status="completed", confirmed_fiat=Decimal("1000.00"))
            IncomingOrder.objects.filter(pk=order.incoming_order_id).update(status="assigned")
    from django.utils import timezone

    with tenant_context(tenant):
        from payments.models import OrderHistory

        OrderHistory.objects.update(completed_at=timezone.now(), paid_at=timezone.now())

    log_in(page, merchant.user.email)
    page.goto("/cabinet/merchant/?days=7")
    charts_drawn(page, 4)
    assert page.locator("label.site-menu-button").is_hidden()  # wide: the header shows its links, no Menu
    assert page.locator(".kpi").first.inner_text().endswith("USDT")
    shot(page, "merchant-dashboard")
    log_out(page)

    log_in(page, trader.user.email)
    page.goto("/cabinet/trader/")
    charts_drawn(page, 2)
    shot(page, "trader-dashboard")
    alert = page.locator("#new-order-alert")
    assert alert.is_hidden()
    with tenant_context(tenant):
        open_order(store, requisite)  # a new order for this trader while the page is open
    alert.wait_for(state="visible", timeout=30_000)  # the live list refreshes every 5 s
    assert "New order" in alert.inner_text()
    assert page.title().startswith("(1 new)")
    shot(page, "trader-new-order-alert")
    assert not page.refused, page.refused


def test_the_pay_page_and_a_cabinet_page_fit_a_phone(live_server, tenant, refs):
    trader = make_trader(tenant)
    with tenant_context(tenant):
        store, _ = make_store(refs, store_name="Phone Shop")
        requisite = make_requisite(refs, trader, number="4000123412341234")
        order = open_order(store, requisite)
        IncomingOrder.objects.filter(pk=order.incoming_order_id).update(return_url="https://shop.example/back")
        fund_trader(trader, refs, "1234567.891")

    with phone_page(live_server.url) as phone:
        phone.goto(f"/pay/{order.hash_id}")
        phone.get_by_text("Phone Shop").first.wait_for()
        assert phone.locator("#req-number").inner_text() == "4000 1234 1234 1234"
        assert phone.get_by_role("link", name="Log in").count() == 0
        assert phone.get_by_role("link", name="Back to the store").count() >= 1
        assert fits_the_phone(phone)
        shot(phone, "pay-page-phone")

        log_in(phone, trader.user.email)
        phone.goto("/cabinet/trader/balances/")
        phone.get_by_role("link", name="Appeals").wait_for()  # the cabinet bar wraps, nothing cut off
        assert phone.get_by_role("link", name="Appeals").is_visible()
        assert phone.locator("label.site-menu-button").is_visible()  # the header collapsed behind Menu
        assert fits_the_phone(phone)
        shot(phone, "trader-balances-phone")
        assert not phone.refused, phone.refused
