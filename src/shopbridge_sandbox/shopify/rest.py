"""REST representations used as webhook bodies: snake_case, numeric ids, `admin_graphql_api_id`.

[shopify_api.md §7: "JSON body = the REST representation of the resource"]
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shopbridge_sandbox.shopify.model import (
    Fulfillment,
    InventoryLevel,
    LineItem,
    Order,
    OrderEdit,
    Refund,
    Shop,
    money,
)


def iso(moment: datetime | None) -> str | None:
    """REST's time form: ISO 8601 with a numeric offset, never `Z` (Shopify's samples read
    `2020-09-03T08:44:10-04:00`, the shop's zone; the sandbox's shops are on UTC)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    value = {"amount": money(amount), "currency_code": currency}
    return {"shop_money": value, "presentment_money": dict(value)}


def _line_fulfillment_status(li: LineItem) -> str | None:
    if not li.fulfilled_quantity:
        return None
    return "fulfilled" if li.unfulfilled_quantity == 0 else "partial"


def _line_item(li: LineItem, currency: str) -> dict[str, Any]:
    variant = li.variant
    return {
        "id": li.id,
        "admin_graphql_api_id": li.gid,
        "variant_id": variant.id if variant else None,
        "product_id": variant.product.id if variant else None,
        "sku": li.sku,
        "title": li.title,
        "variant_title": variant.title if variant else None,
        "name": li.title,
        "vendor": None,
        "quantity": li.quantity,
        "current_quantity": li.current_quantity,
        "fulfillable_quantity": li.unfulfilled_quantity,
        "fulfillment_status": _line_fulfillment_status(li),
        "fulfillment_service": "manual",
        "price": money(li.unit_price),
        "price_set": _money_set(li.unit_price, currency),
        "total_discount": "0.00",
        "total_discount_set": _money_set(Decimal(0), currency),
        "discount_allocations": [],
        "duties": [],
        "tax_lines": [],
        "taxable": True,
        "requires_shipping": li.requires_shipping,
        "gift_card": False,
        "grams": 0,
        "product_exists": variant is not None,
        "variant_inventory_management": "shopify" if li.restockable else None,
        "properties": [],
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
    currency = f.order.currency
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
        "origin_address": {},
        "receipt": {},
        "line_items": [
            {**_line_item(fl.line_item, currency), "quantity": fl.quantity} for fl in f.lines
        ],
    }


def order(o: Order) -> dict[str, Any]:
    currency = o.currency
    zero = money(Decimal(0))
    return {
        "id": o.id,
        "admin_graphql_api_id": o.gid,
        "name": o.name,
        # REST counts orders from 1 in `number` and from 1001 in `order_number` (the name's).
        "number": o.number - 1000,
        "order_number": o.number,
        "email": o.email,
        "contact_email": o.email,
        "phone": None,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "processed_at": iso(o.created_at),
        "cancelled_at": iso(o.cancelled_at),
        "cancel_reason": o.cancel_reason.lower() if o.cancel_reason else None,
        "closed_at": iso(o.closed_at),
        "confirmed": True,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": o.financial_status.lower(),
        "fulfillment_status": _fulfillment_status(o),
        # Taxes and discounts are not modelled: the sandbox's orders carry none.
        "subtotal_price": money(o.total),
        "current_subtotal_price": money(o.current_total),
        "total_line_items_price": money(o.total),
        "total_price": money(o.total),
        "current_total_price": money(o.current_total),
        "total_tax": zero,
        "current_total_tax": zero,
        "total_discounts": zero,
        "current_total_discounts": zero,
        "total_outstanding": money(o.outstanding),
        "subtotal_price_set": _money_set(o.total, currency),
        "total_price_set": _money_set(o.total, currency),
        "current_total_price_set": _money_set(o.current_total, currency),
        "total_tax_set": _money_set(Decimal(0), currency),
        "taxes_included": False,
        "test": False,
        "app_id": None,
        "source_name": o.source_name,
        "source_identifier": o.source_identifier,
        "tags": ", ".join(o.tags),  # REST orders carry tags as one comma-separated string
        "note": o.note,
        "note_attributes": [],
        "discount_codes": [],
        "tax_lines": [],
        "shipping_lines": [],
        "billing_address": None,
        "shipping_address": _address(o.shipping_address),
        "customer": None,
        "line_items": [_line_item(li, currency) for li in o.line_items],
        "fulfillments": [fulfillment(f) for f in o.fulfillments],
        "refunds": [refund(r) for r in o.refunds],
    }


def refund(r: Refund) -> dict[str, Any]:
    """The REST Refund (refunds/create body): no money moves in the sandbox, so `transactions`
    is empty; `subtotal` and `total_tax` are numbers, as in Shopify's samples [wave2 §2.4]."""
    currency = r.order.currency
    lines = []
    for line in r.lines:
        subtotal = line.line_item.unit_price * line.quantity
        lines.append(
            {
                "id": line.id,
                "line_item_id": line.line_item.id,
                "location_id": line.location.id if line.location else None,
                "quantity": line.quantity,
                "restock_type": line.restock_type.lower(),
                "subtotal": float(money(subtotal)),
                "subtotal_set": _money_set(subtotal, currency),
                "total_tax": 0.0,
                "total_tax_set": _money_set(Decimal(0), currency),
                "line_item": _line_item(line.line_item, currency),
            }
        )
    return {
        "id": r.id,
        "admin_graphql_api_id": r.gid,
        "order_id": r.order.id,
        "created_at": iso(r.created_at),
        "processed_at": iso(r.created_at),
        "note": r.note,
        "restock": any(line.restocked for line in r.lines),
        "user_id": None,
        "order_adjustments": [],
        "duties": [],
        "additional_fees": [],
        "refund_shipping_lines": [],
        "transactions": [],
        "refund_line_items": lines,
    }


def order_edit(edit: OrderEdit) -> dict[str, Any]:
    """orders/edited: the edit, not the order [wave2 §2.4]; removals carry LineItem ids."""
    return {
        "order_edit": {
            "id": edit.id,
            "app_id": None,
            "created_at": iso(edit.created_at),
            "committed_at": iso(edit.committed_at),
            "notify_customer": edit.notify_customer,
            "order_id": edit.order.id,
            "staff_note": edit.staff_note,
            "user_id": None,
            "line_items": {
                "additions": [],
                "removals": [{"id": li.id, "delta": delta} for li, delta in edit.removals],
            },
            "discounts": {"line_item": {"additions": [], "removals": []}},
            "shipping_lines": {"additions": [], "removals": []},
        }
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
