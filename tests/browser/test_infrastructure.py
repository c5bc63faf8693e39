"""The browser harness itself: chromium reaches the bridge on loopback and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from browser.chromium import is_loopback

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from browser.live import LiveStack

pytestmark = pytest.mark.browser


def test_chromium_loads_the_bridge_over_loopback(page: Page, live: LiveStack) -> None:
    """Debian's chromium fetches the running bridge's health page over 127.0.0.1."""
    response = page.goto(f"{live.stack.bridge_url}/healthz")
    assert response is not None and response.ok
    assert '"status":"ok"' in page.content().replace(" ", "")


def test_only_loopback_urls_are_allowed() -> None:
    """The guard lets loopback and inline URLs through and blocks every other host."""
    assert is_loopback("http://127.0.0.1:8000/orders")
    assert is_loopback("data:image/png;base64,AAAA")
    assert not is_loopback("https://unpkg.com/htmx.org")
    assert not is_loopback("http://10.0.0.1/")
