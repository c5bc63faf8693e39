"""`node(id:)` and `nodes(ids:)` over the object kinds the sandbox keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shopbridge_sandbox.shopify.model import Shop, parse_gid
from shopbridge_sandbox.shopify.resolvers.registry import ctx, resolves

# Per gid kind, where the shop keeps objects of that kind (orders, fulfillment orders and
# inventory items have indexed lookups): `nodes(ids:)` with 250 inventory item ids must not
# walk every order, line and fulfillment of the store for each id.
_KINDS: dict[str, Callable[[Shop], Iterable[Any]]] = {
    "LineItem": lambda shop: (li for o in shop.orders for li in o.line_items),
    "FulfillmentHold": lambda shop: (
        h for o in shop.orders for fo in o.fulfillment_orders for h in fo.holds
    ),
    "Fulfillment": lambda shop: (f for o in shop.orders for f in o.fulfillments),
    "FulfillmentLineItem": lambda shop: (
        fl for o in shop.orders for f in o.fulfillments for fl in f.lines
    ),
    "Refund": lambda shop: (r for o in shop.orders for r in o.refunds),
    "OrderTransaction": lambda shop: (t for o in shop.orders for t in o.transactions),
    "Product": lambda shop: shop.products,
    "ProductVariant": lambda shop: shop.variants(),
    "InventoryLevel": lambda shop: shop.levels,
    "Location": lambda shop: shop.locations,
    "WebhookSubscription": lambda shop: shop.subscriptions,
}


def find_node(shop: Shop, value: str) -> Any:
    kind = value.removeprefix("gid://shopify/").split("/", 1)[0]
    number = parse_gid(value, kind)
    if number is None:
        return None
    if kind == "Order":
        return shop.order_by_gid(value)
    if kind == "FulfillmentOrder":
        return shop.fulfillment_order_by_gid(value)
    if kind == "InventoryItem":
        return shop.item_by_gid(value)
    candidates = _KINDS.get(kind)
    if candidates is None:
        return None
    return next((c for c in candidates(shop) if c.id == number), None)


@resolves("QueryRoot", "node")
def _node(_: Any, info: Any, id: str) -> Any:
    return find_node(ctx(info).shop, id)


@resolves("QueryRoot", "nodes")
def _nodes(_: Any, info: Any, ids: list[str]) -> list[Any]:
    return [find_node(ctx(info).shop, i) for i in ids]
