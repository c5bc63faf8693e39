"""Records rendered the way the 202309 API returns them (§3.2, §4.2, §4.4, wave2 §5.6, §6.1):
times in Unix seconds, ids and money as strings, one line item per unit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok.models import (
    FULFILLING,
    PACKAGE_COMPLETED,
    Cancellation,
    LineItem,
    Order,
    Package,
    Product,
    Return,
    Shop,
    Sku,
)
from shopbridge_sandbox.tiktok.orders import PENDING, UNPAID_WINDOW, unix

# Sandbox choice: a flat US sales tax on top of the pre-tax sub_total (§3.2: US prices are
# pre-tax); UK prices include VAT.
US_TAX_RATE = Decimal("0.08")
CENT = Decimal("0.01")
SHIP_BY = 3  # days after payment to reach AWAITING_COLLECTION; real US SLA UNCONFIRMED (§7)
COLLECT_BY = 5


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def order_view(order: Order, shop: Shop) -> dict[str, Any]:
    sub_total = sum((line.price for line in order.line_items), Decimal(0))
    tax = (sub_total * US_TAX_RATE).quantize(CENT) if shop.region == "US" else Decimal(0)
    zero = money(Decimal(0))
    view: dict[str, Any] = {
        "id": order.id,
        "status": order.status,
        "is_on_hold_order": order.is_on_hold_order,
        "order_type": "NORMAL",
        "commerce_platform": "TIKTOK_SHOP",
        "create_time": unix(order.create_time),
        "update_time": unix(order.update_time),
        "user_id": order.user_id,
        "buyer_email": order.buyer_email,
        "buyer_message": "",
        "seller_note": "",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "shipping_type": "SELLER",
        "delivery_type": "HOME_DELIVERY",
        "delivery_option_id": order.delivery_option_id,
        "delivery_option_name": "Standard shipping",
        "warehouse_id": order.line_items[0].warehouse_id,
        "is_cod": False,
        "is_sample_order": False,
        "is_buyer_request_cancel": order.is_buyer_request_cancel,
        "payment": {
            "currency": shop.currency,
            "sub_total": money(sub_total),
            "shipping_fee": zero,
            "seller_discount": zero,
            "platform_discount": zero,
            "tax": money(tax),
            "product_tax": money(tax),
            "shipping_fee_tax": zero,
            "retail_delivery_fee": zero,
            "total_amount": money(sub_total + tax),
            "original_total_product_price": money(sub_total),
            "original_shipping_fee": zero,
            "shipping_fee_seller_discount": zero,
            "shipping_fee_platform_discount": zero,
        },
        "payment_method_name": "Credit/Debit card",
        # §3.2: the address is empty while UNPAID or ON_HOLD.
        "recipient_address": {} if order.status in ("UNPAID", "ON_HOLD") else dict(order.address),
        "packages": [{"id": p.id} for p in order.packages],
        "line_items": [_line_view(order, i, shop) for i in range(len(order.line_items))],
    }
    if order.status == "UNPAID":
        view["cancel_order_sla_time"] = unix(order.create_time + UNPAID_WINDOW)
    if order.paid_time is not None:
        view["paid_time"] = unix(order.paid_time)
        view["rts_sla_time"] = view["shipping_due_time"] = unix(
            order.paid_time + timedelta(days=SHIP_BY)
        )
        view["tts_sla_time"] = view["collection_due_time"] = unix(
            order.paid_time + timedelta(days=COLLECT_BY)
        )
    if order.split_or_combine_tag:
        view["split_or_combine_tag"] = order.split_or_combine_tag
    shipped = [p for p in order.packages if p.shipped]
    if shipped:
        last = shipped[-1]
        view["tracking_number"] = last.tracking_number
        view["shipping_provider_id"] = last.shipping_provider_id
        view["shipping_provider"] = last.shipping_provider_name
    for name in ("rts_time", "collection_time", "delivery_time"):
        moment = getattr(order, name)
        if moment is not None:
            view[name] = unix(moment)
    if order.status == "CANCELLED":
        view["cancel_reason"] = order.cancel_reason
        view["cancellation_initiator"] = order.cancellation_initiator
        if order.cancel_time is not None:
            view["cancel_time"] = unix(order.cancel_time)
    if order.request_cancel_time is not None:
        view["request_cancel_time"] = unix(order.request_cancel_time)
    return view


def _line_view(order: Order, index: int, shop: Shop) -> dict[str, Any]:
    line = order.line_items[index]
    package = next((p for p in order.packages if p.id == line.package_id), None)
    view: dict[str, Any] = {
        "id": line.id,
        "sku_id": line.sku_id,
        "product_id": line.product_id,
        "product_name": line.product_name,
        "sku_name": line.sku_name,
        "sku_image": "",
        "seller_sku": line.seller_sku,
        "original_price": money(line.price),
        "sale_price": money(line.price),
        "platform_discount": "0.00",
        "seller_discount": "0.00",
        "currency": shop.currency,
        "display_status": unit_status(order, line, package),
        "is_gift": False,
    }
    if package is not None:
        # §3.2: for local US/UK sellers a unit has no package until it ships, unless TikTok
        # split or combined the order before shipping (wave2 §5.1).
        view.update(package_id=package.id, package_status=package.status)
        if package.shipped_at is not None:
            view.update(
                tracking_number=package.tracking_number,
                shipping_provider_id=package.shipping_provider_id,
                shipping_provider_name=package.shipping_provider_name,
                rts_time=unix(package.shipped_at),
            )
    if line.cancelled:
        view["cancel_reason"] = line.cancel_reason
        view["cancel_user"] = line.cancel_user
    return view


def unit_status(order: Order, line: LineItem, package: Package | None) -> str:
    """A unit's display_status (§3.2): CANCELLED once cancelled; a shipped unit follows its
    package; an unshipped one, the order (AWAITING_SHIPMENT while the order ships partly)."""
    if line.cancelled:
        return "CANCELLED"
    if package is not None and package.shipped:
        if package.status == FULFILLING:
            return "IN_TRANSIT"
        if package.status == PACKAGE_COMPLETED:
            return "COMPLETED" if order.status == "COMPLETED" else "DELIVERED"
        return "AWAITING_COLLECTION"
    if order.status == "PARTIALLY_SHIPPING":
        return "AWAITING_SHIPMENT"
    return order.status


def package_view(package: Package, orders: list[Order], shop: Shop) -> dict[str, Any]:
    """Get Package Detail (wave2 §5.6); `orders` are the package's orders."""
    in_package = [li for o in orders for li in o.line_items if li.package_id == package.id]
    view: dict[str, Any] = {
        "package_id": package.id,
        "package_status": package.status,
        "order_line_item_ids": [li.id for li in in_package],
        "orders": [
            {"id": o.id, "skus": _package_skus([li for li in in_package if li in o.line_items])}
            for o in orders
        ],
        "split_and_combine_tag": package.tag,
        "has_multi_skus": len({li.sku_id for li in in_package}) > 1,
        "note_tag": "",
        "shipping_type": "SELLER",
        "delivery_option_id": shop.delivery_option_id,
        "delivery_option_name": "Standard shipping",
        "shipping_provider_id": package.shipping_provider_id,
        "shipping_provider_name": package.shipping_provider_name,
        "tracking_number": package.tracking_number,
        "create_time": unix(package.create_time),
        "update_time": unix(package.update_time or package.create_time),
    }
    if package.shipped:
        view["handover_method"] = "DROP_OFF"
    return view


