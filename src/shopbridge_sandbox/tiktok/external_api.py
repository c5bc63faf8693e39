"""External order references (§4.1): a seller's own id for a TikTok order, per platform.

shopbridge can store the Shopify order id on the TikTok side and find an order by it. The
response shapes are the sandbox's reading of the API pages (UNCONFIRMED in the fact sheet).
"""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call

PLATFORMS = ("SHOPIFY", "WOOCOMMERCE", "MAGENTO", "BIGCOMMERCE", "OTHERS")


def _platform(raw: object) -> str:
    platform = str(raw or "")
    if platform not in PLATFORMS:
        raise e.bad_parameter(f"platform must be one of {', '.join(PLATFORMS)}")
    return platform


def add_external_orders(call: Call) -> dict[str, Any]:
    entries = call.body.get("orders")
    if not isinstance(entries, list) or not entries:
        raise e.bad_parameter("orders is required")
    checked = []
    for entry in entries:
        order = call.seller.owned_order(call.shop, str(entry.get("id", "")))
        external = dict(entry.get("external_order") or {})
        if not external.get("id"):
            raise e.bad_parameter("external_order.id is required")
        external["platform"] = _platform(external.get("platform"))
        checked.append((order, external))
    for order, external in checked:
        order.external_orders[external["platform"]] = external
    return {"errors": []}


def get_external_orders(call: Call) -> dict[str, Any]:
    order = call.seller.owned_order(call.shop, call.params["order_id"])
    platform = _platform(call.query.get("platform"))
    found = order.external_orders.get(platform)
    return {"external_orders": [found] if found else []}


def search_external_orders(call: Call) -> dict[str, Any]:
    platform = _platform(call.query.get("platform"))
    external_id = call.query.get("external_order_id", "")
    matches = [
        {"id": order.id}
        for order in call.market.orders.values()
        if order.shop_id == call.shop.id
        and order.external_orders.get(platform, {}).get("id") == external_id
    ]
    return {"orders": matches}


ROUTES = [
    ApiRoute("POST", "/order/202406/orders/external_orders", add_external_orders),
    ApiRoute("GET", "/order/202406/orders/{order_id}/external_orders", get_external_orders),
    ApiRoute("POST", "/order/202406/orders/external_order_search", search_external_orders),
]
