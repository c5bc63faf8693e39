"""Webhook subscription and verification, auth, 5xx, timeouts and throttling: the client
against the sandbox over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyAuthError, ShopifyRetryable
from shopbridge.shopify.models import OrderLine
from shopbridge.shopify.throttle import ShopBucket
from shopbridge.shopify.webhooks import (
    HMAC_HEADER,
    ShopifyWebhook,
    parse_webhook,
    verify_shopify_hmac,
)
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .conftest import Delivery, WebhookSink


class FaultsOffAfterFirstRequest(httpx.AsyncHTTPTransport):
    """A real loopback transport that switches the sandbox's API faults off once the first
    request has been answered (or has failed), so a test sees exactly one fault."""

    def __init__(self, sandbox: ShopifySandbox) -> None:
        super().__init__()
        self._sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        finally:
            self._sandbox.faults.settings.update(
                {"api_error_rate": 0, "api_timeout_rate": 0, "api_429_rate": 0}
            )


def _client(server: BackgroundServer, store: StoreCredentials, **options: object) -> ShopifyClient:
    options.setdefault("bucket", ShopBucket())
    return ShopifyClient(store.domain, store.access_token, base_url=server.base_url, **options)  # type: ignore[arg-type]


async def _delivery(sandbox: ShopifySandbox, sink: WebhookSink, topic: str) -> Delivery:
    for _ in range(200):
        await sandbox.tick()
        if received := sink.of_topic(topic):
            return received[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {topic} delivery reached the sink")


async def test_subscribed_fulfillment_webhook_verifies_and_reads_tracking(
    shopify: ShopifyClient,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, str],
    webhook_sink: WebhookSink,
) -> None:
    """A fulfillments/create delivery to our subscription verifies with the client secret and
    reads back the order and the merchant's carrier and tracking number."""
    subscription = await shopify.create_webhook_subscription(
        "fulfillments/create", webhook_sink.url
    )
    assert (subscription.topic, subscription.uri) == ("FULFILLMENTS_CREATE", webhook_sink.url)
    created = await shopify.create_order(
        source_identifier="577",
        currency="USD",
        lines=[OrderLine(variant_id=tee["id"], quantity=1, unit_price="19.99")],
    )
    sandbox.fulfill_order(store.name, created.id, company="UPS", number="1Z999AA10123456784")

    delivery = await _delivery(sandbox, webhook_sink, "fulfillments/create")
    assert verify_shopify_hmac(
        delivery.body, delivery.headers[HMAC_HEADER.lower()], ["rotated-away", store.client_secret]
    )
    notice = parse_webhook(delivery.headers, delivery.body).fulfillment()
    assert notice.order_id == created.id
    assert (notice.tracking_company, notice.tracking_numbers) == ("UPS", ("1Z999AA10123456784",))


async def test_webhook_signed_with_another_secret_fails_verification(
    shopify: ShopifyClient,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    webhook_sink: WebhookSink,
) -> None:
    """A real delivery does not verify against a secret that is not the shop's."""
    await shopify.create_webhook_subscription("app/uninstalled", webhook_sink.url)
    sandbox.uninstall_app(store.name)
    delivery = await _delivery(sandbox, webhook_sink, "app/uninstalled")
    assert not verify_shopify_hmac(
        delivery.body, delivery.headers[HMAC_HEADER.lower()], ["not-the-secret"]
    )
    notice = parse_webhook(delivery.headers, delivery.body).app_uninstalled()
    assert notice.shop_domain == store.domain


async def test_wrong_token_raises_auth_error(
    server: BackgroundServer, store: StoreCredentials
) -> None:
    """The sandbox's 401 for a bad token becomes ShopifyAuthError quoting Shopify's text."""
    async with ShopifyClient(
        store.domain, "shpat_wrong", base_url=server.base_url, bucket=ShopBucket()
    ) as client:
        with pytest.raises(ShopifyAuthError, match="Invalid API key or access token"):
            await client.locations()


