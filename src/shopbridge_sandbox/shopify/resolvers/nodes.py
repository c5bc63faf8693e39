"""`node(id:)` and `nodes(ids:)` over the object kinds the sandbox keeps."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify.model import Shop, parse_gid
from shopbridge_sandbox.shopify.resolvers.registry import ctx, resolves


def _candidates(shop: Shop) -> list[Any]:
    orders = shop.orders
    return [
        *orders,
        *(li for o in orders for li in o.line_items),
        *(fo for o in orders for fo in o.fulfillment_orders),
        *(h for o in orders for fo in o.fulfillment_orders for h in fo.holds),
        *(f for o in orders for f in o.fulfillments),
        *(t for o in orders for t in o.transactions),
        *shop.products,
        *shop.variants(),
        *(v.inventory_item for v in shop.variants()),
        *shop.levels,
        *shop.locations,
        *shop.subscriptions,
    ]


def find_node(shop: Shop, value: str) -> Any:
    kind = value.removeprefix("gid://shopify/").split("/", 1)[0]
    number = parse_gid(value, kind)
    return next(
        (
            c
            for c in _candidates(shop)
            if getattr(c, "graphql_type", None) == kind and c.id == number
        ),
        None,
    )


@resolves("QueryRoot", "node")
def _node(_: Any, info: Any, id: str) -> Any:
    return find_node(ctx(info).shop, id)


@resolves("QueryRoot", "nodes")
def _nodes(_: Any, info: Any, ids: list[str]) -> list[Any]:
    return [find_node(ctx(info).shop, i) for i in ids]
