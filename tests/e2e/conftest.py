"""Browser tests: Playwright's sync API drives Debian's Chromium against the live_server.

Every test in this package is marked `browser` (run only these with `pytest -m browser`, skip them
with `-m "not browser"`) and skipped when /usr/bin/chromium is missing. `playwright install` is
never needed: the browser is the system one.

Set E2E_SCREENSHOTS=/some/dir to save a screenshot of each step (see `shot()`), e.g. to look at
the pages while changing templates. Nothing is written by default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's password
HERE = Path(__file__).parent
SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOTS", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: touch only the ones in this package.
    skip = pytest.mark.skip(
        reason=f"Chromium is not installed at {CHROMIUM} (apt install chromium)"
    )
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.browser)
        if not CHROMIUM.exists():
            item.add_marker(skip)


# Package scope rather than session scope: while Playwright runs, the test thread has a running
# asyncio loop, which changes how Django looks up database connections (asgiref keeps them per
# context instead of per thread) and breaks asyncio.run(). All tests here use live_server, so
# pytest-django's ordering by database use keeps them together: the browser is still launched once
# per run, and stopped before any test outside this package.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs its event loop in the test thread; Django then refuses ORM
        # calls from that thread ("You cannot call this from an async context") unless told
        # otherwise. Set only while the browser tests run: `manage.py check --deploy` flags it.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as instance:
            yield instance


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def context(
    browser: Browser, live_server: LiveServer, backoffice_roles: None
) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def login(page: Page, live_server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait until the login page is left."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    shot(page, f"login-{username}")
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot when E2E_SCREENSHOTS names a directory."""
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)
