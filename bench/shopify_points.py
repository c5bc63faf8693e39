"""Shopify points per order path, from the Shopify sandbox's own cost accounting.

Deterministic (a count, not a timing): both sandboxes and the bridge on loopback on a manual
clock; each path is run once for a warmed-up SKU and every request the Shopify sandbox answered
meanwhile is listed with the points it kept (its actual cost; the requested cost, charged first
and then refunded down to the actual, is shown too). Stock pushes (TikTok following Shopify's
counts) have their own budget and are listed apart.

    .venv/bin/python bench/shopify_points.py

Minimums (issue 14): reserve 20 (orderCreate + fulfillmentOrderHold), release 30 (orderUpdate
for the address + orderMarkAsPaid + fulfillmentOrderReleaseHold), cancel 10 (orderCancel),
tracking 0. Exit status 1 if a path spends more than its minimum.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from shopbridge.clock import ManualClock
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge_sandbox.loopback import Loopback, loopback

SKU = "TEE-RED-L"
STOCK_OPERATIONS = frozenset(
    {"ItemLevels", "LocationLevels", "InventoryLevel", "InventoryItemSku", "Locations"}
)
MINIMUM = {"reserve": 20, "release": 30, "cancel": 10, "tracking": 0}
HOLDBACK = timedelta(minutes=61)

Charges = list[tuple[str, int, int]]


async def settle(world: Loopback, clock: ManualClock) -> None:
    """Timers, webhooks and the worker until nothing moves (stock pushes get their second)."""
    quiet = 0
    for _ in range(60):
        await world.tiktok.tick()
        await world.shopify.tick()
        handled = await world.worker.run_until_idle()
        quiet = quiet + 1 if handled == 0 else 0
        if quiet >= 2:
            if not world.store.stock.due_count(world.connection_id):
                return
            clock.advance(timedelta(seconds=1))
            quiet = 0
        await asyncio.sleep(0.01)


async def charged(world: Loopback, step: Callable[[], Awaitable[None]]) -> Charges:
    bucket = world.shopify.bucket(world.shop_name)
    before = len(bucket.charges)
    await step()
    return list(bucket.charges)[before:]


async def measure() -> dict[str, Charges]:
    clock = ManualClock()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'points.sqlite3'}"
    upgrade_database(url)
    store = Store(create_db_engine(url), clock, SecretBox(SecretBox.generate_key()))
    paths: dict[str, Charges] = {}
    async with loopback(store, clock, worker_options={"reconcile_every": None}) as world:

        async def advance(delta: timedelta) -> None:
            clock.advance(delta)
            await settle(world, clock)

        def gid(order_id: str) -> str:
            row = store.get_mirror(world.connection_id, order_id)
            if row is None or row.shopify_order_id is None:
                raise SystemExit(f"INCORRECT: TikTok order {order_id} was never reserved")
            return row.shopify_order_id

        # Warm-up: the SKU's variant and stock links are looked up once, not per order.
        first = world.tiktok.create_order(world.shop_id, {SKU: 1}, paid=True)
        await advance(HOLDBACK)
        world.shopify.fulfill_order(world.shop_name, gid(first), "UPS", "1Z999AA10123456784")
        await settle(world, clock)

        order_id = world.tiktok.create_order(world.shop_id, {SKU: 1})
        paths["reserve"] = await charged(world, lambda: settle(world, clock))
        world.tiktok.pay(order_id)
        paths["paid (inside the holdback)"] = await charged(world, lambda: settle(world, clock))
        paths["release"] = await charged(world, lambda: advance(HOLDBACK))
        world.shopify.fulfill_order(world.shop_name, gid(order_id), "UPS", "1Z999AA10123456792")
        paths["tracking"] = await charged(world, lambda: settle(world, clock))

        cancelled = world.tiktok.create_order(world.shop_id, {SKU: 1})
        await settle(world, clock)
        world.tiktok.buyer_cancel(cancelled)
        paths["cancel"] = await charged(world, lambda: advance(timedelta(seconds=5)))
        for order, phase in ((order_id, "fulfilled"), (cancelled, "cancelled")):
            row = store.get_mirror(world.connection_id, order)
            if row is None or row.phase != phase:
                raise SystemExit(f"INCORRECT: {order} is {row and row.phase}, not {phase}")
    return paths


def main() -> None:
    paths = asyncio.run(measure())
    print("Shopify points per path (the sandbox's accounting; one warmed-up SKU, one unit)\n")
    print(f"{'path':<28}{'points':>7}{'minimum':>9}   calls (actual / requested)")
    over = []
    for path, charges in paths.items():
        order = [(op, req, act) for op, req, act in charges if op not in STOCK_OPERATIONS]
        stock = [(op, req, act) for op, req, act in charges if op in STOCK_OPERATIONS]
        points = sum(act for _, _, act in order)
        minimum = MINIMUM.get(path)
        calls = ", ".join(f"{op} {act}/{req}" for op, req, act in order) or "none"
        shown = "" if minimum is None else str(minimum)
        print(f"{path:<28}{points:>7}{shown:>9}   {calls}")
        if stock:
            spent = sum(act for _, _, act in stock)
            print(f"{'':<28}{'':>7}{'':>9}   + stock push: {spent} points ({len(stock)} reads)")
        if minimum is not None and points > minimum:
            over.append(f"{path} spends {points} points, minimum {minimum}")
    for line in over:
        print("OVER THE MINIMUM:", line)
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
