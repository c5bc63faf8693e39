"""TikTok's stock follows Shopify's, over HTTP through both sandboxes (engine/stock.py).

Every change on Shopify (a storefront or POS sale, a restock, a manual count) reaches TikTok as
Shopify's `available` less the rules' buffer; TikTok orders are reserved in Shopify as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.domain.stock import StockRule
from shopbridge.engine import stock
from shopbridge.store import Store
from shopbridge_sandbox.shopify import VariantSpec
from shopbridge_sandbox.tiktok import SkuSpec
from support.stack import SHOP, Stack, running_stack

DEBOUNCE = timedelta(seconds=1)


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


async def follow(stack: Stack) -> None:
    """Let webhooks arrive, the debounce pass and the pushes run."""
    await stack.settle()
    await stack.advance(DEBOUNCE)


def on_tiktok(stack: Stack, sku: str) -> int:
    return stack.tiktok.inventory(stack.shop_id, sku)


async def test_storefront_and_pos_sales_and_a_restock_reach_tiktok(stack: Stack) -> None:
    assert on_tiktok(stack, "TEE-RED-L") == 18, "20 in Shopify, 2 kept back"
    stack.shopify.sell(SHOP, "TEE-RED-L", 3)
    stack.shopify.sell(SHOP, "TEE-RED-L", 2, channel="pos")
    await follow(stack)
    assert stack.shopify.inventory(SHOP, "TEE-RED-L")["available"] == 15
    assert on_tiktok(stack, "TEE-RED-L") == 13
    stack.shopify.set_available(SHOP, "TEE-RED-L", 40)  # a delivery came in
    await follow(stack)
    assert on_tiktok(stack, "TEE-RED-L") == 38
    row = stack.store.stock.sku(stack.connection_id, "TEE-RED-L")
    assert row is not None and row.status == "synced"
    history = [e.summary for e in stack.store.stock.history(row.id)]
    assert any(h.startswith("Shopify: available 40 at location") for h in history)
    assert any("Shopify available 40 → TikTok 38" in h for h in history)
    assert await stack.breaches() == []


async def test_a_tiktok_order_and_its_cancellation_keep_both_sides_in_step(stack: Stack) -> None:
    order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 4})
    await follow(stack)
    assert stack.mirror(order_id).phase == "held"
    assert stack.shopify.inventory(SHOP, "MUG-BLUE")["available"] == 16
    assert on_tiktok(stack, "MUG-BLUE") == 14
    stack.tiktok.buyer_cancel(order_id)
    await follow(stack)
    assert stack.shopify.inventory(SHOP, "MUG-BLUE")["available"] == 20, "restocked"
    assert on_tiktok(stack, "MUG-BLUE") == 18
    assert await stack.breaches() == []


async def test_rules_mapping_and_a_full_sync(stack: Stack) -> None:
    """A full sync links both catalogs (by seller SKU, or the merchant's mapping where codes
    differ), reports what it could not link, and corrects every linked SKU."""
    cid = stack.connection_id
    stack.tiktok.add_product(stack.shop_id, "Cap", [SkuSpec("TT-CAP", "9.00", 50)])
    stack.shopify.add_product(SHOP, "Cap", [VariantSpec(sku="CAP-01", price="9.00", available=7)])
    stack.tiktok.add_product(stack.shop_id, "Pin", [SkuSpec("PIN", "2.00", 5)])
    stack.store.stock.save_links(cid, [("TT-CAP", "CAP-01")])
    stack.service.contexts.forget(cid)  # as the Settings page does after a change
    stack.store.stock.save_rule(cid, "", StockRule(buffer_units=0, max_quantity=15))
    ctx = await stack.service.contexts.context(cid)
    sync_id = stack.store.stock.start_sync(cid, "test", timedelta(minutes=5))
    assert sync_id is not None

    async def pusher() -> int:
        stack.clock.advance(DEBOUNCE)
        return await stack.worker.process_stock()

    summary = await stock.run_full_sync(stack.store, ctx, sync_id, pusher=pusher)
    assert on_tiktok(stack, "TT-CAP") == 7, "mapped to CAP-01, which has 7"
    assert on_tiktok(stack, "TEE-RED-L") == 15, "at most 15 shown"
    assert on_tiktok(stack, "PIN") == 5, "not in Shopify: left alone"
    assert "3 SKUs follow Shopify; 1 TikTok SKUs have no Shopify match" in summary
    pin = stack.store.stock.sku(cid, "PIN")
    assert pin is not None and pin.status == "unlinked"
    assert "No Shopify variant has SKU PIN" in (pin.last_error or "")
    # A TikTok order for the mapped SKU is reserved against the Shopify variant it maps to.
    order_id = stack.tiktok.create_order(stack.shop_id, {"TT-CAP": 2})
    await follow(stack)
    assert stack.mirror(order_id).phase == "held"
    assert stack.shopify.inventory(SHOP, "CAP-01")["available"] == 5
    assert on_tiktok(stack, "TT-CAP") == 5


async def test_a_promotion_lock_is_shown_with_a_retry(stack: Stack) -> None:
    stack.tiktok.promotion_lock(stack.shop_id, "MUG-BLUE")
    stack.shopify.sell(SHOP, "MUG-BLUE", 5)
    await follow(stack)
    row = stack.store.stock.sku(stack.connection_id, "MUG-BLUE")
    assert row is not None and row.status == "failed"
    assert "locked for a promotion" in (row.last_error or "")
    assert on_tiktok(stack, "MUG-BLUE") == 18, "TikTok kept its count"
    stack.tiktok.promotion_lock(stack.shop_id, "MUG-BLUE", locked=False)
    assert stack.store.stock.retry_now(stack.connection_id, "MUG-BLUE") == 1
    await follow(stack)
    assert on_tiktok(stack, "MUG-BLUE") == 13


async def test_locations_feed_their_mapped_warehouses(
    store: Store, manual_clock: ManualClock
) -> None:
    """Two Shopify locations, two TikTok warehouses: each warehouse gets its location's share;
    a third warehouse nobody mapped is never zeroed."""
    warehouses = ("East", "West", "3PL")
    async with running_stack(store, manual_clock, tiktok_warehouses=warehouses) as stack:
        east, west, third = stack.tiktok.warehouse_ids(stack.shop_id)
        stack.tiktok.add_product(
            stack.shop_id,
            "Scarf",
            [SkuSpec("SCARF", "15.00", warehouse_quantities={east: 1, west: 1, third: 4})],
        )
        scarf = VariantSpec(sku="SCARF", price="15.00", available=30)
        stack.shopify.add_product(SHOP, "Scarf", [scarf])
        second = stack.shopify.add_location(SHOP, "Second store")
        stack.shopify.set_available(SHOP, "SCARF", 10, location_id=second)
        first = stack.store.get_connection(stack.connection_id).shopify_location_id
        assert first is not None
        stack.store.stock.save_warehouse_map(stack.connection_id, {first: east, second: west})
        stack.store.stock.save_rule(stack.connection_id, "", StockRule(buffer_units=0))
        stack.store.stock.mark(stack.connection_id, ["SCARF"])
        await follow(stack)
        by_warehouse = stack.tiktok.stock(stack.shop_id, "SCARF")["warehouses"]
        assert by_warehouse == {east: 30, west: 10, third: 4}
