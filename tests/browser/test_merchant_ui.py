"""Issue 6 in a real browser: a merchant logs in, watches a paid order arrive while the whole
stack runs, approves a cancellation request and sees the order struck through, has a refused
approval explained, and gets an unknown carrier shipped by mapping it and pressing Retry. Both
sandboxes and the bridge run on loopback (`live`), chromium drives the web app. Reading an
order's timeline is in test_order_states.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from browser.day import UNKNOWN_CARRIER, UPS_TRACKING
from browser.merchant import (
    EMAIL,
    HOLDBACK,
    LIST_REFRESH_TIMEOUT_MS,
    add_user,
    badges,
    create_user,
    is_struck_through,
    log_in,
    order_row,
    reload_until,
)
from support.stack import SHOP

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from browser.live import LiveStack
    from support.stack import Stack

pytestmark = pytest.mark.browser


def orders_url(ui_url: str, live: LiveStack) -> str:
    return f"{ui_url}/connections/{live.stack.connection_id}/orders"


def order_url(ui_url: str, live: LiveStack, order_id: str) -> str:
    return f"{orders_url(ui_url, live)}/{order_id}"


def released_order_with_request(live: LiveStack) -> tuple[str, str]:
    """A paid order released after the holdback, then a buyer's cancellation request on it."""
    order_id = live.call(lambda s: s.tiktok.create_order(s.shop_id, {"TEE-RED-L": 1}, paid=True))
    live.advance(HOLDBACK + timedelta(minutes=1))
    cancel_id = live.call(lambda s: s.tiktok.request_cancellation(order_id))
    live.settle()
    return order_id, cancel_id


def released_order_fulfilled_with(live: LiveStack, company: str) -> str:
    """A released order the merchant fulfilled in Shopify with tracking from `company`."""
    order_id = live.call(lambda s: s.tiktok.create_order(s.shop_id, {"TEE-RED-L": 1}, paid=True))
    live.advance(HOLDBACK + timedelta(minutes=1))

    def fulfil(stack: Stack) -> None:
        gid = stack.mirror(order_id).shopify_order_id
        assert gid is not None
        stack.shopify.fulfill_order(SHOP, gid, company=company, number=UPS_TRACKING)

    live.call(fulfil)
    live.settle()
    return order_id


def test_merchant_logs_in_and_sees_the_orders_list(
    page: Page, live: LiveStack, ui_url: str
) -> None:
    """A user made with `shopbridge user create` logs in and lands on their orders list."""
    create_user(live)
    log_in(page, ui_url)
    assert page.url == orders_url(ui_url, live)
    assert page.get_by_role("heading", name="Orders").is_visible()
    assert EMAIL in page.content()


def test_wrong_password_keeps_the_merchant_out(page: Page, live: LiveStack, ui_url: str) -> None:
    """A wrong password shows the login page again with an error, and no orders."""
    add_user(live)
    log_in(page, ui_url, password="not the password")
    assert page.locator('[data-testid="login-error"]').is_visible()
    page.goto(orders_url(ui_url, live))
    assert "/login" in page.url


def test_paid_order_appears_in_the_open_list_while_the_stack_runs(
    signed_in: Page, live: LiveStack
) -> None:
    """With the list open, a paid TikTok order shows up by itself, badged with its holdback end
    in the merchant's timezone; an unpaid one stays out of the list."""
    page = signed_in
    live.call(lambda s: s.store.update_connection(s.connection_id, timezone="America/New_York"))
    page.reload()
    unpaid = live.call(lambda s: s.tiktok.create_order(s.shop_id, {"MUG-BLUE": 1}))
    paid = live.call(lambda s: s.tiktok.create_order(s.shop_id, {"TEE-RED-L": 2}, paid=True))
    row = order_row(page, paid)
    row.wait_for(timeout=LIST_REFRESH_TIMEOUT_MS)
    # Paid at 09:00 UTC on 2 Nov 2026: the holdback ends at 10:00 UTC, 05:00 in New York (EST).
    assert badges(row) == ["In holdback until 05:00"]
    assert order_row(page, unpaid).count() == 0
    assert live.call(lambda s: s.mirror(unpaid).shopify_order_id) is not None


