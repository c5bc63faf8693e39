"""The first end-to-end path: a TikTok order reaches Shopify as a pending, held order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from support.stack import SHOP, Stack, running_stack


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


async def test_unpaid_order_is_reserved_in_shopify(stack: Stack) -> None:
    """Row 1: a new TikTok order appears in Shopify as payment pending, on hold, stock committed."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 2, "MUG-BLUE": 1})
    await stack.settle()
    order = stack.shopify_order(order_id)
    assert order["financial_status"] == "PENDING"
    assert order["fulfillment_status"] == "ON_HOLD"
    stock = stack.shopify.inventory(SHOP, "TEE-RED-L")
    assert stock["committed"] == 2
    assert stock["available"] == 18


async def test_paid_order_released_after_holdback(stack: Stack) -> None:
    """Rows 3b and 4b: paid, unchanged during the holdback, released after re-reading TikTok."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})
    await stack.settle()
    stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=59))
    assert stack.shopify_order(order_id)["financial_status"] == "PENDING"
    await stack.advance(timedelta(minutes=2))
    order = stack.shopify_order(order_id)
    assert order["financial_status"] == "PAID"
    assert order["fulfillment_status"] == "UNFULFILLED"
    assert await stack.breaches() == []
