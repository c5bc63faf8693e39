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
# Shopify topics that move available stock: TikTok's count follows (engine/stock.py).
STOCK_TOPICS = ("inventory_levels/update", "orders/create", "refunds/create")

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
        if topic in STOCK_TOPICS:
            return await self._stock_moved(connection_id, topic, payload)
        if topic in ("fulfillments/create", "fulfillments/update"):
            order_gid = _gid("Order", payload.get("order_id"))
            fulfilment = ev.ShopifyFulfilmentObserved(
                str(payload.get("admin_graphql_api_id") or _gid("Fulfillment", payload.get("id"))),
                payload.get("tracking_company"),
                payload.get("tracking_number") or _first(payload.get("tracking_numbers")),
            )
            return await self._about_shopify_order(connection_id, order_gid, [fulfilment])
        if topic == "orders/cancelled":
            await self._stock_moved(connection_id, topic, payload)
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

    async def _stock_moved(
        self, connection_id: int, topic: str, payload: dict[str, Any]
    ) -> InboxOutcome:
        """A hint that Shopify's available count of some SKUs moved: they are marked due, and
        their push reads the real counts (what the webhook says is only shown in the history)."""
        if topic == "inventory_levels/update":
            item = payload.get("inventory_item_id")
            if isinstance(item, bool) or not isinstance(item, int | str) or not str(item).isdigit():
                return InboxOutcome(status="malformed", note="no numeric inventory_item_id")
            item_gid = _gid("InventoryItem", item)
            note = (
                "shopify",
                f"Shopify: available {_short(payload.get('available'))} at location "
                f"{_short(payload.get('location_id'))} (webhook)",
            )
            marked = await asyncio.to_thread(
                self.store.stock.mark_shopify,
                connection_id,
                inventory_item_ids=[item_gid],
                history=note,
            )
            if not marked:
                ctx = await self.contexts.context(connection_id)
                sku = await ctx.shopify.item_sku(item_gid)
                if not sku:
                    return InboxOutcome(
                        status="ignored", note=f"inventory item {item} has no SKU to follow"
                    )
                marked = await asyncio.to_thread(
                    self.store.stock.mark_shopify, connection_id, shopify_skus=[sku], history=note
                )
            return InboxOutcome(note=f"stock due for {', '.join(marked)[:300]}")
        skus = _line_skus(payload, topic)
        if not skus:
            return InboxOutcome(status="ignored", note=f"{topic} names no SKU")
        named = payload.get("name") or payload.get("order_id") or payload.get("id")
        note = ("shopify", f"Shopify: {topic.replace('/', ' ')} ({_short(named)})")
        marked = await asyncio.to_thread(
            self.store.stock.mark_shopify, connection_id, shopify_skus=skus, history=note
        )
        return InboxOutcome(note=f"stock due for {', '.join(marked)[:300]}")

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


def _line_skus(payload: dict[str, Any], topic: str) -> list[str]:
    """The SKUs of an order's (or a refund's) line items, skipping what is not a SKU."""
    if topic == "refunds/create":
        lines = [
            entry.get("line_item")
            for entry in _list(payload.get("refund_line_items"))
            if isinstance(entry, dict)
        ]
    else:
        lines = _list(payload.get("line_items"))
    skus = {
        line["sku"]
        for line in lines
        if isinstance(line, dict)
        and isinstance(line.get("sku"), str)
        and 0 < len(line["sku"]) <= 200
    }
    return sorted(skus)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first(values: Any) -> str | None:
    return str(values[0]) if isinstance(values, list) and values else None
