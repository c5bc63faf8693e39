"""The browser harness itself: the browser may reach loopback and nothing else."""

from __future__ import annotations

from browser.chromium import is_loopback


def test_only_loopback_urls_are_allowed() -> None:
    """The guard lets loopback and inline URLs through and blocks every other host."""
    assert is_loopback("http://127.0.0.1:8000/orders")
    assert is_loopback("data:image/png;base64,AAAA")
    assert not is_loopback("https://unpkg.com/htmx.org")
    assert not is_loopback("http://10.0.0.1/")
