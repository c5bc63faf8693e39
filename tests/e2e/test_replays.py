"""Webhooks are hints, the platforms are the truth: a delivery replayed under a forged topic
header (the HMAC covers the body only) changes no order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from support.stack import SHOP, Stack, running_stack


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


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
                "x-shopify-topic": "orders/cancelled",
                "x-shopify-event-id": "forged-1",
            },
        )
    assert answer.status_code == 200
    await stack.settle()
    assert stack.mirror(order_id).phase == "held", "the order is as Shopify says: not cancelled"
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    assert stack.tiktok.order(order_id)["status"] != "CANCELLED"
    [item] = [i for i in stack.store.inbox_items() if i.delivery_key.endswith(":forged-1")]
    assert item.status == "ignored"
    assert "neither fulfilled nor cancelled" in (item.last_error or "")
    assert await stack.breaches() == []
    assert stack.shopify.inventory(SHOP, "TEE-RED-L")["available"] == 19
