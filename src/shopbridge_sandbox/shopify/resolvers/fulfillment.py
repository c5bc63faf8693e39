"""Fulfillment orders, holds, fulfillments; hold, release, fulfillmentCreate, tracking updates."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify import fulfillment as operations
from shopbridge_sandbox.shopify.model import (
    Fulfillment,
    FulfillmentLineItem,
    FulfillmentOrder,
    Order,
    iso,
)
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.resolvers.registry import (
    attributes,
    connection,
    ctx,
    money_bag,
    not_implemented,
    resolves,
    user_errors,
)
from shopbridge_sandbox.shopify.search import filter_items

_HOLD_REASON_TEXT = {
    "AWAITING_PAYMENT": "Awaiting payment",
    "HIGH_RISK_OF_FRAUD": "High risk of fraud",
    "INCORRECT_ADDRESS": "Incorrect address",
    "INVENTORY_OUT_OF_STOCK": "Inventory out of stock",
    "UNKNOWN_DELIVERY_DATE": "Unknown delivery date",
    "OTHER": "Other",
}


@resolves("Order", "fulfillmentOrders")
def _order_fulfillment_orders(
    order: Order, info: Any, query: str | None = None, displayable: bool = False, **page: Any
) -> dict[str, Any]:
    found = filter_items(
        order.fulfillment_orders,
        query,
        {"status": lambda fo, t: fo.status.lower() == t.value.lower()},
        "fulfillmentOrders",
    )
    if displayable:
        found = [fo for fo in found if fo.status != "CANCELLED"]
    return connection(found, **page)


@resolves("Order", "fulfillments")
def _order_fulfillments(
    order: Order, info: Any, first: int | None = None, query: str | None = None
) -> Any:
    if query is not None:
        raise not_implemented("Order.fulfillments", "query")
    return order.fulfillments[:first] if first is not None else list(order.fulfillments)


attributes(
    "FulfillmentOrder",
    id=lambda fo: fo.gid,
    status=lambda fo: fo.status,
    requestStatus=lambda fo: "UNSUBMITTED",
    fulfillmentHolds=lambda fo: list(fo.holds),
    order=lambda fo: fo.order,
    orderId=lambda fo: fo.order.gid,
    orderName=lambda fo: fo.order.name,
    orderProcessedAt=lambda fo: iso(fo.order.created_at),
    createdAt=lambda fo: iso(fo.created_at),
    updatedAt=lambda fo: iso(fo.updated_at),
    fulfillAt=lambda fo: None,
    fulfillBy=lambda fo: None,
    supportedActions=lambda fo: [
        {"action": a, "externalUrl": None} for a in operations.supported_actions(fo)
    ],
    assignedLocation=lambda fo: {
        "location": fo.location,
        "name": fo.location.name,
        "countryCode": "US",
        "address1": None,
        "address2": None,
        "city": None,
        "province": None,
        "zip": None,
        "phone": None,
    },
)


@resolves("FulfillmentOrder", "lineItems")
def _fo_line_items(fo: FulfillmentOrder, info: Any, **page: Any) -> dict[str, Any]:
    return connection(fo.line_items, **page)


@resolves("FulfillmentOrder", "fulfillments")
def _fo_fulfillments(fo: FulfillmentOrder, info: Any, **page: Any) -> dict[str, Any]:
    mine = [
        f
        for f in fo.order.fulfillments
        if any(fl.line_item is x.line_item for fl in f.lines for x in fo.line_items)
    ]
    return connection(mine, **page)


attributes(
    "FulfillmentOrderLineItem",
    id=lambda li: li.gid,
    totalQuantity=lambda li: li.total_quantity,
    remainingQuantity=lambda li: li.remaining_quantity,
    sku=lambda li: li.line_item.sku,
    lineItem=lambda li: li.line_item,
    variant=lambda li: li.line_item.variant,
    inventoryItemId=lambda li: (
        li.line_item.variant.inventory_item.gid if li.line_item.variant else None
    ),
    productTitle=lambda li: li.line_item.title,
    variantTitle=lambda li: li.line_item.variant.title if li.line_item.variant else None,
    requiresShipping=lambda li: li.line_item.requires_shipping,
)

attributes(
    "FulfillmentHold",
    id=lambda h: h.gid,
    handle=lambda h: h.handle,
    reason=lambda h: h.reason,
    reasonNotes=lambda h: h.reason_notes,
    displayReason=lambda h: _HOLD_REASON_TEXT.get(h.reason, h.reason.replace("_", " ").title()),
    heldByRequestingApp=lambda h: h.held_by_requesting_app,
)

attributes(
    "Fulfillment",
    id=lambda f: f.gid,
    legacyResourceId=lambda f: str(f.id),
    name=lambda f: f.name,
    status=lambda f: f.status,
    displayStatus=lambda f: "FULFILLED",
    createdAt=lambda f: iso(f.created_at),
    updatedAt=lambda f: iso(f.updated_at),
    order=lambda f: f.order,
    location=lambda f: f.location,
    totalQuantity=lambda f: sum(fl.quantity for fl in f.lines),
    requiresShipping=lambda f: any(fl.line_item.requires_shipping for fl in f.lines),
    deliveredAt=lambda f: None,
    inTransitAt=lambda f: None,
    estimatedDeliveryAt=lambda f: None,
)


@resolves("Fulfillment", "trackingInfo")
def _tracking_info(f: Fulfillment, info: Any, first: int | None = None) -> list[dict[str, Any]]:
    rows = [{"company": t.company, "number": t.number, "url": t.url} for t in f.tracking]
    return rows[:first] if first is not None else rows


@resolves("Fulfillment", "fulfillmentLineItems")
def _fulfillment_line_items(f: Fulfillment, info: Any, **page: Any) -> dict[str, Any]:
    return connection(f.lines, **page)


@resolves("FulfillmentLineItem", "originalTotalSet", "discountedTotalSet")
def _fulfillment_line_total(line: FulfillmentLineItem, info: Any) -> dict[str, Any]:
    return money_bag(line.line_item.unit_price * line.quantity, ctx(info).shop.currency)


attributes(
    "FulfillmentLineItem",
    id=lambda fl: fl.gid,
    quantity=lambda fl: fl.quantity,
    lineItem=lambda fl: fl.line_item,
)


@resolves("Fulfillment", "fulfillmentOrders")
def _fulfillment_fos(f: Fulfillment, info: Any, **page: Any) -> dict[str, Any]:
    lines = {fl.line_item.id for fl in f.lines}
    fos = [
        fo
        for fo in f.order.fulfillment_orders
        if any(x.line_item.id in lines for x in fo.line_items)
    ]
    return connection(fos, **page)


@resolves("QueryRoot", "fulfillmentOrder")
def _fulfillment_order(_: Any, info: Any, id: str) -> FulfillmentOrder | None:
    return ctx(info).shop.fulfillment_order_by_gid(id)


def _missing_fo(*path: str) -> list[UserError]:
    return [
        UserError(
            list(path) or ["id"], "Fulfillment order does not exist.", "FULFILLMENT_ORDER_NOT_FOUND"
        )
    ]


@resolves("Mutation", "fulfillmentOrderHold")
def _hold(_: Any, info: Any, id: str, fulfillmentHold: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    fo = context.shop.fulfillment_order_by_gid(id)
    if fo is None:
        return {
            "fulfillmentHold": None,
            "fulfillmentOrder": None,
            "remainingFulfillmentOrder": None,
            "userErrors": user_errors(_missing_fo()),
        }
    new_hold, errors = operations.hold(context.world, fo, fulfillmentHold)
    return {
        "fulfillmentHold": new_hold,
        "fulfillmentOrder": fo,
        "remainingFulfillmentOrder": None,
        "userErrors": user_errors(errors),
    }


@resolves("Mutation", "fulfillmentOrderReleaseHold")
def _release(
    _: Any, info: Any, id: str, holdIds: list[str] | None = None, externalId: str | None = None
) -> dict[str, Any]:
    context = ctx(info)
    fo = context.shop.fulfillment_order_by_gid(id)
    if fo is None:
        return {"fulfillmentOrder": None, "userErrors": user_errors(_missing_fo())}
    errors = operations.release(context.world, fo, holdIds)
    return {"fulfillmentOrder": fo, "userErrors": user_errors(errors)}


@resolves("Mutation", "fulfillmentCreate")
def _fulfillment_create(
    _: Any, info: Any, fulfillment: dict[str, Any], message: str | None = None
) -> dict[str, Any]:
    context = ctx(info)
    entries = []
    for index, entry in enumerate(fulfillment["lineItemsByFulfillmentOrder"]):
        fo = context.shop.fulfillment_order_by_gid(entry["fulfillmentOrderId"])
        if fo is None:
            where = ("fulfillment", "lineItemsByFulfillmentOrder", str(index), "fulfillmentOrderId")
            return {"fulfillment": None, "userErrors": user_errors(_missing_fo(*where))}
        wanted = entry.get("fulfillmentOrderLineItems")
        entries.append((fo, [(x["id"], x["quantity"]) for x in wanted] if wanted else None))
    if not entries:
        return {
            "fulfillment": None,
            "userErrors": user_errors(
                [UserError(["fulfillment"], "lineItemsByFulfillmentOrder can't be empty")]
            ),
        }
    created, errors = operations.create_fulfillment(
        context.world, context.shop, entries, fulfillment.get("trackingInfo")
    )
    return {"fulfillment": created, "userErrors": user_errors(errors)}


@resolves("Mutation", "fulfillmentTrackingInfoUpdate")
def _tracking_update(
    _: Any,
    info: Any,
    fulfillmentId: str,
    trackingInfoInput: dict[str, Any],
    notifyCustomer: bool | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    found = shop.find(
        [f for o in shop.orders for f in o.fulfillments], fulfillmentId, "Fulfillment"
    )
    if found is None:
        return {
            "fulfillment": None,
            "userErrors": user_errors([UserError(["fulfillmentId"], "Fulfillment not found")]),
        }
    operations.update_tracking(context.world, shop, found, trackingInfoInput)
    return {"fulfillment": found, "userErrors": []}
