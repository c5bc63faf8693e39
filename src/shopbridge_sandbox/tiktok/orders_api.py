"""Order, cancellation, fulfillment and logistics endpoints (§4.1, §4.2, §4.3, §4.5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call
from shopbridge_sandbox.tiktok.models import Cancellation, Order, Return
from shopbridge_sandbox.tiktok.orders import unix
from shopbridge_sandbox.tiktok.pagination import fingerprint, page_size, paginate
from shopbridge_sandbox.tiktok.views import cancellation_view, order_view

R = TypeVar("R", Order, Cancellation, Return)

MAX_DETAIL_IDS = 50


def authorized_shops(call: Call) -> dict[str, Any]:
    """Every shop the seller authorized with this token (wave2 §1.4)."""
    shops = [call.market.shop(shop_id) for shop_id in call.caller.grant.shop_ids]
    return {
        "shops": [
            {
                "id": shop.id,
                "name": shop.name,
                "region": shop.region,
                "seller_type": "LOCAL",
                "cipher": shop.cipher,
                "code": shop.code,
            }
            for shop in shops
        ]
    }


def search_orders(call: Call) -> dict[str, Any]:
    page, token, total = search_records(
        call,
        call.market.orders.values(),
        _order_matches,
        max_size=100,
        default_size=None,
        default_order="DESC",
    )
    return {
        "orders": [order_view(o, call.shop) for o in page],
        "next_page_token": token,
        "total_count": total,
    }


def search_records(
    call: Call,
    records: Iterable[R],
    matches: Callable[[R, dict[str, Any]], bool],
    *,
    max_size: int,
    default_size: int | None,
    min_size: int = 1,
    default_order: str,
) -> tuple[list[R], str | None, int]:
    """One page of this shop's records that match the body's filters (Get Order List, Search
    Cancellations and Search Returns page, sort and filter alike: §4.1, §4.2, wave2 §6.1)."""
    size = page_size(call.query, min_size, max_size, default=default_size)
    sort_field = call.query.get("sort_field", "create_time")
    if sort_field not in ("create_time", "update_time"):
        raise e.bad_parameter("sort_field must be create_time or update_time")
    descending = _descending(call.query, default=default_order)
    body = call.body
    _check_time_filters(body)
    rows = [r for r in records if r.shop_id == call.shop.id and matches(r, body)]

    def key(record: R) -> tuple[int | str, ...]:
        return (unix(getattr(record, sort_field)), record.id)

    page, token = paginate(
        rows,
        key,
        descending,
        size,
        call.query.get("page_token"),
        fingerprint(body, sort_field, descending),
    )
    return page, token, len(rows)


def _order_matches(order: Order, body: dict[str, Any]) -> bool:
    if body.get("order_status") and order.status != body["order_status"]:
        return False
    if not in_windows(order, body):
        return False
    if body.get("shipping_type") not in (None, "SELLER"):
        return False  # every sandbox order ships with the seller's own carrier
    if body.get("buyer_user_id") and order.user_id != body["buyer_user_id"]:
        return False
    wanted = body.get("is_buyer_request_cancel")
    return wanted is None or order.is_buyer_request_cancel == bool(wanted)


def order_detail(call: Call) -> dict[str, Any]:
    ids = [i for i in call.query.get("ids", "").split(",") if i]
    if not 1 <= len(ids) <= MAX_DETAIL_IDS:
        raise e.bad_parameter(f"ids takes 1 to {MAX_DETAIL_IDS} order ids, got {len(ids)}")
    orders = [call.seller.owned_order(call.shop, order_id) for order_id in ids]
    return {"orders": [order_view(o, call.shop) for o in orders]}


def search_cancellations(call: Call) -> dict[str, Any]:
    page, token, total = search_records(
        call,
        call.market.cancellations.values(),
        _cancellation_matches,
        max_size=50,
        default_size=10,
        default_order="ASC",
    )
    views = [cancellation_view(c, call.market.order(c.order_id), call.shop) for c in page]
    return {"cancellations": views, "next_page_token": token, "total_count": total}


def _cancellation_matches(request: Cancellation, body: dict[str, Any]) -> bool:
    filters = {
        "cancel_ids": request.id,
        "order_ids": request.order_id,
        "cancel_types": request.cancel_type,
        "cancel_status": request.status,
    }
    for name, value in filters.items():
        if body.get(name) and value not in body[name]:
            return False
    return in_windows(request, body)


TIME_FILTERS = ("create_time_ge", "create_time_lt", "update_time_ge", "update_time_lt")


def _check_time_filters(body: dict[str, Any]) -> None:
    """Time filters are Unix seconds; anything else is refused before any row is read."""
    for name in TIME_FILTERS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise e.bad_parameter(f"{name} must be Unix seconds, got {value!r}")


def in_windows(row: Order | Cancellation | Return, body: dict[str, Any]) -> bool:
    for field in ("create_time", "update_time"):
        moment = unix(getattr(row, field))
        if f"{field}_ge" in body and moment < body[f"{field}_ge"]:
            return False
        if f"{field}_lt" in body and moment >= body[f"{field}_lt"]:
            return False
    return True


def approve_cancellation(call: Call) -> dict[str, Any]:
    call.seller.approve(call.shop, call.params["cancel_id"])
    return {}


def reject_cancellation(call: Call) -> dict[str, Any]:
    call.seller.reject(call.shop, call.params["cancel_id"], str(call.body.get("reject_reason", "")))
    return {}


def cancel_order(call: Call) -> dict[str, Any]:
    """Cancel Order (§4.2, wave2 §4): `order_line_item_ids` and `skus[{sku_id, quantity}]`
    are siblings at the top level; either names the units of an item-level cancel."""
    order_id = str(call.body.get("order_id", ""))
    if not order_id:
        raise e.bad_parameter("order_id is required")
    line_item_ids = [str(i) for i in _list(call.body, "order_line_item_ids")]
    skus = []
    for entry in _list(call.body, "skus"):
        if not isinstance(entry, dict) or not entry.get("sku_id"):
            raise e.bad_parameter("skus takes objects with sku_id and quantity")
        quantity = entry.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise e.bad_parameter(f"skus: quantity must be an integer, got {quantity!r}")
        skus.append((str(entry["sku_id"]), quantity))
    reason = str(call.body.get("cancel_reason", ""))
    record = call.seller.seller_cancel(call.shop, order_id, reason, line_item_ids, skus)
    return {"cancel_id": record.id, "cancel_status": record.status}


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise e.bad_parameter(f"{name} must be an array")
    return value


def mark_package_shipped(call: Call) -> dict[str, Any]:
    order_id = call.params["order_id"]
    package, line_item_ids = call.seller.ship(
        call.shop,
        order_id,
        str(call.body.get("tracking_number", "")),
        str(call.body.get("shipping_provider_id", "")),
        [str(i) for i in _list(call.body, "order_line_item_ids")],
    )
    return {"order_id": order_id, "order_line_item_ids": line_item_ids, "package_id": package.id}


def update_shipping_info(call: Call) -> dict[str, Any]:
    call.seller.update_tracking(
        call.shop,
        call.params["order_id"],
        str(call.body.get("tracking_number", "")),
        str(call.body.get("shipping_provider_id", "")),
    )
    return {}


def shipping_providers(call: Call) -> dict[str, Any]:
    option_id = call.params["delivery_option_id"]
    if option_id != call.shop.delivery_option_id:
        raise e.ApiError(e.UNKNOWN_DELIVERY_OPTION, f"Delivery option {option_id} not found")
    providers = catalog.providers_for(call.shop.region)
    return {"shipping_providers": [{"id": p.id, "name": p.name} for p in providers]}


def warehouses(call: Call) -> dict[str, Any]:
    shop = call.shop
    return {
        "warehouses": [
            {
                "id": w.id,
                "entity_id": w.id,
                "name": w.name,
                "effect_status": "ENABLED",
                "type": "SALES_WAREHOUSE",
                "sub_type": "DOMESTIC_WAREHOUSE",
                "is_default": w.is_default,
                "address": {"region_code": shop.region, "region": shop.region},
            }
            for w in shop.warehouses
        ]
    }


def warehouse_delivery_options(call: Call) -> dict[str, Any]:
    if call.params["warehouse_id"] not in {w.id for w in call.shop.warehouses}:
        raise e.ApiError(e.UNKNOWN_DELIVERY_OPTION, "Warehouse not found")
    return {
        "delivery_options": [
            {
                "id": call.shop.delivery_option_id,
                "name": "Standard shipping",
                "type": "STANDARD",
                "platform": ["TIKTOK_SHOP"],
            }
        ]
    }


def _descending(query: dict[str, str], default: str) -> bool:
    order = query.get("sort_order", default).upper()
    if order not in ("ASC", "DESC"):
        raise e.bad_parameter("sort_order must be ASC or DESC")
    return order == "DESC"


ROUTES = [
    ApiRoute("GET", "/authorization/202309/shops", authorized_shops),
    ApiRoute("POST", "/order/202309/orders/search", search_orders),
    ApiRoute("GET", "/order/202309/orders", order_detail),
    ApiRoute("GET", "/order/202507/orders", order_detail),  # §4.1: latest version, same shape
    ApiRoute("POST", "/return_refund/202309/cancellations/search", search_cancellations),
    ApiRoute(
        "POST",
        "/return_refund/202309/cancellations/{cancel_id}/approve",
        approve_cancellation,
        idempotent=True,
    ),
    ApiRoute(
        "POST",
        "/return_refund/202309/cancellations/{cancel_id}/reject",
        reject_cancellation,
        idempotent=True,
    ),
    ApiRoute("POST", "/return_refund/202309/cancellations", cancel_order, idempotent=True),
    ApiRoute("POST", "/fulfillment/202309/orders/{order_id}/packages", mark_package_shipped),
    ApiRoute(
        "POST", "/fulfillment/202309/orders/{order_id}/shipping_info/update", update_shipping_info
    ),
    ApiRoute(
        "GET",
        "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers",
        shipping_providers,
    ),
    ApiRoute("GET", "/logistics/202309/warehouses", warehouses),
    ApiRoute(
        "GET",
        "/logistics/202309/warehouses/{warehouse_id}/delivery_options",
        warehouse_delivery_options,
    ),
]
