"""Both sandboxes and the bridge on loopback ports, sharing one clock.

One place that wires the whole product together the way an operator would run it next to the
real platforms: a TikTok shop and a Shopify store (sandboxes, seeded with a catalog), a stored
connection between them, the bridge's web app receiving both platforms' webhooks, and a worker
talking to both over HTTP through the real clients, all in this process (a rehearsal runs the
same pieces as processes of their own). The demo, the end-to-end tests and the benchmarks all
start from here; the scenario and the invariant checker reach the sandboxes over HTTP, through
`driver`, as they do in a rehearsal.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shopbridge.bootstrap import Shopbridge, bootstrap
from shopbridge.clock import Clock
from shopbridge.config import Settings
from shopbridge.domain import events as ev
from shopbridge.domain.stock import DEFAULT_RULE, tiktok_quantity
from shopbridge.engine.bridge import Bridge
from shopbridge.engine.worker import Worker
from shopbridge.store import Store
from shopbridge_sandbox.driver import ShopifyDriver, TikTokDriver
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.invariants import Breach, Observer
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, VariantSpec
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

# seller SKU -> (price, units available in Shopify; TikTok shows what the default rules give, as
# in a shop shopbridge has already synced)
Catalog = Mapping[str, tuple[str, int]]
DEFAULT_CATALOG: Catalog = {"TEE-RED-L": ("19.99", 20), "MUG-BLUE": ("12.50", 20)}
# What the demo's SKUs are called on both platforms: each its own product, as a real shop lists
# them, so an order shows "Classic Tee — Red, L" (TikTok's product_name), not a catalogue name.
# Any other SKU (a benchmark's) is listed with the rest under one product, as before.
PRODUCT_NAMES: Mapping[str, str] = {
    "TEE-RED-L": "Classic Tee — Red, L",
    "MUG-BLUE": "Enamel Mug — Blue",
}
OTHER_PRODUCTS = "Sandbox stock"
SHOP = "demo"
SHOPIFY_TOPICS = (
    "fulfillments/create",
    "fulfillments/update",
    "orders/cancelled",
    "inventory_levels/update",
    "orders/create",
    "refunds/create",
)


@dataclass
class Loopback:
    store: Store
    clock: Clock
    tiktok: TikTokSandbox
    shopify: ShopifySandbox
    shop: ShopCredentials
    shop_name: str
    connection_id: int
    tiktok_url: str
    shopify_url: str
    bridge_url: str
    service: Shopbridge
    worker: Worker
    catalog: Catalog
    tiktok_driver: TikTokDriver
    shopify_driver: ShopifyDriver
    observer: Observer

    @property
    def shop_id(self) -> str:
        return self.shop.shop_id

    @property
    def merchant(self) -> BridgeMerchant:
        return BridgeMerchant(self.service.bridge, self.connection_id)

    async def breaches(self, settled: bool = True) -> list[Breach]:
        """What the invariant checker finds wrong across both sandboxes (read over HTTP)."""
        return await self.observer.breaches(settled=settled)


class BridgeMerchant:
    """The merchant answering in shopbridge, in-process: the web UI's path without the UI."""

    def __init__(self, bridge: Bridge, connection_id: int) -> None:
        self.bridge, self.connection_id = bridge, connection_id

    async def approve_cancellation(self, order_id: str, cancel_id: str) -> str | None:
        event = ev.MerchantApprovedCancellation(cancel_id, "demo")
        decision = await asyncio.to_thread(self.bridge.apply, self.connection_id, order_id, event)
        return decision.refusal


