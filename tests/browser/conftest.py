"""Browser fixtures: Debian's chromium driven by Playwright's sync API, on loopback only.

- `chromium_path`: the chromium binary. Without it (or without Playwright) browser tests are
  skipped locally, but under CI=true they fail: CI must never silently skip the browser tests
  (the same rule as PostgreSQL in tests/conftest.py). CI installs it with apt-get (.ci/run).
- `page`: a fresh chromium (new user-data dir) at 1280×800. Every request that is not for a
  loopback address is aborted and fails the test.
- `live`: the whole stack (both sandboxes and the bridge, on a manual clock) running behind the
  browser with a live worker; see live.py.

Browser tests run on SQLite only: the store's behaviour on PostgreSQL is covered by the route
and integration tests, and a second backend would double the slowest tests in the suite.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


@pytest.fixture
def page(chromium_path: str, tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh chromium profile at 1280×800 that can reach loopback only."""
    from playwright.sync_api import sync_playwright

    from browser.chromium import launch

    blocked: list[str] = []
    with sync_playwright() as playwright:
        context = launch(playwright, chromium_path, tmp_path / "chromium-profile", blocked)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
    assert blocked == [], f"the browser tried to leave loopback: {blocked}"


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
