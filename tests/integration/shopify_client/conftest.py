"""The Shopify client against the Shopify sandbox over real HTTP on loopback.

Fixtures: `sandbox` (ManualClock, seeded faults), `store` (a Standard shop "demo"), `tee`
(SKU TEE-RED-L, 10 available, DENY policy: its variant and inventory item ids), `server` (the
sandbox on 127.0.0.1), `shopify` (a ShopifyClient for the store, with a private cost bucket),
and `webhook_sink` (a loopback endpoint recording every delivery it receives).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from shopbridge.clock import ManualClock
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.throttle import ShopBucket
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec
from support.webhook_sink import Received
from support.webhook_sink import WebhookSink as BaseSink


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> ShopifySandbox:
    return ShopifySandbox(clock=clock, faults=Faults(seed=1))


@pytest.fixture
def store(sandbox: ShopifySandbox) -> StoreCredentials:
    return sandbox.add_shop("demo", plan="standard")


@pytest.fixture
def tee(sandbox: ShopifySandbox, store: StoreCredentials) -> dict[str, str]:
    product = sandbox.add_product(
        store.name,
        title="Tee",
        variants=[VariantSpec(sku="TEE-RED-L", price="19.99", available=10)],
    )
    ids: dict[str, str] = product["variants"]["TEE-RED-L"]
    return ids


@pytest.fixture
def server(sandbox: ShopifySandbox) -> Iterator[BackgroundServer]:
    with BackgroundServer(sandbox.app) as running:
        yield running


@pytest.fixture
def bucket() -> ShopBucket:
    """A private cost bucket, so no state leaks between tests through the process registry."""
    return ShopBucket()


@pytest.fixture
async def shopify(
    server: BackgroundServer, store: StoreCredentials, bucket: ShopBucket
) -> AsyncIterator[ShopifyClient]:
    async with ShopifyClient(
        store.domain, store.access_token, base_url=server.base_url, bucket=bucket
    ) as client:
        yield client


Delivery = Received


@dataclass
class WebhookSink(BaseSink):
    """Records POSTs to /webhooks/shopify and answers 200."""

    path: str = "/webhooks/shopify"

    @property
    def deliveries(self) -> list[Received]:
        return self.received

    def of_topic(self, topic: str) -> list[Received]:
        return self.with_header("x-shopify-topic", topic)


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    with BackgroundServer(sink.app()) as running:
        sink.url = f"{running.base_url}/webhooks/shopify"
        yield sink
