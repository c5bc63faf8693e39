"""Shopify points per path, counted by the Shopify sandbox's own cost accounting (issue 14).

A Standard shop restores 100 points a second, so every point an order's path spends is time
another order waits in a flash sale. Each path must spend exactly what its mutations need:

| path | Shopify calls | points |
|---|---|---|
| reserve | orderCreate (fulfillment orders in its answer) + fulfillmentOrderHold | 20 |
| release | orderUpdate (the address) + orderMarkAsPaid + fulfillmentOrderReleaseHold | 30 |
| cancel | orderCancel (the webhook it causes reads nothing) | 10 |
| tracking | none: the fulfillment webhook's signed body says what shipped | 0 |

These are counts from the sandbox's ledger (`LeakyBucket.charges`: operation, requested and
actual points of every answered request), never timings. Stock pushes (TikTok following
Shopify's counts) have their own budget and are counted apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from support.stack import SHOP, Stack, running_stack

HOLDBACK = timedelta(minutes=61)
# What the stock sync reads and writes: its own budget (bench/stock_sync.py), not an order's.
STOCK_OPERATIONS = frozenset(
    {"ItemLevels", "LocationLevels", "InventoryLevel", "InventoryItemSku", "Locations"}
)


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


async def charged(stack: Stack, step: Callable[[], Awaitable[None]]) -> list[tuple[str, int]]:
    """(operation, actual points) of every order request Shopify answered during `step`."""
    bucket = stack.shopify.bucket(SHOP)
    before = len(bucket.charges)
    await step()
    return [
        (operation, actual)
        for operation, _requested, actual in list(bucket.charges)[before:]
        if operation not in STOCK_OPERATIONS
    ]


async def warmed(stack: Stack) -> None:
    """One order through every step first, so the SKU's variant and stock links are known
    (looked up once per SKU, not once per order)."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    await stack.advance(HOLDBACK)
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, company="UPS", number="1Z999AA10123456784")
    await stack.settle()
    assert stack.mirror(order_id).phase == "fulfilled"


async def test_reserve_release_and_tracking_spend_their_minimum(stack: Stack) -> None:
    await warmed(stack)
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})

    reserve = await charged(stack, stack.settle)
    assert stack.mirror(order_id).phase == "held"
    assert reserve == [("CreateOrder", 10), ("HoldFulfillmentOrder", 10)]

    stack.tiktok.pay(order_id)
    paid = await charged(stack, stack.settle)
    assert paid == []  # payment is TikTok's news: nothing to tell Shopify inside the holdback

    release = await charged(stack, lambda: stack.advance(HOLDBACK))
    assert stack.mirror(order_id).phase == "released"
    assert release == [
        ("UpdateOrderShippingAddress", 10),
        ("MarkOrderAsPaid", 10),
        ("ReleaseFulfillmentOrderHolds", 10),
    ]

    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, company="UPS", number="1Z999AA10123456792")
    tracking = await charged(stack, stack.settle)
    assert stack.mirror(order_id).phase == "fulfilled"
    assert stack.tiktok.order(order_id)["status"] in ("IN_TRANSIT", "AWAITING_COLLECTION")
    assert tracking == []
    assert await stack.breaches() == []


async def test_cancel_spends_one_order_cancel(stack: Stack) -> None:
    await warmed(stack)
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})
    await stack.settle()
    assert stack.mirror(order_id).phase == "held"

    stack.tiktok.buyer_cancel(order_id)
    cancel = await charged(stack, lambda: stack.advance(timedelta(seconds=5)))
    assert stack.mirror(order_id).phase == "cancelled"
    assert stack.shopify_order(order_id)["cancelled_at"] is not None
    assert cancel == [("CancelOrder", 10)]
    assert await stack.breaches() == []
