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

import structlog

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_event, decode_mirror
from shopbridge.engine.executors import ConnectionContext, ContextSource
from shopbridge.engine.failures import MalformedInput
from shopbridge.engine.ports import AccessLost, PermanentError, ShopifyFulfilment
from shopbridge.engine.tiktok_gateway import UNREADABLE
from shopbridge.store import InboxItem, MirrorRow, Store
from shopbridge.tiktok.webhooks import (
    CANCELLATION_STATUS_CHANGE,
    ORDER_STATUS_CHANGE,
    PACKAGE_UPDATE,
    RETURN_STATUS_CHANGE,
    SELLER_DEAUTHORIZATION,
    MalformedNotification,
    parse_notification,
)

log = structlog.get_logger("shopbridge.inbox")

RECIPIENT_ADDRESS_UPDATE = 3
# Shopify topics about a mirrored order. A new fulfilment is taken from the signed body (it
# is Shopify's own record of that fulfilment, and its type is in the body, not in the topic
# header a replay could forge); everything else is acted on only after reading the order.
ORDER_TOPICS = (
    "fulfillments/create",
    "fulfillments/update",
    "orders/cancelled",
    "orders/fulfilled",
)
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
            PACKAGE_UPDATE,
            RETURN_STATUS_CHANGE,
        ):
            return InboxOutcome(status="ignored", note=f"topic {notification.topic} is not used")
        order_ids = notification.order_ids
        if not order_ids:
            return InboxOutcome(status="malformed", note="the notification names no order")
        ctx = await self.contexts.context(connection_id)
        if notification.type == PACKAGE_UPDATE:
            # TikTok repacked (combine, split...): the package ids of every order it lists
            # changed; re-read those this connection mirrors.
            known = [
                o
                for o in order_ids
                if await asyncio.to_thread(self.store.get_mirror, connection_id, o) is not None
            ]
            if not known:
                return InboxOutcome(status="ignored", note="the package holds no mirrored order")
            events: list[OrderEvent] = []
            for one in known:
                events += await self._read_order(ctx, connection_id, one, "package")
            return InboxOutcome(events)
        order_id = order_ids[0]
        events = []
        if notification.type == CANCELLATION_STATUS_CHANGE:
            for cancellation in await ctx.tiktok.get_cancellations(order_id):
                events.append((connection_id, order_id, cancellation))
        if notification.type == RETURN_STATUS_CHANGE:
            for found in await ctx.tiktok.get_returns(order_id):
                events.append((connection_id, order_id, found))
        events += await self._read_order(ctx, connection_id, order_id, "webhook")
        status = "done" if events else "ignored"
        return InboxOutcome(events, status=status, note=None if events else "order unreadable")

    async def _read_order(
        self, ctx: ConnectionContext, connection_id: int, order_id: str, source: str
    ) -> list[OrderEvent]:
        """The order as TikTok shows it now, as an event (or why it cannot be read)."""
        try:
            order = await ctx.tiktok.get_order(order_id)
        except AccessLost:
            raise
        except PermanentError as error:
            if error.code == UNREADABLE:  # the merchant sees it on the order; the rest goes on
                return [(connection_id, order_id, ev.TikTokOrderUnreadable(error.message[:500]))]
            log.warning("TikTok order not readable", order_id=order_id, error=error.message)
            return []
        return [(connection_id, order_id, ev.TikTokOrderObserved(order, source))]

    async def _shopify(self, item: InboxItem, connection_id: int) -> InboxOutcome:
        topic = item.topic  # as the receiver read it, in either header spelling
        try:
            payload: Any = json.loads(item.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            return InboxOutcome(status="malformed", note=f"body is not JSON: {str(error)[:200]}")
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
        if topic in ORDER_TOPICS:
            if topic == "orders/cancelled":  # a restock moves available stock too
                await self._stock_moved(connection_id, topic, payload)
            order_gid = _order_gid(payload, topic)
            if order_gid is None:
                return InboxOutcome(status="malformed", note=f"{topic} names no Shopify order")
            return await self._shopify_order_read(connection_id, order_gid, payload, topic)
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

    async def _shopify_order_read(
        self, connection_id: int, order_gid: str, payload: dict[str, Any], topic: str
    ) -> InboxOutcome:
        """What Shopify says of the order now, never what the delivery claims: the HMAC covers
        the body only, so a captured delivery replayed under another topic header must change
        nothing. Two things need no read (and no points): a new fulfilment whose signed body
        says it is one (`_new_fulfilments`), and the orders/cancelled that follows our own
        cancel. Anything else is read from Shopify."""
        mirror = await asyncio.to_thread(
            self.store.mirror_by_shopify_order, connection_id, order_gid
        )
        if mirror is None:
            return InboxOutcome(
                status="ignored", note=f"Shopify order {order_gid} is not a mirrored TikTok order"
            )
        if topic == "orders/cancelled" and mirror.phase == "cancelled":
            return InboxOutcome(
                status="ignored", note="orders/cancelled: the mirror is cancelled already"
            )
        if topic in ("fulfillments/create", "orders/fulfilled"):
            signed = _new_fulfilments(mirror, payload, topic)
            if signed is not None:
                if not signed:
                    return InboxOutcome(status="ignored", note=f"{topic}: fulfilment known")
                return InboxOutcome(
                    [
                        (
                            connection_id,
                            mirror.tiktok_order_id,
                            ev.ShopifyFulfilmentObserved(
                                f.fulfillment_id, f.company, f.number, f.lines
                            ),
                        )
                        for f in signed
                    ]
                )
        ctx = await self.contexts.context(connection_id)
        view = await ctx.shopify.get_order(order_gid)
        events: list[ev.Event] = [
            ev.ShopifyFulfilmentObserved(f.fulfillment_id, f.company, f.number, f.lines)
            for f in view.fulfilments
        ]
        if view.cancelled:
            reason = payload.get("cancel_reason") if topic == "orders/cancelled" else None
            events.append(
                ev.ShopifyCancellationObserved(reason if isinstance(reason, str) else None)
            )
        if not events:
            return InboxOutcome(
                status="ignored",
                note=f"{topic}: Shopify shows order {order_gid} neither fulfilled nor cancelled",
            )
        return InboxOutcome([(connection_id, mirror.tiktok_order_id, e) for e in events])


def _new_fulfilments(
    mirror: MirrorRow, payload: dict[str, Any], topic: str
) -> list[ShopifyFulfilment] | None:
    """The fulfilments of a signed body the mirror does not know yet, when the body says
    plainly that they are successful fulfilments of this order, with their lines; None when
    it does not (then the order is read from Shopify instead).

    Only new fulfilments: one the mirror knows may have changed since this body was signed
    (a tracking fix comes as fulfillments/update and is always read), so an old body replayed
    can never undo a newer number."""
    bodies = [payload] if topic == "fulfillments/create" else payload.get("fulfillments")
    if not isinstance(bodies, list):
        return None
    known = {f.fulfillment_id for f in decode_mirror(dict(mirror.state or {})).fulfilments}
    found: list[ShopifyFulfilment] = []
    for body in bodies:
        fulfilment = _signed_fulfilment(body, mirror.shopify_order_id)
        if fulfilment is None:
            return None
        if fulfilment.fulfillment_id not in known:
            found.append(fulfilment)
    return found


def _signed_fulfilment(body: Any, order_gid: str | None) -> ShopifyFulfilment | None:
    """A REST fulfillment body read as a box, or None unless every part of it is plain: a
    Fulfillment GID, this order, status success, lines with ids and quantities."""
    if not isinstance(body, dict) or body.get("status") != "success":
        return None
    gid = body.get("admin_graphql_api_id")
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/Fulfillment/"):
        return None
    order = body.get("order_id")
    if order_gid is None or _order_gid({"order_id": order}, "fulfillments/create") != order_gid:
        return None
    lines: list[tuple[str, int]] = []
    for line in _list(body.get("line_items")):
        line_id = line.get("id") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if (
            isinstance(line_id, bool)
            or not isinstance(line_id, int)
            or isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or quantity < 1
        ):
            return None
        lines.append((f"gid://shopify/LineItem/{line_id}", quantity))
    if not lines:
        return None
    company, number = body.get("tracking_company"), body.get("tracking_number")
    return ShopifyFulfilment(
        gid,
        company if isinstance(company, str) and len(company) <= 200 else None,
        number if isinstance(number, str) and len(number) <= 200 else None,
        tuple(lines),
    )


def _order_gid(payload: dict[str, Any], topic: str) -> str | None:
    """The Shopify order a delivery is about, as a GID; None when it names none we could read."""
    if topic.startswith("fulfillments/"):
        value: Any = payload.get("order_id")
    else:
        value = payload.get("admin_graphql_api_id") or payload.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    if text.startswith("gid://shopify/Order/"):
        text = text.removeprefix("gid://shopify/Order/")
    return f"gid://shopify/Order/{text}" if text.isdigit() and len(text) <= 30 else None


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
