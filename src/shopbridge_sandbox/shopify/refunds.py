"""refundCreate for line items: record refunded quantities and restock them [wave2 §5].

The sandbox records quantities only: no money moves, so `transactions`, `shipping`,
`refundDuties` and `refundMethods` are not implemented (refused by the resolver), and the
order's financial status stays as it was. Restock types (RefundLineItemRestockType [SDL]):
RETURN puts fulfilled units back into `available` at `locationId` (then required); CANCEL
takes unfulfilled units off the order and their committed units back to `available`;
NO_RESTOCK takes unfulfilled units first, then fulfilled ones, and restocks nothing (committed
units of unfulfilled ones are written off, as orderCancel(restock: false) does here;
Shopify's exact effect is UNCONFIRMED). An omitted restockType reads as NO_RESTOCK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopbridge_sandbox.shopify import inventory, orders, rest
from shopbridge_sandbox.shopify.model import (
    LineItem,
    Location,
    Order,
    Refund,
    RefundLineItem,
    Shop,
    parse_gid,
)
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.world import World

RESTOCK_TYPES = ("RETURN", "CANCEL", "NO_RESTOCK")


@dataclass
class _Planned:
    line_item: LineItem
    quantity: int
    restock_type: str
    location: Location | None
    from_unfulfilled: int  # of `quantity`, how many units were never fulfilled


class _Refundable:
    """Units still refundable per line while a refund's entries are checked one by one."""

    def __init__(self, order: Order) -> None:
        self.unfulfilled = {li.id: li.unfulfilled_quantity for li in order.line_items}
        self.fulfilled = {li.id: li.kept_fulfilled_quantity for li in order.line_items}

    def total(self, line_item: LineItem) -> int:
        return self.unfulfilled[line_item.id] + self.fulfilled[line_item.id]

    def take(self, line_item: LineItem, quantity: int, restock_type: str) -> int:
        """Count the units as refunded; returns how many of them were unfulfilled."""
        if restock_type == "RETURN":
            unfulfilled = 0
        elif restock_type == "CANCEL":
            unfulfilled = quantity
        else:
            unfulfilled = min(quantity, self.unfulfilled[line_item.id])
        self.unfulfilled[line_item.id] -= unfulfilled
        self.fulfilled[line_item.id] -= quantity - unfulfilled
        return unfulfilled


def _check_entry(
    shop: Shop, order: Order, index: int, entry: dict[str, Any], refundable: _Refundable
) -> _Planned | UserError:
    where = ["refundLineItems", str(index)]
    number = parse_gid(entry["lineItemId"], "LineItem")
    line_item = next((li for li in order.line_items if li.id == number), None)
    if line_item is None:
        return UserError(
            [*where, "lineItemId"], f"Line item {entry['lineItemId']} does not exist on this order."
        )
    quantity = entry["quantity"]
    if quantity < 1:
        return UserError([*where, "quantity"], "Quantity must be greater than 0.")
    restock_type = entry.get("restockType") or "NO_RESTOCK"
    if restock_type not in RESTOCK_TYPES:
        return UserError(
            [*where, "restockType"], f"{restock_type} is not accepted for new refunds."
        )
    location = None
    if restock_type != "NO_RESTOCK" and entry.get("locationId") is not None:
        location = shop.location_by_gid(entry["locationId"])
        if location is None:
            return UserError([*where, "locationId"], "Location does not exist.")
    available = refundable.total(line_item)
    unfulfilled = refundable.unfulfilled[line_item.id]
    fulfilled = refundable.fulfilled[line_item.id]
    if quantity > available:
        return UserError(
            [*where, "quantity"],
            f"Quantity {quantity} is more than the {available} refundable units of line item "
            f"{line_item.gid}.",
        )
    if restock_type == "RETURN" and quantity > fulfilled:
        return UserError(
            [*where, "restockType"],
            f"Only {fulfilled} fulfilled units of line item {line_item.gid} can be returned; "
            "use CANCEL to restock unfulfilled units.",
        )
    if restock_type == "RETURN" and location is None:
        return UserError(
            [*where, "locationId"], "A location is required to restock returned items."
        )
    if restock_type == "CANCEL" and quantity > unfulfilled:
        return UserError(
            [*where, "restockType"],
            f"Only {unfulfilled} unfulfilled units of line item {line_item.gid} can be "
            "cancelled; use RETURN to restock fulfilled units.",
        )
    taken = refundable.take(line_item, quantity, restock_type)
    return _Planned(line_item, quantity, restock_type, location, taken)


def create_refund(
    world: World, shop: Shop, order: Order, spec: dict[str, Any]
) -> tuple[Refund | None, list[UserError]]:
    """refundCreate: check every entry against what is still refundable, then apply them all;
    emits refunds/create and orders/updated."""
    if order.cancelled_at is not None or order.cancelling:
        # orderCancel restocked (or wrote off) the unfulfilled units already, and a cancelled
        # order has no fulfilments (cancel refuses those), so nothing is left to refund here.
        return None, [UserError(["orderId"], f"Order {order.name} is canceled.")]
    entries = spec.get("refundLineItems") or []
    if not entries:
        return None, [
            UserError(["refundLineItems"], "Refund line items can't be empty (nothing to refund).")
        ]
    refundable = _Refundable(order)
    planned: list[_Planned] = []
    errors: list[UserError] = []
    for index, entry in enumerate(entries):
        checked = _check_entry(shop, order, index, entry, refundable)
        if isinstance(checked, UserError):
            errors.append(checked)
        else:
            planned.append(checked)
    if errors:
        return None, errors
    now = world.now()
    refund = Refund(world.ids.next("Refund"), order, spec.get("note"), now)
    for plan in planned:
        location = _apply(world, shop, order, plan)
        refund.lines.append(
            RefundLineItem(
                world.ids.next("RefundLineItem"),
                plan.line_item,
                plan.quantity,
                plan.restock_type,
                location,
            )
        )
    order.refunds.append(refund)
    order.updated_at = now
    world.emit(shop, "refunds/create", rest.refund(refund))
    world.emit(shop, "orders/updated", rest.order(order))
    return refund, []


def _apply(world: World, shop: Shop, order: Order, plan: _Planned) -> Location | None:
    """Move the units; returns the location they were restocked at (None: not restocked)."""
    line_item = plan.line_item
    from_fulfilled = plan.quantity - plan.from_unfulfilled
    line_item.returned_quantity += from_fulfilled
    if plan.from_unfulfilled:
        assigned = orders.take_off_unfulfilled(
            world,
            shop,
            order,
            line_item,
            plan.from_unfulfilled,
            restock=plan.restock_type == "CANCEL",
            restock_at=plan.location,
        )
        if plan.restock_type == "CANCEL":
            return plan.location or assigned
    if plan.restock_type == "RETURN" and plan.location is not None:
        variant = line_item.variant
        if variant is not None and variant.inventory_item.tracked:
            level = inventory.level_for(world, shop, variant.inventory_item, plan.location)
            inventory.move(world, shop, level, available=from_fulfilled)
        return plan.location
    return None
