"""How shopbridge's browser tests start Debian's chromium through Playwright.

Never `playwright install`: the browser is the distribution's /usr/bin/chromium, passed as
`executable_path`, with the project's launch flags and a fresh user-data dir per launch; each
test then gets a context of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright, Route

CHROMIUM = "chromium"
# Required launch flags (project rule): headless, no sandbox (CI runs as root), no GPU, no QUIC,
# and nothing that phones home (first-run, background networking, component updates, sync).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    """Whether the browser may load `url`: only loopback http(s), data, blob and about URLs."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS


def launch(playwright: Playwright, executable: str) -> Browser:
    """Debian's chromium with the project's flags. Playwright gives each launch a new temporary
    user-data dir (and refuses one passed in `args`), so no state survives between launches."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Browser, blocked: list[str]) -> BrowserContext:
    """A fresh context (no cookies, no storage) at 1280×800; requests that are not for
    loopback are aborted and recorded in `blocked`."""

    def loopback_only(route: Route) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context = browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]  # a plain dict is what ViewportSize is
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    context.route("**/*", loopback_only)
    return context
