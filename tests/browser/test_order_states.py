"""The orders list and an order's page after a scripted morning on the live stack (day.py),
one order in each state; also where the README's screenshots come from.

The morning is played once for the module (the slowest part); the tests only read it. With
SHOPBRIDGE_SCREENSHOTS=DIR the screenshots are written to DIR (docs/screenshots for the
README), else to a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser.chromium import VIEWPORT
from browser.day import UNKNOWN_CARRIER, UPS_TRACKING, Morning, play_morning
from browser.live import LiveStack
from browser.merchant import add_user, badges, is_struck_through, log_in, order_row, served_ui

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


class MorningSite:
    def __init__(self, live: LiveStack, ui_url: str, morning: Morning) -> None:
        self.live, self.ui_url, self.morning = live, ui_url, morning

    @property
    def orders_url(self) -> str:
        return f"{self.ui_url}/connections/{self.live.stack.connection_id}/orders"

    def order_url(self, order_id: str) -> str:
        return f"{self.orders_url}/{order_id}"


@pytest.fixture(scope="module")
def site(
    chromium_path: str, _migrated_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MorningSite]:
    """The morning played once on its own SQLite store, with the web app serving it."""
    from shopbridge.clock import ManualClock
    from shopbridge.store import SecretBox, Store, create_db_engine

    path = tmp_path_factory.mktemp("morning") / "shopbridge.sqlite3"
    shutil.copyfile(_migrated_sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    clock = ManualClock()
    store = Store(engine, clock, SecretBox(SecretBox.generate_key()))
    try:
        with LiveStack(store, clock) as live, served_ui(live) as ui_url:
            morning = play_morning(live)
            add_user(live)
            yield MorningSite(live, ui_url, morning)
    finally:
        engine.dispose()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $SHOPBRIDGE_SCREENSHOTS, else this test's temporary directory."""
    wanted = os.environ.get("SHOPBRIDGE_SCREENSHOTS", "").strip()
    directory = Path(wanted) if wanted else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_orders_list_badges_each_state_and_leaves_out_unpaid_orders(
    page: Page, site: MorningSite, screenshots: Path
) -> None:
    """Each paid order carries the badge of its state (holdback end in the merchant's Pacific
    time), the cancelled one is struck through, and the unpaid one is not listed."""
    morning = site.morning
    log_in(page, site.ui_url)
    page.goto(site.orders_url)
    # Paid at 10:25 UTC: the holdback ends at 11:25 UTC, 03:25 in Los Angeles (PST).
    assert badges(order_row(page, morning.in_holdback)) == ["In holdback until 03:25"]
    assert badges(order_row(page, morning.ready)) == ["Ready to fulfil"]
    fulfilled = badges(order_row(page, morning.fulfilled))
    assert len(fulfilled) == 1 and fulfilled[0].startswith("Fulfilled")
    assert UPS_TRACKING in fulfilled[0]
    requested = badges(order_row(page, morning.requested))
    assert any(b.startswith("Cancellation request until") for b in requested)
    attention = badges(order_row(page, morning.unknown_carrier))
    assert "Needs attention: carrier not accepted by TikTok" in attention
    cancelled = order_row(page, morning.cancelled)
    assert badges(cancelled) == ["Canceled"]
    assert is_struck_through(cancelled)
    assert not is_struck_through(order_row(page, morning.ready))
    assert order_row(page, morning.unpaid).count() == 0
    shot = screenshots / "orders.png"
    page.screenshot(path=shot)
    assert png_size(shot) == (VIEWPORT["width"], VIEWPORT["height"])


def test_order_page_shows_tracking_sent_to_tiktok_and_the_timeline(
    page: Page, site: MorningSite, screenshots: Path
) -> None:
    """Opened from the list, a fulfilled order's page shows its UPS tracking as sent to TikTok
    and its whole timeline, each entry in the merchant's time."""
    order_id = site.morning.fulfilled
    log_in(page, site.ui_url)
    page.goto(site.orders_url)
    order_row(page, order_id).get_by_role("link").first.click()
    page.wait_for_load_state()
    assert page.url == site.order_url(order_id)
    tracking = page.get_by_test_id("tracking").inner_text()
    assert UPS_TRACKING in tracking and "sent to TikTok" in tracking
    # The product as TikTok names it on the order line, not the sandbox's catalogue.
    assert "Classic Tee — Red, L" in page.get_by_test_id("items").inner_text()
    steps = page.get_by_test_id("timeline-steps").inner_text()
    assert "Shipped" in steps and "Tracking sent to TikTok" in steps
    # The full log is folded away until asked for.
    timeline = page.get_by_test_id("timeline")
    assert not timeline.is_visible()
    page.get_by_text("Show technical details").click()
    summaries = site.live.call(lambda s: s.timeline(order_id))
    assert timeline.get_by_test_id("timeline-entry").count() == len(summaries)
    for summary in summaries:
        assert summary in timeline.inner_text()
    # Reserved at 09:00 UTC, 01:00 Pacific.
    assert "2026-11-02 01:00" in timeline.inner_text()
    page.evaluate("window.scrollTo(0, 0)")  # the screenshot shows the summary on top
    shot = screenshots / "order-detail.png"
    page.screenshot(path=shot)
    assert png_size(shot) == (VIEWPORT["width"], VIEWPORT["height"])


def test_unknown_carrier_is_named_on_the_order_with_a_retry(page: Page, site: MorningSite) -> None:
    """An order fulfilled with a carrier TikTok does not know names that carrier and offers
    Retry, instead of dropping the tracking silently."""
    log_in(page, site.ui_url)
    page.goto(site.order_url(site.morning.unknown_carrier))
    attention = page.get_by_test_id("attention").inner_text()
    assert UNKNOWN_CARRIER in attention
    assert page.get_by_test_id("retry").count() >= 1
