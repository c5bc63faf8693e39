"""Webhooks that wire themselves: every topic shopbridge reads, pointed at its public address.

Run when a connection is made and on every reconciliation pass (subscriptions vanish when an app
is uninstalled, and Shopify drops one that keeps failing): a missing subscription is created, one
pointing elsewhere is moved to shopbridge's address, the rest are left alone. What was found is
stored on the connection and shown in Settings next to the last delivery seen per topic.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Any

from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import AccessLost, Registration
from shopbridge.store import Store

SHOPIFY_PATH = "/webhooks/shopify"
TIKTOK_PATH = "/webhooks/tiktok"
# What the inbox reads (engine/inbox.py), as Shopify's WebhookSubscriptionTopic values.
SHOPIFY_TOPICS = (
    "ORDERS_CANCELLED",
    "ORDERS_FULFILLED",
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
    "APP_UNINSTALLED",
    # Stock: TikTok follows every change of Shopify's available count (engine/stock.py).
    "INVENTORY_LEVELS_UPDATE",
    "ORDERS_CREATE",
    "REFUNDS_CREATE",
)
# TikTok's Event API names of the topics the inbox reads (tiktok_shop_api_wave2.md §2).
TIKTOK_EVENTS = (
    "ORDER_STATUS_CHANGE",
    "CANCELLATION_STATUS_CHANGE",
    "RECIPIENT_ADDRESS_UPDATE",
    "PACKAGE_UPDATE",
    "RETURN_STATUS_CHANGE",
    "SELLER_DEAUTHORIZATION",
    "UPCOMING_AUTHORIZATION_EXPIRATION",
)


def addresses(public_url: str) -> dict[str, str]:
    """The webhook addresses to give each platform, from shopbridge's public address."""
    base = public_url.rstrip("/")
    return {"shopify": base + SHOPIFY_PATH, "tiktok": base + TIKTOK_PATH}


async def ensure_webhooks(
    store: Store, ctx: ConnectionContext, public_url: str, now: datetime
) -> list[Registration]:
    """Check and repair both platforms' subscriptions; store and return what was found.
    Without a public address there is nothing to point at: nothing is changed."""
    if not public_url:
        return []
    wanted = addresses(public_url)
    found: list[Registration] = []
    for platform, check in (
        ("shopify", ctx.shopify.ensure_webhooks(wanted["shopify"], SHOPIFY_TOPICS)),
        ("tiktok", ctx.tiktok.ensure_webhooks(wanted["tiktok"], TIKTOK_EVENTS)),
    ):
        try:
            found += await check
        except AccessLost:
            raise
        except Exception as error:  # shown in Settings; the pass goes on
            found.append(Registration(platform, "*", None, "failed", _one_line(error)))
    record: dict[str, Any] = {
        "checked_at": now.isoformat(),
        "topics": [asdict(r) for r in found],
    }
    await asyncio.to_thread(store.update_connection, ctx.connection_id, webhook_status=record)
    return found


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
