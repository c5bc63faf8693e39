"""A burst of mutations against a Standard shop's cost bucket (shopify_api.md §8)."""

from __future__ import annotations

import asyncio

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.models import InventoryDelta
from shopbridge.shopify.throttle import ShopBucket
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

BURST = 500


async def test_burst_of_500_mutations_never_surfaces_throttling(
    shopify: ShopifyClient,
    bucket: ShopBucket,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, str],
) -> None:
    """500 concurrent inventory mutations all succeed, each applied once, with the client
    waiting on its bucket model instead of any THROTTLED error reaching the caller."""
    # A Standard bucket (2000 points, 100/s) would make this take ~30 s of real time; a
    # smaller bucket that restores faster keeps the bucket the bottleneck for a few seconds.
    sandbox_bucket = sandbox.bucket(store.name)
    sandbox_bucket.maximum, sandbox_bucket.restore_rate = 200, 1000
    sandbox.set_bucket(store.name, 200)
    change = InventoryDelta(
        inventory_item_id=tee["inventory_item_id"], location_id=store.location_id, delta=1
    )

    results = await asyncio.gather(
        *(
            shopify.adjust_inventory([change], reason="correction", idempotency_key=f"burst-{n}")
            for n in range(BURST)
        )
    )

    assert len(results) == BURST
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10 + BURST
    assert bucket.waited_seconds > 0  # the bucket, not the server, set the pace