def _package_skus(lines: list[LineItem]) -> list[dict[str, Any]]:
    """The deprecated `orders[].skus[]` (wave2 §4): units grouped by SKU with a quantity."""
    by_sku: dict[str, dict[str, Any]] = {}
    for line in lines:
        entry = by_sku.setdefault(
            line.sku_id, {"id": line.sku_id, "name": line.sku_name, "image_url": "", "quantity": 0}
        )
        entry["quantity"] += 1
    return list(by_sku.values())


def _refund_amount(prices: list[Decimal], shop: Shop) -> dict[str, str]:
    """What the buyer gets back for these units: their prices, plus sales tax in the US."""
    subtotal = sum(prices, Decimal(0))
    tax = (subtotal * US_TAX_RATE).quantize(CENT) if shop.region == "US" else Decimal(0)
    return {
        "currency": shop.currency,
        "refund_total": money(subtotal + tax),
        "refund_subtotal": money(subtotal),
        "refund_shipping_fee": "0.00",
        "refund_tax": money(tax),
    }


def cancellation_view(request: Cancellation, order: Order, shop: Shop) -> dict[str, Any]:
    lines = [line for line in order.line_items if line.id in request.line_item_ids]
    view: dict[str, Any] = {
        "cancel_id": request.id,
        "order_id": request.order_id,
        "cancel_type": request.cancel_type,
        "cancel_status": request.status,
        "role": request.role,
        "cancel_reason": request.reason,
        "cancel_reason_text": request.reason.replace("_", " "),
        "create_time": unix(request.create_time),
        "update_time": unix(request.update_time),
        "refund_amount": _refund_amount([line.price for line in lines], shop),
        "cancel_line_items": [
            {
                "cancel_line_item_id": f"{request.id[:-4]}{i:04d}",
                "order_line_item_id": line.id,
                "sku_id": line.sku_id,
                "sku_name": line.sku_name,
                "product_name": line.product_name,
                "seller_sku": line.seller_sku,
                "refund_amount": {"currency": shop.currency, "refund_total": money(line.price)},
            }
            for i, line in enumerate(lines)
        ],
    }
    if request.status == PENDING and request.deadline is not None:
        view["seller_next_action_response"] = [
            {"action": "SELLER_RESPOND_CANCEL", "deadline": unix(request.deadline)}
        ]
    return view


