"""The trading pages in a real browser at phone width (390 px), under the site's Content-Security-Policy:
nothing refused, the chart draws from the vendored Chart.js, htmx fills in the equity and refreshes the
positions, the forms work, a test signal becomes an order on the (fake) exchange, copy buttons appear."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_browser import PASSWORD_LABEL
from core.tests.browser import fits_the_phone, needs_chromium, open_site_menu, phone_page
from tenancy.scoping import tenant_context
from tenancy.services.roles import assign_role
from trading.models import Order, PositionStatus, Signal, SignalStatus

from .factories import PositionFactory

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    with phone_page(live_server.url) as page:
        yield page


def test_the_trading_pages_work_on_a_phone_with_nothing_refused(page, tenant, trader, fake_binance):
    assign_role(tenant=tenant, user=trader.user, role_key="trading_trader")
    with tenant_context(tenant):
        for n, pnl in enumerate(("25", "-10", "40")):
            PositionFactory(account=trader, symbol=f"C{n}/USDT:USDT", status=PositionStatus.CLOSED,
                            realized_pnl=Decimal(pnl), close_time=timezone.now())

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(trader.user.email)
    page.get_by_label(PASSWORD_LABEL).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    open_site_menu(page)  # a phone: the header's links are behind "Menu"
    page.get_by_role("button", name="Log out").wait_for()

    page.get_by_role("link", name="Trading", exact=True).first.click()
    page.get_by_text("10000.00 USDT").wait_for()  # equity, fetched by htmx from the fake exchange
    assert fits_the_phone(page)

    page.get_by_role("link", name=trader.name).click()
    page.locator("canvas#pnl-chart[data-drawn='true']").wait_for()  # trading.js + Chart.js drew it
    assert page.locator("canvas#pnl-chart").get_attribute("data-points") == "3"
    page.get_by_role("button", name="Copy message").wait_for()  # shown only where the clipboard works
    assert "{{ticker}}" in page.locator("#tradingview-message").input_value()

    form = page.locator("form[action$='/test-signal/']")
    form.get_by_label("Symbol").fill("BTCUSDT")
    form.get_by_label("Signal").select_option("buy")
    form.get_by_label("Entry price").fill("60000")
    form.get_by_label("Stop loss").fill("59000")
    form.get_by_role("button", name="Send test signal").click()
    page.get_by_text("queued; its result shows under Signals").wait_for()
    with tenant_context(tenant):
        signal = Signal.objects.get(account=trader)
        assert signal.status == SignalStatus.ACCEPTED, signal.reason
        assert Order.objects.filter(signal=signal).exists()
    page.reload()
    page.locator("#positions").get_by_text("BTC/USDT:USDT").wait_for()  # the new position, on the page
    page.locator("#positions").get_by_text("Updated").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/positions/")):  # htmx's poll every 5 s
        pass
    assert fits_the_phone(page)

    settings_form = page.locator("form[action$='/settings/']")
    settings_form.get_by_label("Minimum leverage").fill("5")
    settings_form.get_by_label("Maximum leverage").fill("2")
    settings_form.get_by_role("button", name="Save account settings").click()
    page.get_by_text("The maximum leverage is below the minimum.").wait_for()

    page.get_by_role("link", name="Telegram").click()
    page.get_by_role("button", name="Get a link code").click()
    page.locator("#link-command").wait_for()
    assert page.locator("#link-command").inner_text().startswith("/start ")
    page.get_by_role("button", name="Copy").wait_for()
    assert fits_the_phone(page)

    assert page.refused == []