async def test_persistent_server_errors_raise_retryable(
    server: BackgroundServer, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """When every answer is a 500 the client retries, then raises ShopifyRetryable."""
    sandbox.faults.settings.update({"api_error_rate": 1.0})
    async with _client(server, store, max_attempts=3, backoff_base=0.01) as client:
        with pytest.raises(ShopifyRetryable, match="HTTP 500"):
            await client.locations()


async def test_one_server_error_is_retried_transparently(
    server: BackgroundServer, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """A single 500 is retried and the caller gets the answer."""
    sandbox.faults.settings.update({"api_error_rate": 1.0})
    transport = FaultsOffAfterFirstRequest(sandbox)
    async with _client(server, store, transport=transport, backoff_base=0.01) as client:
        assert [loc.id for loc in await client.locations()] == [store.location_id]


async def test_create_order_timeout_does_not_create_a_duplicate(
    server: BackgroundServer, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """orderCreate that lands but answers too late is found by TikTok id, not created twice."""
    sandbox.faults.settings.update({"api_timeout_rate": 1.0, "api_timeout_seconds": 1.0})
    transport = FaultsOffAfterFirstRequest(sandbox)
    async with _client(
        server, store, transport=transport, timeout=0.3, backoff_base=0.01
    ) as client:
        created = await client.create_order(
            source_identifier="577000111222333",
            currency="USD",
            lines=[OrderLine(variant_id=tee["id"], quantity=1, unit_price="19.99")],
        )
    orders = sandbox.orders(store.name)
    assert [o["id"] for o in orders] == [created.id]


@pytest.mark.parametrize("status_code", [200, 429])
async def test_throttled_answer_is_absorbed(
    server: BackgroundServer, sandbox: ShopifySandbox, store: StoreCredentials, status_code: int
) -> None:
    """With the shop's bucket empty, THROTTLED (HTTP 200 or 429) is waited out, not raised."""
    sandbox.throttle_status_code = status_code
    sandbox.set_bucket(store.name, 0)
    bucket = ShopBucket()
    async with _client(server, store, bucket=bucket) as client:
        assert [loc.id for loc in await client.locations()] == [store.location_id]
    assert bucket.throttled_responses >= 1


async def test_typed_accessors_read_the_sandboxs_real_payloads(
    shopify: ShopifyClient,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, str],
    webhook_sink: WebhookSink,
) -> None:
    """orders/fulfilled, orders/cancelled and inventory_levels/update deliveries verify and
    read back the order, its TikTok id, tracking, and the level's item and quantity."""
    for topic in ("orders/fulfilled", "orders/cancelled", "inventory_levels/update"):
        await shopify.create_webhook_subscription(topic, webhook_sink.url)
    lines = [OrderLine(variant_id=tee["id"], quantity=1, unit_price="19.99")]
    shipped = await shopify.create_order(source_identifier="577001", currency="USD", lines=lines)
    sandbox.fulfill_order(store.name, shipped.id, company="USPS", number="9400111899223100000000")
    cancelled = await shopify.create_order(source_identifier="577002", currency="USD", lines=lines)
    await shopify.wait_for_job(await shopify.cancel_order(cancelled.id, "CUSTOMER"))
    sandbox.adjust_stock(store.name, "TEE-RED-L", 5)

    def read(delivery: Delivery) -> ShopifyWebhook:
        assert verify_shopify_hmac(
            delivery.body, delivery.headers[HMAC_HEADER.lower()], [store.client_secret]
        )
        return parse_webhook(delivery.headers, delivery.body)

    fulfilled = read(await _delivery(sandbox, webhook_sink, "orders/fulfilled")).order_fulfilled()
    assert (fulfilled.order_id, fulfilled.source_identifier) == (shipped.id, "577001")
    assert [(f.tracking_company, f.tracking_numbers) for f in fulfilled.fulfillments] == [
        ("USPS", ("9400111899223100000000",))
    ]
    gone = read(await _delivery(sandbox, webhook_sink, "orders/cancelled")).order_cancelled()
    assert (gone.order_id, gone.source_identifier) == (cancelled.id, "577002")
    assert gone.cancelled_at is not None
    levels = [read(d).inventory_level() for d in webhook_sink.of_topic("inventory_levels/update")]
    assert tee["inventory_item_id"] in {level.inventory_item_id for level in levels}
    assert {level.location_id for level in levels} == {store.location_id}
    assert all(read(d).delivery_key.startswith("event:") for d in webhook_sink.deliveries)
