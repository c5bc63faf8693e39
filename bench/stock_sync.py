"""Stock sync: how fast TikTok follows Shopify, whether a sell-out oversells, and a full sync.

Everything runs over HTTP on loopback with the wall clock: both sandboxes (with their real rate
limits: Shopify's leaky bucket, TikTok's 50 requests per second per API) and shopbridge's worker
and webhook receivers, as `shopbridge serve` runs them. It prints figures and ratios; it never
asserts a time (it exits 1 only when the work came out wrong).

    .venv/bin/python bench/stock_sync.py lag --changes 100
    .venv/bin/python bench/stock_sync.py oversell
    .venv/bin/python bench/stock_sync.py full --skus 10000 --plan standard

1. lag: one Shopify change at a time on an idle system (the merchant sets a new available count
   in the admin), timed until TikTok shows what the rules give. Baseline in the same run: the
   time until the change's webhook is stored by shopbridge (what the push adds is the rest).
2. oversell: one SKU of 50 units sells out on the storefront (2/s) and on TikTok (5/s) at once,
   with a buffer of 2 (the default) and of 0.
3. full: a catalog of N SKUs (100 per product on both sides, every TikTok count wrong), linked,
   compared and corrected by `inventory sync`'s code; SKUs per second, and the ratio to the lower
   bound the platforms' limits impose (Shopify points for the catalog walk at the plan's restore
   rate after the initial bucket; TikTok calls at 50 per second per API).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from shopbridge.clock import SystemClock
from shopbridge.domain.stock import DEFAULT_RULE, tiktok_quantity
from shopbridge.engine import stock
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.tables import inbox
from shopbridge_sandbox.loopback import loopback
from shopbridge_sandbox.oversell import rehearse_oversell
from shopbridge_sandbox.shopify import VariantSpec
from shopbridge_sandbox.shopify.cost import PLANS
from shopbridge_sandbox.tiktok import SkuSpec

LAG_GOAL_SECONDS = 2.0
TIKTOK_QPS = 50
SKUS_PER_PRODUCT = 100
WALK_PAGE = 250
WALK_POINTS_PER_ITEM = 3  # InventoryLevel 1 + item 1 + quantities 1 (location-first walk)


def new_store() -> Store:
    clock = SystemClock()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'stock.sqlite3'}"
    upgrade_database(url)
    return Store(create_db_engine(url), clock, SecretBox(SecretBox.generate_key()))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def lag(changes: int) -> int:
    store = new_store()
    skus = [f"SKU-{n:02d}" for n in range(20)]
    catalog = dict.fromkeys(skus, ("10.00", 100))
    rng = random.Random(7)
    async with loopback(store, SystemClock(), catalog=catalog) as world:
        stop = asyncio.Event()
        worker = asyncio.create_task(world.worker.run(stop, idle_seconds=0.2))
        followed: list[float] = []
        stored: list[float] = []
        wrong = 0
        for _ in range(changes):
            sku = rng.choice(skus)
            now_available = world.shopify.inventory(world.shop_name, sku)["available"]
            target = rng.choice([n for n in range(40, 160) if n != now_available])
            expected = tiktok_quantity(target, DEFAULT_RULE)
            deliveries = _deliveries(store)
            started = time.perf_counter()
            await world.shopify_driver.set_available(world.shop_name, sku, target)
            seen_stored = None
            deadline = started + 30
            while world.tiktok.inventory(world.shop_id, sku) != expected:
                if seen_stored is None and _deliveries(store) > deliveries:
                    seen_stored = time.perf_counter() - started
                if time.perf_counter() > deadline:
                    wrong += 1
                    break
                await asyncio.sleep(0.005)
            followed.append(time.perf_counter() - started)
            stored.append(seen_stored if seen_stored is not None else followed[-1])
            await asyncio.sleep(0.3)  # idle again before the next change
        stop.set()
        await worker
    p50, p99 = statistics.median(followed), quantile(followed, 0.99)
    print(f"sync lag, {changes} Shopify changes one at a time (idle system, SQLite):")
    print(
        f"  Shopify change -> TikTok updated: p50 {p50:.3f} s, p99 {p99:.3f} s, "
        f"max {max(followed):.3f} s; p99 / goal ({LAG_GOAL_SECONDS:g} s) = "
        f"{p99 / LAG_GOAL_SECONDS:.2f}"
    )
    print(
        f"  baseline, Shopify change -> webhook stored: p50 {statistics.median(stored):.3f} s, "
        f"p99 {quantile(stored, 0.99):.3f} s (the push adds the rest: debounce "
        f"{stock_debounce():.1f} s, two reads and one write)"
    )
    if wrong:
        print(f"  WRONG: {wrong} changes never reached TikTok within 30 s")
    return 1 if wrong else 0


def stock_debounce() -> float:
    from shopbridge.store.stock import DEBOUNCE_SECONDS

    return DEBOUNCE_SECONDS


def _deliveries(store: Store) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as db:
        return int(db.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one())


async def oversell() -> int:
    print("oversell rehearsal: 50 units, storefront 2 sales/s, TikTok 5 orders/s (SQLite):")
    wrong = 0
    for buffer in (2, 0):
        result = await rehearse_oversell(new_store(), units=50, buffer=buffer)
        print(f"  {result.line()}")
        if result.tiktok_sold + result.storefront_sold < 50:
            wrong += 1
            print("  WRONG: not every unit was sold")
    return 1 if wrong else 0


async def full(skus: int, plan: str) -> int:
    store = new_store()
    rng = random.Random(11)
    async with loopback(store, SystemClock(), catalog={}, plan=plan) as world:
        products = (skus + SKUS_PER_PRODUCT - 1) // SKUS_PER_PRODUCT
        codes = [f"CAT-{n:05d}" for n in range(skus)]
        shopify_counts = {code: rng.randrange(0, 500) for code in codes}
        for p in range(products):
            chunk = codes[p * SKUS_PER_PRODUCT : (p + 1) * SKUS_PER_PRODUCT]
            world.tiktok.add_product(
                world.shop_id,
                f"Product {p}",
                # Every TikTok count wrong: the sync has to correct all of them.
                [
                    SkuSpec(c, "10.00", tiktok_quantity(shopify_counts[c], DEFAULT_RULE) + 1)
                    for c in chunk
                ],
            )
            world.shopify.add_product(
                world.shop_name,
                f"Product {p}",
                [VariantSpec(sku=c, price="10.00", available=shopify_counts[c]) for c in chunk],
            )
        cid = world.connection_id
        ctx = await world.service.contexts.context(cid)
        runner = "bench"
        lease = timedelta(minutes=2)
        rng_retry = random.Random(1)

        async def pusher() -> int:
            rows = await asyncio.to_thread(store.stock.claim, runner, 500, lease, cid)
            if rows:
                await stock.run_claimed(
                    store, ctx, rows, lease, lambda n: timedelta(seconds=rng_retry.uniform(1, 3)), 8
                )
            return len(rows)

        stages: dict[str, float] = {}
        started = time.perf_counter()

        def progress(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage, time.perf_counter() - started)

        sync_id = store.stock.start_sync(cid, runner, timedelta(minutes=5))
        assert sync_id is not None
        summary = await stock.run_full_sync(store, ctx, sync_id, pusher=pusher, progress=progress)
        elapsed = time.perf_counter() - started
        bucket = world.shopify.bucket(world.shop_name)
        wrong = sum(
            1
            for code in codes
            if world.tiktok.inventory(world.shop_id, code)
            != tiktok_quantity(shopify_counts[code], DEFAULT_RULE)
        )
        counts = store.stock.status_counts(cid)
        throttled, refused = bucket.throttled, world.tiktok.rate_limiter.refused
        spent = bucket.spent
    maximum, rate = PLANS[plan]
    walk_points = -(-skus // WALK_PAGE) * (3 + WALK_PAGE * WALK_POINTS_PER_ITEM)
    shopify_bound = max(0.0, walk_points - maximum) / rate
    tiktok_calls = {
        "search products": -(-products // 100),  # pages of 100 products
        "inventory search": -(-skus // 600),
        "inventory update": products,
    }
    tiktok_bound = max(calls / TIKTOK_QPS for calls in tiktok_calls.values())
    bound = max(shopify_bound, tiktok_bound)
    print(f"full sync, {skus:,} SKUs in {products} products, Shopify {plan} plan (SQLite):")
    print(f"  {summary}")
    print(
        f"  took {elapsed:.1f} s = {skus / elapsed:,.0f} SKUs/s; lower bound {bound:.1f} s "
        f"(Shopify: {walk_points:,} points for the walk, bucket {maximum:,}, {rate:,}/s -> "
        f"{shopify_bound:.1f} s; TikTok: {tiktok_bound:.1f} s); ratio to the bound "
        f"{elapsed / bound:.2f}"
    )
    print("  stages began at: " + ", ".join(f"{stage} {at:.1f} s" for stage, at in stages.items()))
    print(
        f"  Shopify points spent {spent:,.0f}; THROTTLED answers {throttled}; TikTok 429 "
        f"answers {refused}; SKUs failed {counts.get('failed', 0)}; TikTok counts still wrong "
        f"{wrong}"
    )
    return 1 if wrong or counts.get("failed") else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    lag_part = parts.add_parser("lag")
    lag_part.add_argument("--changes", type=int, default=100)
    parts.add_parser("oversell")
    full_part = parts.add_parser("full")
    full_part.add_argument("--skus", type=int, default=10_000)
    full_part.add_argument("--plan", choices=sorted(PLANS), default="standard")
    args = parser.parse_args()
    if args.part == "lag":
        return asyncio.run(lag(args.changes))
    if args.part == "oversell":
        return asyncio.run(oversell())
    return asyncio.run(full(args.skus, args.plan))


if __name__ == "__main__":
    sys.exit(main())
