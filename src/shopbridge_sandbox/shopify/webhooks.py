"""Shopify webhook subscriptions and emission through the shared `WebhookDispatcher`.

Each event gets one `X-Shopify-Event-Id`, shared by the delivery to every subscriber and
by every duplicate and retry of it; each subscriber's delivery has its own
`X-Shopify-Webhook-Id`, also stable across its retries (Shopify's own behaviour there is
UNCONFIRMED, shopify_api.md §7). Retries: 8 over about 4 hours, exponential
(changelog "updates-to-webhook-retry-mechanism", effective 2024-09-10).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from functools import cache
from typing import Any

from graphql import GraphQLEnumType

from shopbridge.clock import Clock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.shopify.model import Shop, WebhookSubscription, iso
from shopbridge_sandbox.shopify.schema import API_VERSION, admin_schema
from shopbridge_sandbox.shopify.world import SandboxError, World
from shopbridge_sandbox.webhooks import WebhookDispatcher

# 56.25 s doubling eight times adds up to 14 344 s, just under Shopify's "4 hours".
RETRY_DELAYS = [timedelta(seconds=56.25 * 2**attempt) for attempt in range(8)]
# What the sandbox sends; subscriptions to any other topic are kept but never fire.
EMITTED_TOPICS = frozenset(
    {
        "orders/create",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/edited",
        "orders/updated",  # on an order edit and on a refund only
        "refunds/create",
        "fulfillments/create",
        "fulfillments/update",
        "inventory_levels/update",
        "app/uninstalled",
    }
)


def topic_enum(topic: str) -> str:
    """`orders/create` → `ORDERS_CREATE` (the GraphQL WebhookSubscriptionTopic value)."""
    return topic.replace("/", "_").upper() if "/" in topic else topic


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body with the client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@cache
def subscribable_topics() -> frozenset[str]:
    """Every `WebhookSubscriptionTopic` of the 2026-07 schema: an app may subscribe to any of
    them, whether or not the sandbox ever emits it."""
    topic_type = admin_schema().get_type("WebhookSubscriptionTopic")
    assert isinstance(topic_type, GraphQLEnumType)
    return frozenset(topic_type.values)


def subscribe(world: World, shop: Shop, topic: str, uri: str) -> WebhookSubscription:
    enum = topic_enum(topic)
    if enum not in subscribable_topics():
        raise SandboxError(f"{topic} is not a WebhookSubscriptionTopic of API {API_VERSION}")
    now = world.now()
    created = WebhookSubscription(world.ids.next("WebhookSubscription"), enum, uri, now, now)
    shop.subscriptions.append(created)
    return created


def subscription_view(subscription: WebhookSubscription) -> dict[str, Any]:
    """A subscription as the control API lists it."""
    return {
        "id": subscription.gid,
        "topic": subscription.topic,
        "uri": subscription.uri,
        "created_at": iso(subscription.created_at),
        "updated_at": iso(subscription.updated_at),
    }


class ShopifyWebhooks:
    """Turns sandbox events into signed deliveries queued on the dispatcher."""

    def __init__(self, clock: Clock, faults: Faults) -> None:
        self._clock = clock
        self.dispatcher = WebhookDispatcher(clock, faults, RETRY_DELAYS)

    def emit(self, shop: Shop, topic: str, payload: dict[str, Any]) -> None:
        subscribers = [s for s in shop.subscriptions if s.topic == topic_enum(topic)]
        if not subscribers:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        event_id = str(uuid.uuid4())
        triggered_at = iso(self._clock.now())
        assert triggered_at is not None
        for subscription in subscribers:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(shop.client_secret, body),
                "X-Shopify-Shop-Domain": shop.domain,
                "X-Shopify-API-Version": API_VERSION,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at,
            }
            self.dispatcher.enqueue(subscription.uri, body, headers)
