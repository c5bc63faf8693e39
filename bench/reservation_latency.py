"""Reservation latency on an idle system: TikTok order created -> Shopify order on hold.

Both sandboxes and the bridge run on loopback with the wall clock, exactly as `shopbridge serve`
would run next to real platforms: the TikTok sandbox pushes its webhook, the bridge stores it and
wakes the worker, the worker re-reads the order and creates and holds the Shopify order. The
script creates one order at a time and measures until the Shopify sandbox shows it ON_HOLD.
It prints figures (median, worst) and their ratio to the one-second target; it never asserts.

    .venv/bin/python bench/reservation_latency.py --orders 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from shopbridge.clock import SystemClock
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge_sandbox.loopback import Loopback, loopback

TARGET_SECONDS = 1.0


async def measure(orders: int) -> list[float]:
    clock = SystemClock()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'latency.sqlite3'}"
    upgrade_database(url)
    store = Store(create_db_engine(url), clock, SecretBox(SecretBox.generate_key()))
    catalog = {"TEE-RED-L": ("19.99", orders + 5)}
    async with loopback(store, clock, catalog=catalog) as world:
        stop = asyncio.Event()
        task = asyncio.create_task(world.worker.run(stop, idle_seconds=0.2))
        latencies = []
        for _ in range(orders):
            started = time.perf_counter()
            order_id = world.tiktok.create_order(world.shop_id, {"TEE-RED-L": 1})
            while not _held(world, order_id):  # noqa: ASYNC110 - polling the platforms is the measurement
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.5)  # idle again before the next order
        stop.set()
        await task
    return latencies


def _held(world: Loopback, order_id: str) -> bool:
    row = world.store.get_mirror(world.connection_id, order_id)
    if row is None or not row.shopify_order_id:
        return False
    return (
        world.shopify.order(world.shop_name, row.shopify_order_id)["fulfillment_status"]
        == "ON_HOLD"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.orders))
    median, worst = statistics.median(latencies), max(latencies)
    print(f"reservation latency over {len(latencies)} orders on an idle system (SQLite):")
    print(f"  median {median * 1000:.0f} ms ({median / TARGET_SECONDS:.2f}× the 1 s target)")
    print(f"  worst  {worst * 1000:.0f} ms ({worst / TARGET_SECONDS:.2f}× the 1 s target)")


if __name__ == "__main__":
    main()
