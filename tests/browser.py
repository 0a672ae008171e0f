"""Headless Chromium for page tests: Debian's package, driven by Playwright.

The test setup installs what it needs itself (Debian's ``chromium`` through
apt when it is missing, ``tests/debian_packages.py``), so a fresh machine or
CI needs nothing by hand.
Playwright's own browser download is never used: it cannot reach its host here.
"""

import time

import pytest

from tests import debian_packages

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach
# Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def ensure_chromium():
    """Install Debian's chromium if it is missing; returns its path."""
    return debian_packages.ensure("chromium", "chromium", paths=(CHROMIUM,))


def wait_until(page, expression, timeout=10.0, step=0.01):
    """Wait until ``expression`` is true in ``page``; returns its value.

    Not ``page.wait_for_function``: while it polls, Playwright evaluates the
    expression as a string inside the page, which the pages' and the kiosk's
    Content-Security-Policy refuse (no 'unsafe-eval'). ``page.evaluate`` runs
    from outside the page's policy.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value or time.monotonic() > deadline:
            assert value, f"still false after {timeout} s: {expression}"
            return value
        time.sleep(step)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    yield page
    context.close()
