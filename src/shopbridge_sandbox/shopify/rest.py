"""REST representations used as webhook bodies: snake_case, numeric ids, `admin_graphql_api_id`.

[shopify_api.md §7: "JSON body = the REST representation of the resource"]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shopbridge_sandbox.shopify.model import (
    Fulfillment,
    InventoryLevel,
    LineItem,
    Order,
    Shop,
    money,
)


def iso(moment: datetime | None) -> str | None:
    """REST's time form: ISO 8601 with a numeric offset, never `Z` (Shopify's samples read
    `2020-09-03T08:44:10-04:00`, the shop's zone; the sandbox's shops are on UTC)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _line_item(li: LineItem) -> dict[str, Any]:
    variant = li.variant
    return {
        "id": li.id,
        "admin_graphql_api_id": li.gid,
        "title": li.title,
        "name": li.title,
        "sku": li.sku,
        "quantity": li.quantity,
        "fulfillable_quantity": li.unfulfilled_quantity,
        "price": money(li.unit_price),
        "variant_id": variant.id if variant else None,
        "product_id": variant.product.id if variant else None,
        "requires_shipping": li.requires_shipping,
    }


def _fulfillment_status(order: Order) -> str | None:
    fulfilled = sum(li.fulfilled_quantity for li in order.line_items)
    if fulfilled == 0:
        return None
    if all(li.unfulfilled_quantity == 0 for li in order.line_items):
        return "fulfilled"
    return "partial"


def fulfillment(f: Fulfillment) -> dict[str, Any]:
    first = f.tracking[0] if f.tracking else None
    return {
        "id": f.id,
        "admin_graphql_api_id": f.gid,
        "order_id": f.order.id,
        "name": f.name,
        "status": f.status.lower(),
        "created_at": iso(f.created_at),
        "updated_at": iso(f.updated_at),
        "location_id": f.location.id,
        "service": "manual",
        "shipment_status": None,
        "tracking_company": first.company if first else None,
        "tracking_number": first.number if first else None,
        "tracking_numbers": [t.number for t in f.tracking if t.number],
        "tracking_url": first.url if first else None,
        "tracking_urls": [t.url for t in f.tracking if t.url],
        "line_items": [{**_line_item(li), "quantity": qty} for li, qty in f.lines],
    }


def order(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "admin_graphql_api_id": o.gid,
        "name": o.name,
        "order_number": o.number,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "cancelled_at": iso(o.cancelled_at),
        "cancel_reason": o.cancel_reason.lower() if o.cancel_reason else None,
        "closed_at": iso(o.closed_at),
        "currency": o.currency,
        "email": o.email,
        "note": o.note,
        "financial_status": o.financial_status.lower(),
        "fulfillment_status": _fulfillment_status(o),
        "source_identifier": o.source_identifier,
        "source_name": o.source_name,
        "tags": ", ".join(o.tags),  # REST orders carry tags as one comma-separated string
        "total_price": money(o.total),
        "total_outstanding": money(o.outstanding),
        "shipping_address": _address(o.shipping_address),
        "line_items": [_line_item(li) for li in o.line_items],
        "fulfillments": [fulfillment(f) for f in o.fulfillments],
    }


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    names = {
        "firstName": "first_name",
        "lastName": "last_name",
        "countryCode": "country_code",
        "provinceCode": "province_code",
    }
    return {names.get(k, k): v for k, v in address.items()}


def inventory_level(level: InventoryLevel) -> dict[str, Any]:
    return {
        "inventory_item_id": level.item.id,
        "location_id": level.location.id,
        "available": level.quantity("available"),
        "updated_at": iso(level.updated_at),
        "admin_graphql_api_id": level.gid,
    }


def shop(s: Shop) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "domain": s.domain,
        "myshopify_domain": s.domain,
        "plan_name": s.plan,
        "currency": s.currency,
    }
