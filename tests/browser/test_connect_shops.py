"""A merchant connects both shops in the browser, from an empty database: the first account from
the setup link, Add a connection, Connect Shopify (approve on Shopify's page), Connect TikTok Shop
(authorize on TikTok's seller page), and the order placed next is on hold in Shopify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from shopbridge.store import SecretBox
from shopbridge.web.setup import setup_code
from support.connect_stack import SESSION_KEY, ConnectStack, connect_stack

if TYPE_CHECKING:
    from playwright.sync_api import Page

EMAIL, PASSWORD = "owner@example.com", "correct horse battery staple"


@pytest.fixture
def stack(db_url: str, secret_box: SecretBox) -> Iterator[ConnectStack]:
    with connect_stack(db_url, secret_box) as running:
        yield running


def test_both_shops_connected_with_two_buttons(page: Page, stack: ConnectStack) -> None:
    from playwright.sync_api import expect

    # The first account, from the link `shopbridge serve` prints on an empty database.
    page.goto(f"{stack.app_url}/setup?code={setup_code(SESSION_KEY)}")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_test_id("setup-submit").click()

    page.get_by_label("Name").fill("My shop")
    page.get_by_test_id("create-connection").click()
    expect(page.get_by_test_id("missing-settings")).to_have_count(0)
    expect(page.get_by_test_id("platform-addresses")).to_contain_text("/webhooks/shopify")

    page.get_by_label("Store").fill("demo.myshopify.com")
    page.get_by_test_id("connect-shopify-button").click()
    expect(page.get_by_role("heading", name="Install shopbridge")).to_be_visible()
    page.get_by_role("button", name="Install").click()
    expect(page.get_by_test_id("flash")).to_contain_text(
        "Shopify store demo.myshopify.com connected"
    )

    page.get_by_test_id("connect-tiktok-button").click()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Both platforms are connected")

    store = stack.service.store
    [connection] = store.list_connections()
    assert connection.status == "active"
    assert connection.tiktok_shop_id is not None
    # Paid at once, so that the orders list shows it (unpaid orders are not listed yet).
    order_id = stack.tiktok.create_order(connection.tiktok_shop_id, {"TEE-RED-L": 1}, paid=True)
    placed = time.monotonic()

    async def until_held() -> float:
        held_after = 0.0

        async def watch() -> None:
            nonlocal held_after
            for _ in range(100):
                row = store.get_mirror(connection.id, order_id)
                if row is not None and row.phase == "held":
                    held_after = time.monotonic() - placed
                    return
                await asyncio.sleep(0.05)

        await stack.run_workers(1, seconds=0.0, act=watch)
        return held_after

    # Playwright's sync API holds this thread's event loop: the worker runs in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        held_after = pool.submit(asyncio.run, until_held()).result()
    assert held_after > 0, "the order was held in Shopify"
    print(f"held in Shopify {held_after:.2f} s after the TikTok order")
    page.get_by_test_id("to-orders").click()
    expect(page.get_by_text(order_id)).to_be_visible()
