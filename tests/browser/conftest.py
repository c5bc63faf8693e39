"""Browser fixtures: Debian's chromium driven by Playwright's sync API, on loopback only.

- `chromium_path`: the chromium binary. Without it (or without Playwright) browser tests are
  skipped locally, but under CI=true they fail: CI must never silently skip the browser tests
  (the same rule as PostgreSQL in tests/conftest.py). CI installs it with apt-get (.ci/run).
- `browser`: chromium launched once per module (Playwright gives each launch a new user-data dir).
- `page`: a page in a new context (no cookies, no storage) at 1280×800. Every request that is
  not for a loopback address is aborted and fails the test, as does an uncaught script error
  or a failed script, stylesheet or htmx request.
- `live`: the whole stack (both sandboxes and the bridge, on a manual clock) running behind the
  browser with a live worker; see live.py.

Browser tests run on SQLite only: the store's behaviour on PostgreSQL is covered by the route
and integration tests, and a second backend would double the slowest tests in the suite.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from browser.live import LiveStack
    from shopbridge.clock import ManualClock
    from shopbridge.store import Store


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true but {reason}: CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (never a browser downloaded by `playwright install`)."""
    try:
        import playwright.sync_api  # noqa: F401  # only checking that Playwright is installed
    except ImportError:
        _missing("Playwright is not installed")
    from browser.chromium import CHROMIUM

    path = shutil.which(CHROMIUM)
    if path is None:
        _missing("chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One chromium per test module (a launch costs about a second), with a fresh profile."""
    from playwright.sync_api import sync_playwright

    from browser.chromium import launch

    with sync_playwright() as playwright:
        launched = launch(playwright, chromium_path)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own (no cookies, no storage) at 1280×800, loopback only."""
    from browser.chromium import new_context

    blocked: list[str] = []
    script_errors: list[str] = []
    context = new_context(browser, blocked)
    try:
        opened = context.new_page()
        opened.on("pageerror", lambda error: script_errors.append(str(error)))
        # A page may answer 401/404 on purpose; a script, stylesheet or htmx fragment may not.
        opened.on(
            "response",
            lambda response: (
                script_errors.append(f"{response.status} {response.url}")
                if response.status >= 400 and response.request.resource_type != "document"
                else None
            ),
        )
        yield opened
    finally:
        context.close()
    assert blocked == [], f"the browser tried to leave loopback: {blocked}"
    assert script_errors == [], f"script errors or failed subresources: {script_errors}"


@pytest.fixture(scope="module", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id at its smallest cost in this process (as the route tests do): production cost
    is about a second per login on a busy two-core box and would dominate these tests."""
    from argon2 import PasswordHasher

    from shopbridge.web import accounts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        )
        yield


@pytest.fixture
def db_backend() -> str:
    """Browser tests use SQLite only (see the module docstring)."""
    return "sqlite"


@pytest.fixture
def live(store: Store, manual_clock: ManualClock) -> Iterator[LiveStack]:
    """Both sandboxes and the bridge on loopback, with a worker running as `serve` runs it."""
    from browser.live import LiveStack

    with LiveStack(store, manual_clock) as running:
        yield running


@pytest.fixture
def ui_url(live: LiveStack) -> Iterator[str]:
    """The merchant web app serving the live stack's store and clock, waking its worker."""
    from browser.merchant import served_ui

    with served_ui(live) as base_url:
        yield base_url


@pytest.fixture
def signed_in(page: Page, live: LiveStack, ui_url: str) -> Page:
    """The page, logged in as a merchant (made as `shopbridge user create` makes one)."""
    from browser.merchant import add_user, log_in

    add_user(live)
    log_in(page, ui_url)
    return page