@asynccontextmanager
async def loopback(
    store: Store,
    clock: Clock,
    *,
    catalog: Catalog = DEFAULT_CATALOG,
    tiktok_faults: Faults | None = None,
    shopify_faults: Faults | None = None,
    region: str = "US",
    tiktok_warehouses: tuple[str, ...] = (),
    plan: str = "standard",
    holdback_minutes: int = 60,
    carrier_mapping: Mapping[str, str] | None = None,
    worker_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Loopback]:
    tiktok = TikTokSandbox(clock=clock, faults=tiktok_faults or Faults(seed=1))
    # shopbridge does not poll cancel jobs: done on the next tick, also on a clock tests move.
    shopify = ShopifySandbox(
        clock=clock, faults=shopify_faults or Faults(seed=2), cancel_job_delay=timedelta(0)
    )
    shop = tiktok.add_shop(name="Demo TikTok Shop", region=region, warehouses=tiktok_warehouses)
    credentials = shopify.add_shop(SHOP, plan=plan)
    for title, skus in _products(catalog).items():  # a benchmark may bring its own products
        tiktok.add_product(
            shop.shop_id,
            title,
            [SkuSpec(s, p, tiktok_quantity(q, DEFAULT_RULE)) for s, (p, q) in skus.items()],
        )
        shopify.add_product(
            SHOP,
            title,
            [VariantSpec(sku=s, price=p, available=q) for s, (p, q) in skus.items()],
        )
    loop = asyncio.get_running_loop()
    with ExitStack() as servers:
        tiktok_url = servers.enter_context(BackgroundServer(tiktok.app)).base_url
        shopify_url = servers.enter_context(BackgroundServer(shopify.app)).base_url
        connection_id = store.add_connection(
            name="Demo",
            tiktok_app_key=shop.app_key,
            tiktok_app_secret=shop.app_secret,
            tiktok_access_token=shop.access_token,
            tiktok_refresh_token=shop.refresh_token,
            tiktok_shop_id=shop.shop_id,
            tiktok_shop_cipher=shop.shop_cipher,
            tiktok_region=shop.region,
            tiktok_api_base_url=tiktok_url,
            tiktok_auth_base_url=tiktok_url,
            shopify_domain=credentials.domain,
            shopify_api_base_url=shopify_url,
            shopify_access_token=credentials.access_token,
            shopify_client_secret=credentials.client_secret,
            shopify_location_id=credentials.location_ids[0],
            holdback_minutes=holdback_minutes,
            carrier_mapping=dict(carrier_mapping or {}),
        )
        service = bootstrap(Settings(), store=store, clock=clock)
        worker = service.worker(**(worker_options or {}))

        def wake() -> None:  # webhooks arrive on the server's thread; the worker runs on ours
            loop.call_soon_threadsafe(worker.wake.set)

        # Sessions live as long as this loopback run, so a fresh random key is the right one.
        app = service.web(wake=wake, secret_key=secrets.token_urlsafe(32))
        bridge_url = servers.enter_context(BackgroundServer(app)).base_url
        tiktok.set_webhook_url(shop.shop_id, f"{bridge_url}/webhooks/tiktok")
        for topic in SHOPIFY_TOPICS:
            shopify.subscribe_webhook(SHOP, topic, f"{bridge_url}/webhooks/shopify")
        tiktok_driver, shopify_driver = TikTokDriver(tiktok_url), ShopifyDriver(shopify_url)
        observer = Observer(
            tiktok_driver,
            shop.shop_id,
            shopify_driver,
            SHOP,
            service.contexts.policy(connection_id).holdback,
            skus=tuple(catalog),
        )
        try:
            yield Loopback(
                store,
                clock,
                tiktok,
                shopify,
                shop,
                SHOP,
                connection_id,
                tiktok_url,
                shopify_url,
                bridge_url,
                service,
                worker,
                catalog,
                tiktok_driver,
                shopify_driver,
                observer,
            )
        finally:
            await tiktok_driver.aclose()
            await shopify_driver.aclose()
            await service.aclose()


def _products(catalog: Catalog) -> dict[str, dict[str, tuple[str, int]]]:
    """The catalog as products: title -> its SKUs (the named ones alone, the rest together)."""
    products: dict[str, dict[str, tuple[str, int]]] = {}
    for sku, listing in catalog.items():
        products.setdefault(PRODUCT_NAMES.get(sku, OTHER_PRODUCTS), {})[sku] = listing
    return products
