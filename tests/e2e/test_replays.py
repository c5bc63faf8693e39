"""Webhooks are hints, the platforms are the truth: a delivery replayed under a forged topic
header (the HMAC covers the body only) changes no order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from support.stack import SHOP, Stack, running_stack


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


async def replay(stack: Stack, body: bytes, topic: str, event_id: str) -> None:
    """Send `body` to the bridge as Shopify would, its HMAC valid, under `topic`."""
    connection = stack.store.get_connection(stack.connection_id)
    secret = connection.shopify_client_secret or ""
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{stack.bridge_url}/webhooks/shopify",
            content=body,
            headers={
                "x-shopify-hmac-sha256": signature.decode(),
                "x-shopify-shop-domain": connection.shopify_domain or "",
                "x-shopify-topic": topic,
                "x-shopify-event-id": event_id,
            },
        )
    assert answer.status_code == 200


async def test_an_order_body_replayed_as_a_fulfilment_ships_nothing(stack: Stack) -> None:
    """A fulfilment is taken from the signed body only when the body is a fulfilment: an
    order's body under fulfillments/create is not one, so Shopify is asked, and says no."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    await stack.advance(timedelta(minutes=61))
    mirror = stack.mirror(order_id)
    assert mirror.phase == "released" and mirror.shopify_order_id
    number = int(mirror.shopify_order_id.rsplit("/", 1)[-1])
    body = {
        "id": number,
        "admin_graphql_api_id": mirror.shopify_order_id,
        "order_id": number,
        "status": "success",
        "tracking_company": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "line_items": [{"id": 1, "quantity": 1}],
    }
    await replay(stack, json.dumps(body).encode(), "fulfillments/create", "forged-2")
    await stack.settle()
    assert stack.mirror(order_id).phase == "released"
    assert stack.tiktok.order(order_id)["status"] == "AWAITING_SHIPMENT"
    assert await stack.breaches() == []


async def test_an_old_fulfilment_body_replayed_cannot_undo_a_tracking_fix(stack: Stack) -> None:
    """A fulfilment the mirror knows is never taken from a body again (a fix comes as
    fulfillments/update, which is always read from Shopify): replaying the captured
    fulfillments/create delivery leaves TikTok with the corrected number."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    await stack.advance(timedelta(minutes=61))
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    fulfillment = stack.shopify.fulfill_order(SHOP, gid, "USPS", "9400111899223197428490")
    await stack.settle()
    [created] = [i for i in stack.store.inbox_items() if i.topic == "fulfillments/create"]
    stack.shopify.update_tracking(SHOP, fulfillment, "USPS", "9400111899223197428491")
    await stack.settle()
    package = stack.tiktok.order(order_id)["line_items"][0]["package_id"]
    assert stack.tiktok.package(package)["tracking_number"] == "9400111899223197428491"

    await replay(stack, created.body, "fulfillments/create", "replayed-1")
    await stack.settle()
    assert stack.tiktok.package(package)["tracking_number"] == "9400111899223197428491"
    [item] = [i for i in stack.store.inbox_items() if i.delivery_key.endswith(":replayed-1")]
    assert item.status == "ignored"
    assert await stack.breaches() == []


async def test_a_body_replayed_as_orders_cancelled_cancels_nothing(stack: Stack) -> None:
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})
    await stack.settle()
    mirror = stack.mirror(order_id)
    assert mirror.phase == "held" and mirror.shopify_order_id
    # A captured Shopify delivery about this order (orders/create, say), its valid HMAC kept,
    # sent again with the topic header changed to orders/cancelled.
    number = mirror.shopify_order_id.rsplit("/", 1)[-1]
    body = json.dumps(
        {"id": int(number), "admin_graphql_api_id": mirror.shopify_order_id, "name": "#1001"}
    ).encode()
    await replay(stack, body, "orders/cancelled", "forged-1")
    await stack.settle()
    assert stack.mirror(order_id).phase == "held", "the order is as Shopify says: not cancelled"
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    assert stack.tiktok.order(order_id)["status"] != "CANCELLED"
    [item] = [i for i in stack.store.inbox_items() if i.delivery_key.endswith(":forged-1")]
    assert item.status == "ignored"
    assert "neither fulfilled nor cancelled" in (item.last_error or "")
    assert await stack.breaches() == []
    assert stack.shopify.inventory(SHOP, "TEE-RED-L")["available"] == 19