def return_view(request: Return, order: Order, shop: Shop) -> dict[str, Any]:
    """One `return_orders[]` entry of Search Returns (wave2 §6.1)."""
    by_id = {line.id: line for line in order.line_items}
    lines = [(return_line_id, by_id[line_id]) for return_line_id, line_id in request.line_items]
    view: dict[str, Any] = {
        "return_id": request.id,
        "order_id": request.order_id,
        "return_type": request.return_type,
        "return_status": request.status,
        "role": request.role,
        "return_reason": request.reason,
        "return_reason_text": request.reason.replace("_", " "),
        "shipment_type": "PLATFORM" if request.return_type == "RETURN_AND_REFUND" else "",
        "can_buyer_keep_item": request.return_type == "REFUND",
        "create_time": unix(request.create_time),
        "update_time": unix(request.update_time),
        "refund_amount": _refund_amount([line.price for _, line in lines], shop),
        "return_line_items": [
            {
                "return_line_item_id": return_line_id,
                "order_line_item_id": line.id,
                "sku_id": line.sku_id,
                "seller_sku": line.seller_sku,
                "sku_name": line.sku_name,
                "product_name": line.product_name,
                "product_image": {"url": ""},
                "refund_amount": {"currency": shop.currency, "refund_total": money(line.price)},
            }
            for return_line_id, line in lines
        ],
    }
    action = RETURN_SELLER_ACTIONS.get((request.return_type, request.status))
    if action is not None:
        deadline = request.update_time + RETURN_RESPONSE_WINDOW
        view["seller_next_action_response"] = [{"action": action, "deadline": unix(deadline)}]
    return view


# What the seller must answer, and by when (wave2 §6.2: respond within 48 h).
RETURN_RESPONSE_WINDOW = timedelta(hours=48)
RETURN_SELLER_ACTIONS = {
    ("REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "SELLER_RESPOND_REFUND",
    ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_PENDING"): "SELLER_RESPOND_RETURN",
    ("RETURN_AND_REFUND", "BUYER_SHIPPED_ITEM"): "SELLER_RESPOND_RECEIVE_PACKAGE",
}


def sku_inventory_view(sku: Sku) -> dict[str, Any]:
    available = sum(sku.available.values())
    return {
        "id": sku.id,
        "seller_sku": sku.seller_sku,
        "total_available_quantity": available,
        "total_committed_quantity": sum(sku.committed.values()),
        "warehouse_inventory": [
            {
                "warehouse_id": wid,
                "available_quantity": sku.available[wid],
                "committed_quantity": sku.committed.get(wid, 0),
            }
            for wid in sku.available
        ],
        "total_available_inventory_distribution": {
            "campaign_inventory": [],
            "creator_inventory": [],
            "in_shop_inventory": {"quantity": available},
        },
    }


def product_view(product: Product, shop: Shop) -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "status": product.status,
        "create_time": unix(product.create_time),
        "update_time": unix(product.update_time),
        "skus": [
            {
                "id": sku.id,
                "seller_sku": sku.seller_sku,
                "price": {
                    "currency": shop.currency,
                    "sale_price": money(sku.price),
                    "tax_exclusive_price": money(sku.price),
                },
                "inventory": [{"warehouse_id": w, "quantity": q} for w, q in sku.available.items()],
            }
            for sku in product.skus
        ],
    }


def shipping_providers_view(shop: Shop) -> list[dict[str, str]]:
    return [{"id": p.id, "name": p.name} for p in catalog.providers_for(shop.region)]
