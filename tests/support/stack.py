"""The whole product on loopback: both sandboxes and the bridge, sharing one manual clock.

TikTok's webhooks reach the bridge's receiver over HTTP, the worker talks to both sandboxes
over HTTP through the real clients; only time is in the test's hands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from shopbridge.clock import ManualClock
from shopbridge.engine.inbox import PlatformInboxHandler
from shopbridge.engine.runtime import Runtime
from shopbridge.engine.worker import RetryPolicy, Worker
from shopbridge.sandbox.faults import Faults
from shopbridge.sandbox.invariants import check_invariants
from shopbridge.sandbox.shopify import ShopifySandbox, VariantSpec
from shopbridge.sandbox.tiktok import SkuSpec, TikTokSandbox
from shopbridge.serving import BackgroundServer
from shopbridge.store import MirrorRow, Store
from shopbridge.web.app import create_app

CATALOG = {"TEE-RED-L": ("19.99", 20), "MUG-BLUE": ("12.50", 20)}
SHOP = "demo"


@dataclass
class Stack:
    store: Store
    clock: ManualClock
    tiktok: TikTokSandbox
    shopify: ShopifySandbox
    tiktok_url: str
    shopify_url: str
    bridge_url: str
    shop_id: str
    connection_id: int
    worker: Worker
    runtime: Runtime

    async def settle(self, rounds: int = 40) -> None:
        """Let timers, webhooks and the worker run until nothing moves."""
        quiet = 0
        async with httpx.AsyncClient() as http:
            for _ in range(rounds):
                await http.post(f"{self.tiktok_url}/_sandbox/tick")
                await http.post(f"{self.shopify_url}/_sandbox/tick")
                handled = await self.worker.run_until_idle()
                quiet = quiet + 1 if handled == 0 else 0
                if quiet >= 2:
                    return
                await asyncio.sleep(0.02)

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()

    def mirror(self, order_id: str) -> MirrorRow:
        row = self.store.get_mirror(self.connection_id, order_id)
        assert row is not None, f"no mirror for TikTok order {order_id}"
        return row

    def shopify_order(self, order_id: str) -> dict[str, Any]:
        row = self.mirror(order_id)
        assert row.shopify_order_id is not None
        return self.shopify.order(SHOP, row.shopify_order_id)

    def shopify_orders_for(self, order_id: str) -> list[dict[str, Any]]:
        return [o for o in self.shopify.orders(SHOP) if o.get("source_identifier") == order_id]

    def breaches(self, settled: bool = True) -> list[str]:
        """What the invariant checker finds wrong across both sandboxes and the store."""
        found = check_invariants(
            self.tiktok,
            self.shop_id,
            self.shopify,
            SHOP,
            self.runtime.context(self.connection_id).policy,
            settled=settled,
            skus=tuple(CATALOG),
        )
        return [str(b) for b in found]

    def timeline(self, order_id: str) -> list[str]:
        return [entry.summary for entry in self.store.timeline(self.mirror(order_id).id)]


@asynccontextmanager
async def running_stack(
    store: Store,
    clock: ManualClock,
    faults: Faults | None = None,
    holdback_minutes: int = 60,
    region: str = "US",
    shopify_faults: Faults | None = None,
    reconcile_every: timedelta | None = None,
    stock: int | None = None,
) -> AsyncIterator[Stack]:
    tiktok = TikTokSandbox(clock=clock, faults=faults or Faults(seed=1))
    shopify = ShopifySandbox(clock=clock, faults=shopify_faults or Faults(seed=2))
    shop = tiktok.add_shop(name="Demo", region=region)
    store_credentials = shopify.add_shop(SHOP, plan="standard")
    units = {sku: stock or qty for sku, (_, qty) in CATALOG.items()}
    tiktok.add_product(
        shop.shop_id,
        title="Catalog",
        skus=[SkuSpec(sku, price, units[sku]) for sku, (price, _) in CATALOG.items()],
    )
    shopify.add_product(
        SHOP,
        title="Catalog",
        variants=[
            VariantSpec(sku=sku, price=price, available=units[sku])
            for sku, (price, _) in CATALOG.items()
        ],
    )
    runtime = Runtime(store, clock)
    with ExitStack() as stack:
        tiktok_server = stack.enter_context(BackgroundServer(tiktok.app))
        shopify_server = stack.enter_context(BackgroundServer(shopify.app))
        connection_id = store.add_connection(
            name="Demo",
            tiktok_app_key=shop.app_key,
            tiktok_app_secret=shop.app_secret,
            tiktok_access_token=shop.access_token,
            tiktok_refresh_token=shop.refresh_token,
            tiktok_shop_id=shop.shop_id,
            tiktok_shop_cipher=shop.shop_cipher,
            tiktok_region=region,
            tiktok_api_base_url=tiktok_server.base_url,
            tiktok_auth_base_url=tiktok_server.base_url,
            shopify_domain=store_credentials.domain,
            shopify_api_base_url=shopify_server.base_url,
            shopify_access_token=store_credentials.access_token,
            shopify_client_secret=store_credentials.client_secret,
            shopify_location_id=store_credentials.location_ids[0],
            holdback_minutes=holdback_minutes,
        )
        worker = Worker(
            store,
            clock,
            runtime.context,
            PlatformInboxHandler(store, runtime.context),
            worker_id="e2e",
            retry=RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=10)),
            seed=3,
            reconcile_every=reconcile_every,
        )
        bridge = stack.enter_context(BackgroundServer(create_app(store)))
        tiktok.set_webhook_url(shop.shop_id, f"{bridge.base_url}/webhooks/tiktok")
        for topic in ("fulfillments/create", "orders/cancelled"):
            shopify.subscribe_webhook(SHOP, topic, f"{bridge.base_url}/webhooks/shopify")
        try:
            yield Stack(
                store,
                clock,
                tiktok,
                shopify,
                tiktok_server.base_url,
                shopify_server.base_url,
                bridge.base_url,
                shop.shop_id,
                connection_id,
                worker,
                runtime,
            )
        finally:
            await runtime.aclose()
