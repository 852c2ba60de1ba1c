"""A real browser: Debian's chromium, headless, driven by Playwright (nothing downloaded),
started for each test.
Where chromium is missing the browser tests are skipped, unless ENTITLEMENTS_REQUIRE_BROWSER
is set (CI sets it, after installing chromium), when they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """Per test: Playwright's sync API keeps an event loop running while it lives, which
    would break other tests of the same worker that run one of their own."""
    if CHROMIUM is None:
        if os.environ.get("ENTITLEMENTS_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
