"""Content-Security-Policy in a real browser: the pages people use run with `script-src 'self'` and not one
script is refused (no inline script, no inline handler), and what the scripts do still works — the tenant
switcher submits, the staff form's templates prefill the flags, Swagger UI draws the API, the pay page
counts down."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_browser import PASSWORD_LABEL
from core.tests.browser import browser_page, needs_chromium
from tenancy.models import Role, Tenant
from tenancy.services import add_membership
from tenancy.tests.factories import make_super_admin

from .execution_support import held_order, make_world

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    with browser_page(live_server.url) as page:
        yield page


def test_pages_run_under_the_policy_with_nothing_refused(page, refs, tenant):
    order = held_order(make_world(refs), expires_at=timezone.now() + timedelta(minutes=20))
    second = Tenant.objects.create(name="Operator B")
    boss = make_super_admin(tenants=[tenant], email="boss@example.com")
    add_membership(tenant=second, user=boss)

    response = page.goto(f"/pay/{order.hash_id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".countdown").filter(has_text=re.compile(r"\d+:\d\d")).wait_for()  # pay.js runs

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(boss.email)
    page.get_by_label(PASSWORD_LABEL).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()

    page.get_by_label("Current tenant").select_option(label="Operator B")  # site.js submits the form
    page.wait_for_load_state("load")
    assert page.get_by_label("Current tenant").input_value() == str(second.pk)

    page.goto("/admin/tenancy/supportprofile/add/")
    page.locator("#id_role").select_option(value=str(Role.objects.get(key="support_orders").pk))
    assert page.locator("#id_can_manage_orders").is_checked()  # staff_flags.js prefilled the template
    assert not page.locator("#id_can_view_sensitive_data").is_checked()

    for path in ("/admin/", "/admin/audit/auditlog/", "/admin/accounts/user/", "/accounts/profile/"):
        assert page.goto(path).status == 200

    page.goto("/api/docs/")
    page.locator(".swagger-ui .info").wait_for()  # Swagger UI drew the schema from its own script file

    assert page.refused == []
