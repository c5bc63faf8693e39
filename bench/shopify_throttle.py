"""Shopify throttle: N mutations through ShopifyClient against a Standard shop's cost bucket.

The Shopify sandbox runs in-process on loopback (BackgroundServer) with a real-time leaky
bucket (Standard: 2000 points, restoring 100/s; shopify_api.md §8). The client sends N
`inventoryAdjustQuantities` mutations at once (asyncio.gather), each with its own idempotency
key, so the only thing pacing them is the shop's bucket as the client models it.

Printed figures:
- total s: wall-clock time for all N mutations;
- lower bound s: (N × requested cost − bucket size) / restore rate, the least time the bucket
  allows (requestedQueryCost as the sandbox reported it);
- ratio: total / lower bound (1.0 would be a perfect pacer on an infinitely fast server);
- THROTTLED absorbed: throttled answers the client waited out and retried itself.

It prints figures and never asserts timing. It exits 1 only if the work came out wrong: a
mutation failed (e.g. a THROTTLED error reached the caller) or stock did not rise by exactly N.

Run: .venv/bin/python bench/shopify_throttle.py [--mutations 500] [--bucket-size 2000]
     [--restore-rate 100]
(The defaults are Standard's; 500 mutations then take at least 30 s. Smaller buckets with
faster restore rates finish sooner while keeping the bucket the bottleneck.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyError
from shopbridge.shopify.models import InventoryDelta
from shopbridge.shopify.throttle import ShopBucket
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, VariantSpec

SKU = "BENCH-TEE"


async def run(mutations: int, bucket_size: int | None, restore_rate: int | None) -> int:
    sandbox = ShopifySandbox()
    store = sandbox.add_shop("bench", plan="standard")
    item_id = sandbox.add_product(store.name, "Bench tee", [VariantSpec(sku=SKU)])["variants"][SKU][
        "inventory_item_id"
    ]
    shop_bucket = sandbox.bucket(store.name)
    if bucket_size is not None:
        shop_bucket.maximum = bucket_size
    if restore_rate is not None:
        shop_bucket.restore_rate = restore_rate
    sandbox.set_bucket(store.name, shop_bucket.maximum)
    change = InventoryDelta(inventory_item_id=item_id, location_id=store.location_id, delta=1)

    model = ShopBucket()
    with BackgroundServer(sandbox.app) as server:
        async with ShopifyClient(
            store.domain, store.access_token, base_url=server.base_url, bucket=model
        ) as shopify:
            started = time.monotonic()
            outcomes = await asyncio.gather(
                *(
                    shopify.adjust_inventory(
                        [change], reason="correction", idempotency_key=f"bench-{n}"
                    )
                    for n in range(mutations)
                ),
                return_exceptions=True,
            )
            elapsed = time.monotonic() - started

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    cost = model.last_requested("AdjustInventory") or 0
    lower_bound = max(0.0, (mutations * cost - shop_bucket.maximum) / shop_bucket.restore_rate)
    ratio = elapsed / lower_bound if lower_bound else float("nan")
    stock = sandbox.inventory(store.name, SKU)["available"]

    print(f"machine load (1 min): {os.getloadavg()[0]:.2f}")
    print(
        f"shop bucket: {shop_bucket.maximum} points, restoring {shop_bucket.restore_rate}/s; "
        f"requested cost per mutation: {cost}"
    )
    print(
        f"{'mutations':>10} {'total s':>9} {'lower bound s':>14} {'ratio':>7} "
        f"{'THROTTLED absorbed':>19} {'failed':>7}"
    )
    print(
        f"{mutations:>10} {elapsed:>9.2f} {lower_bound:>14.2f} {ratio:>7.2f} "
        f"{model.throttled_responses:>19} {len(failures):>7}"
    )

    wrong = False
    if failures:
        wrong = True
        kinds = sorted({type(f).__name__ for f in failures})
        print(f"INCORRECT: {len(failures)} mutations failed ({', '.join(kinds)})", file=sys.stderr)
        first = next((f for f in failures if isinstance(f, ShopifyError)), failures[0])
        print(f"  first: {first}", file=sys.stderr)
    if stock != mutations - len(failures):
        wrong = True
        print(
            f"INCORRECT: stock rose by {stock}, expected {mutations - len(failures)}",
            file=sys.stderr,
        )
    return 1 if wrong else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=500)
    parser.add_argument("--bucket-size", type=int, default=None, help="default: Standard's 2000")
    parser.add_argument("--restore-rate", type=int, default=None, help="default: Standard's 100/s")
    args = parser.parse_args()
    return asyncio.run(run(args.mutations, args.bucket_size, args.restore_rate))


if __name__ == "__main__":
    sys.exit(main())