def test_approving_a_cancellation_request_cancels_and_strikes_the_order_through(
    signed_in: Page, live: LiveStack, ui_url: str
) -> None:
    """Approve on a requested cancellation cancels the order on both platforms; the detail says
    Canceled and the list strikes the order through."""
    page = signed_in
    order_id, cancel_id = released_order_with_request(live)
    page.goto(orders_url(ui_url, live))
    requested = badges(order_row(page, order_id))
    assert any(b.startswith("Cancellation request until") for b in requested)
    page.goto(order_url(ui_url, live, order_id))
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    status = page.get_by_test_id("order-status")
    reload_until(page, lambda: "Canceled" in status.inner_text())
    assert live.call(lambda s: s.tiktok.order(order_id)["status"]) == "CANCELLED"
    assert live.call(lambda s: s.shopify_order(order_id)["cancelled_at"]) is not None
    page.goto(orders_url(ui_url, live))
    row = order_row(page, order_id)
    assert is_struck_through(row)
    assert badges(row) == ["Canceled"]
    request = live.call(lambda s: s.tiktok.cancellation(cancel_id))
    assert request["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    assert live.run(lambda s: s.breaches()) == []


def test_unknown_carrier_mapped_in_settings_then_retried_ships_on_tiktok(
    signed_in: Page, live: LiveStack, ui_url: str
) -> None:
    """An order held back by a carrier TikTok does not know ships on TikTok once the merchant
    maps that carrier in Settings and presses Retry on the order."""
    page = signed_in
    order_id = released_order_fulfilled_with(live, UNKNOWN_CARRIER)
    page.goto(order_url(ui_url, live, order_id))
    assert UNKNOWN_CARRIER in page.get_by_test_id("attention").inner_text()
    page.get_by_role("link", name="Settings").click()
    page.fill('input[name="shopify_company"]', UNKNOWN_CARRIER)
    page.fill('input[name="tiktok_provider"]', "UPS")
    page.get_by_test_id("add-carrier").click()
    page.wait_for_load_state()
    assert page.locator(f'[data-testid="carrier-row"][data-company="{UNKNOWN_CARRIER}"]').count()
    page.goto(order_url(ui_url, live, order_id))
    page.get_by_test_id("retry").first.click()
    page.wait_for_load_state()
    tracking = page.get_by_test_id("tracking")
    reload_until(page, lambda: "sent to TikTok as UPS" in tracking.inner_text())
    assert page.get_by_test_id("attention").count() == 0
    shipped = live.call(lambda s: s.tiktok.order(order_id))
    assert (shipped["shipping_provider"], shipped["tracking_number"]) == ("UPS", UPS_TRACKING)


def test_approval_of_a_fulfilled_order_is_refused_in_plain_words(
    signed_in: Page, live: LiveStack, ui_url: str
) -> None:
    """Approving a cancellation request for an order already fulfilled in Shopify is refused,
    the page says why, and nothing is cancelled anywhere."""
    page = signed_in
    # An unknown carrier keeps the shipment off TikTok, so the request stays open to answer.
    order_id = released_order_fulfilled_with(live, UNKNOWN_CARRIER)
    live.call(lambda s: s.tiktok.request_cancellation(order_id))
    live.settle()
    page.goto(order_url(ui_url, live, order_id))
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert "already fulfilled" in page.get_by_role("alert").first.inner_text()
    live.settle()
    page.reload()
    assert "Canceled" not in page.get_by_test_id("order-status").inner_text()
    assert live.call(lambda s: s.tiktok.order(order_id)["status"]) != "CANCELLED"
    assert live.call(lambda s: s.shopify_order(order_id)["cancelled_at"]) is None


def test_merchant_cancels_an_out_of_stock_item_then_restocks_a_return(
    signed_in: Page, live: LiveStack, ui_url: str
) -> None:
    """Issue 13 in the browser: on a two-item order the merchant ticks the mug and cancels it
    on TikTok (Shopify follows); the tee ships, comes back as a return, and Restock puts it
    back on sale."""
    page = signed_in
    items = {"TEE-RED-L": 1, "MUG-BLUE": 1}
    order_id = live.call(lambda s: s.tiktok.create_order(s.shop_id, items, paid=True))
    live.advance(HOLDBACK + timedelta(minutes=1))
    page.goto(order_url(ui_url, live, order_id))
    assert page.get_by_test_id("item").count() == 2
    mug = live.call(
        lambda s: next(
            li["id"]
            for li in s.tiktok.order(order_id)["line_items"]
            if li["seller_sku"] == "MUG-BLUE"
        )
    )
    page.locator(f'[data-testid="cancel-item"][value="{mug}"]').check()
    page.get_by_test_id("cancel-items-submit").click()
    page.wait_for_load_state()
    live.settle()
    mug_row = page.locator(f'[data-testid="item"][data-unit-id="{mug}"]')
    reload_until(page, lambda: "cancelled by the seller" in mug_row.inner_text())
    assert "removed from Shopify" in mug_row.get_by_test_id("item-shopify").inner_text()

    def ship_and_return(stack: Stack) -> str:
        gid = stack.mirror(order_id).shopify_order_id
        assert gid is not None
        stack.shopify.fulfill_order(SHOP, gid, company="UPS", number=UPS_TRACKING)
        return gid

    live.call(ship_and_return)
    live.settle()
    live.call(lambda s: s.tiktok.carrier_collect(order_id))
    live.call(lambda s: s.tiktok.deliver(order_id))
    tee = live.call(
        lambda s: next(
            li["id"]
            for li in s.tiktok.order(order_id)["line_items"]
            if li["seller_sku"] == "TEE-RED-L"
        )
    )
    return_id = live.call(lambda s: s.tiktok.create_return(order_id, [tee]))
    live.call(lambda s: s.tiktok.advance_return(return_id, "COMPLETE"))
    live.settle()
    before = live.call(lambda s: s.shopify.inventory(SHOP, "TEE-RED-L")["available"])
    page.goto(order_url(ui_url, live, order_id))
    page.get_by_test_id("restock").click()
    page.wait_for_load_state()
    live.settle()
    after = live.call(lambda s: s.shopify.inventory(SHOP, "TEE-RED-L")["available"])
    assert after == before + 1
    state = page.get_by_test_id("restock-state")
    reload_until(page, lambda: "restocked" in state.inner_text())
    assert live.run(lambda s: s.breaches()) == []
