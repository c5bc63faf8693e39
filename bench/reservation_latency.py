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
from contextlib import ExitStack
from pathlib import Path

from shopbridge.clock import SystemClock
from shopbridge.engine.inbox import PlatformInboxHandler
from shopbridge.engine.runtime import Runtime
from shopbridge.engine.worker import Worker
from shopbridge.sandbox.faults import Faults
from shopbridge.sandbox.shopify import ShopifySandbox, VariantSpec
from shopbridge.sandbox.tiktok import SkuSpec, TikTokSandbox
from shopbridge.serving import BackgroundServer
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.web.app import create_app

TARGET_SECONDS = 1.0


async def measure(orders: int) -> list[float]:
    clock = SystemClock()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'latency.sqlite3'}"
    upgrade_database(url)
    store = Store(create_db_engine(url), clock, SecretBox(SecretBox.generate_key()))
    tiktok = TikTokSandbox(clock=clock, faults=Faults())
    shopify = ShopifySandbox(clock=clock, faults=Faults())
    shop = tiktok.add_shop(name="Bench", region="US")
    creds = shopify.add_shop("bench")
    tiktok.add_product(shop.shop_id, "Tee", [SkuSpec("TEE", "19.99", orders + 5)])
    shopify.add_product(
        "bench", "Tee", [VariantSpec(sku="TEE", price="19.99", available=orders + 5)]
    )
    runtime = Runtime(store, clock)
    loop = asyncio.get_running_loop()
    with ExitStack() as servers:
        t_url = servers.enter_context(BackgroundServer(tiktok.app)).base_url
        s_url = servers.enter_context(BackgroundServer(shopify.app)).base_url
        cid = store.add_connection(
            name="Bench",
            tiktok_app_key=shop.app_key,
            tiktok_app_secret=shop.app_secret,
            tiktok_access_token=shop.access_token,
            tiktok_refresh_token=shop.refresh_token,
            tiktok_shop_id=shop.shop_id,
            tiktok_shop_cipher=shop.shop_cipher,
            tiktok_region="US",
            tiktok_api_base_url=t_url,
            tiktok_auth_base_url=t_url,
            shopify_domain=creds.domain,
            shopify_api_base_url=s_url,
            shopify_access_token=creds.access_token,
            shopify_client_secret=creds.client_secret,
            shopify_location_id=creds.location_ids[0],
        )
        worker = Worker(store, clock, runtime.context, PlatformInboxHandler(store, runtime.context))
        app = create_app(store, wake=lambda: loop.call_soon_threadsafe(worker.wake.set))
        bridge_url = servers.enter_context(BackgroundServer(app)).base_url
        tiktok.set_webhook_url(shop.shop_id, f"{bridge_url}/webhooks/tiktok")
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop, idle_seconds=0.2))
        latencies = []
        for _ in range(orders):
            started = time.perf_counter()
            order_id = tiktok.create_order(shop.shop_id, {"TEE": 1})
            while True:
                row = store.get_mirror(cid, order_id)
                if (
                    row is not None
                    and row.shopify_order_id
                    and (
                        shopify.order("bench", row.shopify_order_id)["fulfillment_status"]
                        == "ON_HOLD"
                    )
                ):
                    break
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.5)  # idle again before the next order
        stop.set()
        await task
        await runtime.aclose()
    return latencies


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
