"""One walk through identity in a real browser: register → verify → log in →
turn on MFA → log out → log in with a code. Debian's chromium via Playwright."""

import re
import time

import pyotp
import pytest
from django.core import mail

from core.tests.browser import browser_page, needs_chromium

PASSWORD_LABEL = re.compile(r"^Password:?$")

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def page(live_server):
    with browser_page(live_server.url) as page:
        yield page


def _link_in_last_email(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    return re.search(r"https?://\S+", message.body).group(0)


def _path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.django_db(transaction=True)
def test_register_verify_login_enable_mfa_logout_login_with_code(page):
    email, password = "browser.user@example.com", "Plum-Orbit-Lantern-42"

    # Register
    page.goto("/accounts/register/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Full name").fill("Browser User")
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_label(re.compile(r"^Password again:?$")).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("email", exact=False).first.wait_for()

    # Verify from the emailed link
    page.goto(_path_of(_link_in_last_email(email)))
    assert "verif" in page.content().lower()

    # Log in with the password
    _log_in(page, email, password)
    page.get_by_role("button", name="Log out").wait_for()

    # Turn on MFA with the key shown on the set-up page
    page.goto("/accounts/security/mfa/setup/")
    page.locator("details summary").click()
    secret = re.sub(r"\s+", "", page.get_by_label("secret key").inner_text())
    totp = pyotp.TOTP(secret)
    page.get_by_label("6-digit code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_label("backup codes").locator("li").all_inner_texts()
    assert len(codes) == 10

    # Log out, then log in again: the password alone is not enough any more
    page.get_by_role("button", name="Log out").click()
    _log_in(page, email, password)
    page.get_by_label("Authentication code or backup code").wait_for()
    # The set-up code's time step was used; the next step's code is inside the ±1 window.
    page.get_by_label("Authentication code or backup code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("button", name="Log out").wait_for()

    page.goto("/accounts/sessions/")
    assert "this device" in page.content().lower()
