"""Turn one stored delivery into domain events, after re-reading the truth where needed.

A TikTok webhook is a hint (tiktok_shop_api.md §2.1): the order is re-read from TikTok and the
snapshot applied. Shopify webhooks carry the REST representation; fulfilments and cancels map
straight to events. Merchant actions and reconciliation findings arrive already as encoded
events. Unknown topics are stored and ignored; unknown shops and orders are noted, not dropped.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_event
from shopbridge.engine.executors import ContextSource
from shopbridge.engine.failures import MalformedInput
from shopbridge.engine.ports import AccessLost, PermanentError
from shopbridge.store import InboxItem, Store
from shopbridge.tiktok.webhooks import (
    CANCELLATION_STATUS_CHANGE,
    ORDER_STATUS_CHANGE,
    SELLER_DEAUTHORIZATION,
    MalformedNotification,
    parse_notification,
)

RECIPIENT_ADDRESS_UPDATE = 3

# (connection id, TikTok order id, event)
OrderEvent = tuple[int, str, ev.Event]


@dataclass
class InboxOutcome:
    events: list[OrderEvent] = field(default_factory=list)
    status: str = "done"  # done | ignored | malformed
    note: str | None = None


class InboxHandler(Protocol):
    async def handle(self, item: InboxItem) -> InboxOutcome: ...


class PlatformInboxHandler:
    def __init__(self, store: Store, contexts: ContextSource) -> None:
        self.store = store
        self.contexts = contexts

    async def handle(self, item: InboxItem) -> InboxOutcome:
        if item.connection_id is None:
            return InboxOutcome(status="ignored", note="no connection matches this shop")
        if item.source == "tiktok":
            return await self._tiktok(item, item.connection_id)
        if item.source == "shopify":
            return await self._shopify(item, item.connection_id)
        if item.source in ("merchant", "reconcile"):
            try:
                document = json.loads(item.body)
                event = decode_event(document["event"])
                order_id = str(document["order_id"])
            except (ValueError, KeyError, TypeError) as error:
                raise MalformedInput(
                    f"{item.source} item is not an encoded event: {error}"
                ) from None
            return InboxOutcome([(item.connection_id, order_id, event)])
        return InboxOutcome(status="ignored", note=f"unknown source {item.source}")

    async def _tiktok(self, item: InboxItem, connection_id: int) -> InboxOutcome:
        try:
            notification = parse_notification(item.body)
        except MalformedNotification as error:
            return InboxOutcome(status="malformed", note=str(error))
        order_id = notification.order_id
        if notification.type == SELLER_DEAUTHORIZATION:
            # A hint, never proof (anyone may replay one): ask TikTok. A refusal raises
            # AccessLost, and the worker puts the connection in Needs reconnect.
            ctx = await self.contexts.context(connection_id)
            await ctx.tiktok.check_access()
            return InboxOutcome(
                status="ignored", note="deauthorization notice, but TikTok still accepts the token"
            )
        if notification.type not in (
            ORDER_STATUS_CHANGE,
            CANCELLATION_STATUS_CHANGE,
            RECIPIENT_ADDRESS_UPDATE,
        ):
            return InboxOutcome(status="ignored", note=f"topic {notification.topic} is not used")
        if order_id is None:
            return InboxOutcome(status="malformed", note="the notification names no order")
        ctx = await self.contexts.context(connection_id)
        events: list[OrderEvent] = []
        if notification.type == CANCELLATION_STATUS_CHANGE:
            for cancellation in await ctx.tiktok.get_cancellations(order_id):
                events.append((connection_id, order_id, cancellation))
        try:
            order = await ctx.tiktok.get_order(order_id)
        except AccessLost:
            raise
        except PermanentError as error:
            return InboxOutcome(events, status="ignored", note=error.message)
        events.append((connection_id, order_id, ev.TikTokOrderObserved(order, "webhook")))
        return InboxOutcome(events)

    async def _shopify(self, item: InboxItem, connection_id: int) -> InboxOutcome:
        topic = str(_header(item.headers, "x-shopify-topic") or item.topic)
        try:
            payload: Any = json.loads(item.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return InboxOutcome(status="malformed", note=f"body is not JSON: {error}")
        if not isinstance(payload, dict):
            return InboxOutcome(status="malformed", note="body is not a JSON object")
        if topic == "app/uninstalled":
            # A hint (a replayed or forged delivery must not disconnect a shop): ask Shopify.
            ctx = await self.contexts.context(connection_id)
            await ctx.shopify.check_access()
            return InboxOutcome(
                status="ignored", note="uninstall notice, but Shopify still accepts the token"
            )
        if topic in ("fulfillments/create", "fulfillments/update"):
            order_gid = _gid("Order", payload.get("order_id"))
            fulfilment = ev.ShopifyFulfilmentObserved(
                str(payload.get("admin_graphql_api_id") or _gid("Fulfillment", payload.get("id"))),
                payload.get("tracking_company"),
                payload.get("tracking_number") or _first(payload.get("tracking_numbers")),
            )
            return await self._about_shopify_order(connection_id, order_gid, [fulfilment])
        if topic == "orders/cancelled":
            order_gid = str(payload.get("admin_graphql_api_id") or _gid("Order", payload.get("id")))
            cancelled = ev.ShopifyCancellationObserved(payload.get("cancel_reason"))
            return await self._about_shopify_order(connection_id, order_gid, [cancelled])
        if topic == "orders/fulfilled":
            order_gid = str(payload.get("admin_graphql_api_id") or _gid("Order", payload.get("id")))
            found: list[ev.Event] = [
                ev.ShopifyFulfilmentObserved(
                    str(f.get("admin_graphql_api_id") or _gid("Fulfillment", f.get("id"))),
                    f.get("tracking_company"),
                    f.get("tracking_number") or _first(f.get("tracking_numbers")),
                )
                for f in payload.get("fulfillments") or []
                if isinstance(f, dict)
            ]
            return await self._about_shopify_order(connection_id, order_gid, found)
        return InboxOutcome(status="ignored", note=f"topic {topic} is not used")

    async def _about_shopify_order(
        self, connection_id: int, order_gid: str, events: list[ev.Event]
    ) -> InboxOutcome:
        mirror = await asyncio.to_thread(
            self.store.mirror_by_shopify_order, connection_id, order_gid
        )
        if mirror is None:
            return InboxOutcome(
                status="ignored", note=f"Shopify order {order_gid} is not a mirrored TikTok order"
            )
        return InboxOutcome([(connection_id, mirror.tiktok_order_id, e) for e in events])


def _header(headers: Any, name: str) -> Any:
    for key, value in dict(headers).items():
        if key.lower() == name:
            return value
    return None


def _gid(kind: str, value: Any) -> str:
    text = str(value)
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def _first(values: Any) -> str | None:
    return str(values[0]) if isinstance(values, list) and values else None
