"""The four copy-trading pages in a real browser at 390 px under the CSP: the New Account dialog creates an
account and the list refreshes (htmx), the dashboard draws its chart, a key is revealed after re-auth, the
masters page lists a listed master; nothing refused."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_browser import PASSWORD_LABEL
from core.tests.browser import fits_the_phone, needs_chromium, open_site_menu, phone_page
from tenancy.scoping import tenant_context
from trading.models import CopySettings, MasterTrade, TradingAccount

from .factories import TradingAccountFactory
from .support import make_trading_user

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    with phone_page(live_server.url) as page:
        yield page


def test_copytrade_pages_on_a_phone(page, tenant):
    person = make_trading_user(tenant, role_key="user", email="copy-browser@example.com")
    with tenant_context(tenant):
        master = TradingAccountFactory(user=person, name="Phone Master", role="master", exchange=None)
        CopySettings.objects.create(account=master, listed=True)
        for ticket, profit in ((1, "12"), (2, "-5"), (3, "8")):
            MasterTrade.objects.create(master=master, ticket=ticket, symbol="EURUSD", side="BUY", lots=Decimal("1"),
                                       initial_lots=Decimal("1"), open_price=Decimal("1.1"), status="closed",
                                       profit=Decimal(profit), closed_at=timezone.now())
        raw_key = master.api_key_encrypted

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label(PASSWORD_LABEL).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    open_site_menu(page)  # a phone: the header's links are behind "Menu"
    page.get_by_role("button", name="Log out").wait_for()

    page.goto("/accounts")
    page.get_by_role("button", name="New Account").click()
    dialog = page.locator("#new-account-dialog")
    dialog.get_by_label("Account name").fill("Phone Follower")
    dialog.locator("input[name=role][value=follower]").check()
    dialog.get_by_role("button", name="Create account").click()
    page.locator("#account-list").get_by_text("Phone Follower").wait_for()  # refreshed by htmx
    assert not dialog.is_visible()
    assert fits_the_phone(page)
    with tenant_context(tenant):
        assert TradingAccount.objects.filter(user=person, name="Phone Follower", role="follower").exists()

    page.locator("#account-list").get_by_role("link", name="Phone Master").click()
    page.locator("canvas#pnl-chart[data-drawn='true']").wait_for()
    assert page.locator("canvas#pnl-chart").get_attribute("data-points") == "3"
    assert fits_the_phone(page)

    page.goto("/users/settings")
    page.locator(f"#key-{master.pk}").get_by_role("button", name="Reveal").click()
    page.get_by_label("Your password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.locator(f"#key-{master.pk}").get_by_role("button", name="Reveal").click()
    page.locator(f"#key-text-{master.pk}[data-revealed='true']").wait_for()
    assert page.locator(f"#key-text-{master.pk}").text_content().strip() == raw_key
    assert fits_the_phone(page)

    page.goto("/masters")
    page.get_by_role("cell", name="Phone Master").wait_for()
    assert fits_the_phone(page)
    assert page.refused == []
