"""Debian's chromium through Playwright, for the browser tests: where it is, how it starts, and a page that
records what the Content-Security-Policy refused and any uncaught script error (`page.refused`)."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="chromium is not installed (apt-get install chromium); CI installs it")


@contextmanager
def browser_page(base_url: str | None = None) -> Iterator:
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM work happens in its own
    # thread, so Django's async guard can stand down here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(base_url=base_url)
        page.set_default_timeout(15_000)
        page.refused = []
        page.on("console", lambda message: page.refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.on("pageerror", lambda error: page.refused.append(f"page error: {error}"))
        try:
            yield page
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


PHONE = {"width": 390, "height": 844}


@contextmanager
def phone_page(base_url: str | None = None) -> Iterator:
    """`browser_page` at a phone's width (390 px)."""
    with browser_page(base_url) as page:
        page.set_viewport_size(PHONE)
        yield page


def fits_the_phone(page) -> bool:
    """No horizontal scroll at the phone's width."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def open_site_menu(page) -> None:
    """At a phone's width the site header's links sit behind its "Menu" button: open it (a no-op when wide)."""
    button = page.locator("label.site-menu-button")
    if button.count() and button.first.is_visible() and not page.locator("#site-menu-toggle").is_checked():
        button.first.click()
