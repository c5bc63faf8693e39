"""Fulfillment orders, holds and fulfillments [shopify_api.md §2, §5].

Holds are whole-FO holds (line-item holds that split a fulfillment order are not
implemented and are refused with a clear error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopbridge_sandbox.shopify import inventory, rest
from shopbridge_sandbox.shopify.model import (
    Fulfillment,
    FulfillmentHold,
    FulfillmentLineItem,
    FulfillmentOrder,
    Order,
    Shop,
    TrackingInfo,
)
from shopbridge_sandbox.shopify.orders import UserError, display_fulfillment_status
from shopbridge_sandbox.shopify.tracking import tracking_url
from shopbridge_sandbox.shopify.world import World

# "Each app can place up to 10 active holds per fulfillment order" [fulfillmentOrderHold].
MAX_HOLDS_PER_APP = 10
MAX_HANDLE_LENGTH = 64


_ACTIONS = {
    "OPEN": ["CREATE_FULFILLMENT", "HOLD", "MOVE"],
    "IN_PROGRESS": ["CREATE_FULFILLMENT", "HOLD"],
    "ON_HOLD": ["RELEASE_HOLD", "HOLD", "MOVE"],
}


def supported_actions(fo: FulfillmentOrder) -> list[str]:
    return _ACTIONS.get(fo.status, [])


def _tracking(info: dict[str, Any] | None) -> list[TrackingInfo]:
    """One entry per number; a number without a given url gets the one Shopify builds for a
    supported company (`tracking.py`), else none."""
    if not info:
        return []
    company = info.get("company")
    numbers = info.get("numbers") or ([info["number"]] if info.get("number") else [])
    urls = info.get("urls") or ([info["url"]] if info.get("url") else [])
    rows = []
    for i in range(max(len(numbers), len(urls), 1)):
        number = numbers[i] if i < len(numbers) else None
        url = urls[i] if i < len(urls) else None
        rows.append(TrackingInfo(company, number, url or tracking_url(company, number)))
    return rows


def hold(
    world: World, fo: FulfillmentOrder, spec: dict[str, Any], by_app: bool = True
) -> tuple[FulfillmentHold | None, list[UserError]]:
    """fulfillmentOrderHold on the whole fulfillment order."""
    if fo.status not in ("OPEN", "ON_HOLD", "SCHEDULED"):
        return None, [
            UserError(
                ["id"],
                f"Fulfillment order {fo.gid} is {fo.status} and can't be put on hold",
                "FULFILLMENT_ORDER_NOT_FOUND",
            )
        ]
    if spec.get("fulfillmentOrderLineItems"):
        if fo.status == "ON_HOLD":
            return None, [
                UserError(
                    ["fulfillmentHold", "fulfillmentOrderLineItems"],
                    "The fulfillment order is already on hold and can't be split",
                    "FULFILLMENT_ORDER_NOT_SPLITTABLE",
                )
            ]
        return None, [
            UserError(
                ["fulfillmentHold", "fulfillmentOrderLineItems"],
                "Holding part of a fulfillment order is not implemented by the shopbridge sandbox",
                "FULFILLMENT_ORDER_NOT_SPLITTABLE",
            )
        ]
    handle = spec.get("handle")
    own = [h for h in fo.holds if h.held_by_requesting_app == by_app]
    if handle is not None and len(handle) > MAX_HANDLE_LENGTH:
        return None, [
            UserError(
                ["fulfillmentHold", "handle"], "Handle is too long (maximum is 64)", "INVALID"
            )
        ]
    if any(h.handle == handle for h in own):
        return None, [
            UserError(
                ["fulfillmentHold", "handle"],
                f"The handle {handle!r} is already in use by this app on this fulfillment order",
                "DUPLICATE_FULFILLMENT_HOLD_HANDLE",
            )
        ]
    if len(own) >= MAX_HOLDS_PER_APP:
        return None, [
            UserError(
                ["id"],
                "This app already has the maximum of 10 holds on this fulfillment order",
                "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED",
            )
        ]
    now = world.now()
    new_hold = FulfillmentHold(
        world.ids.next("FulfillmentHold"),
        spec["reason"],
        spec.get("reasonNotes"),
        handle,
        held_by_requesting_app=by_app,
        created_at=now,
    )
    fo.holds.append(new_hold)
    fo.status = "ON_HOLD"
    if fo.first_held_at is None:
        fo.first_held_at = now
    fo.updated_at = fo.order.updated_at = now
    return new_hold, []


def release(world: World, fo: FulfillmentOrder, hold_ids: list[str] | None) -> list[UserError]:
    """fulfillmentOrderReleaseHold: the given holds, or all of them (other apps' too)."""
    if fo.status != "ON_HOLD":
        return [
            UserError(
                ["id"], f"Fulfillment order {fo.gid} is not on hold", "FULFILLMENT_ORDER_NOT_FOUND"
            )
        ]
    if hold_ids is None:
        fo.holds.clear()
    else:
        unknown = [h for h in hold_ids if h not in {x.gid for x in fo.holds}]
        if unknown:
            return [
                UserError(
                    ["holdIds"],
                    f"Fulfillment holds {', '.join(unknown)} are not on this fulfillment order",
                    "INVALID_ACCESS",
                )
            ]
        fo.holds = [h for h in fo.holds if h.gid not in hold_ids]
    if not fo.holds:
        # Back to OPEN when the last hold goes (SCHEDULED is not modelled) [§2 UNCONFIRMED 5].
        partly_done = any(li.remaining_quantity < li.total_quantity for li in fo.line_items)
        fo.status = "IN_PROGRESS" if partly_done else "OPEN"
    fo.updated_at = fo.order.updated_at = world.now()
    return []


def create_fulfillment(
    world: World,
    shop: Shop,
    entries: Sequence[tuple[FulfillmentOrder, list[tuple[str, int]] | None]],
    tracking: dict[str, Any] | None,
) -> tuple[Fulfillment | None, list[UserError]]:
    """fulfillmentCreate: consume committed (and so on_hand) units, emit the webhooks."""
    orders = {fo.order.id for fo, _ in entries}
    locations = {fo.location.id for fo, _ in entries}
    if len(orders) != 1 or len(locations) != 1:
        return None, [
            UserError(
                ["fulfillment", "lineItemsByFulfillmentOrder"],
                "All fulfillment orders must belong to the same order and location",
            )
        ]
    plan: list[tuple[FulfillmentOrder, Any, int]] = []
    for index, (fo, wanted) in enumerate(entries):
        where = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
        if fo.status not in ("OPEN", "IN_PROGRESS"):
            # "A FO in ON_HOLD can't be fulfilled until released" [§5].
            return None, [
                UserError(
                    [*where, "fulfillmentOrderId"],
                    f"Fulfillment order {fo.gid} is {fo.status} and can't be fulfilled",
                )
            ]
        if wanted is None:
            plan += [
                (fo, li, li.remaining_quantity) for li in fo.line_items if li.remaining_quantity
            ]
            continue
        for li_gid, quantity in wanted:
            li = next((x for x in fo.line_items if x.gid == li_gid), None)
            if li is None or quantity < 1 or quantity > li.remaining_quantity:
                return None, [
                    UserError(
                        [*where, "fulfillmentOrderLineItems"],
                        f"Invalid fulfillment order line item {li_gid} or quantity {quantity}",
                    )
                ]
            plan.append((fo, li, quantity))
    if not plan:
        return None, [UserError(["fulfillment"], "There is nothing left to fulfil")]
    order: Order = entries[0][0].order
    location = entries[0][0].location
    now = world.now()
    for fo, fo_line, quantity in plan:
        fo_line.remaining_quantity -= quantity
        line_item = fo_line.line_item
        line_item.fulfilled_quantity += quantity
        variant = line_item.variant
        from_committed = min(quantity, line_item.committed_quantity)
        if variant is not None and from_committed:
            # Fulfilment consumes what the order committed (so on_hand drops); units of a
            # BYPASS order were never claimed and stay untouched (UNCONFIRMED, §1).
            level = inventory.level_for(world, shop, variant.inventory_item, location)
            line_item.committed_quantity -= from_committed
            inventory.move(world, shop, level, committed=-from_committed)
        fo.status = (
            "CLOSED" if not any(x.remaining_quantity for x in fo.line_items) else "IN_PROGRESS"
        )
        fo.updated_at = now
    lines: dict[int, FulfillmentLineItem] = {}
    for _fo, fo_line, quantity in plan:
        li = fo_line.line_item
        if li.id in lines:
            lines[li.id].quantity += quantity
        else:
            lines[li.id] = FulfillmentLineItem(world.ids.next("FulfillmentLineItem"), li, quantity)
    fulfillment = Fulfillment(
        world.ids.next("Fulfillment"),
        order,
        f"{order.name}.{len(order.fulfillments) + 1}",
        location,
        now,
        now,
        _tracking(tracking),
        list(lines.values()),
    )
    order.fulfillments.append(fulfillment)
    order.updated_at = now
    world.emit(shop, "fulfillments/create", rest.fulfillment(fulfillment))
    if display_fulfillment_status(order) == "FULFILLED":
        world.emit(shop, "orders/fulfilled", rest.order(order))
    return fulfillment, []


def update_tracking(
    world: World, shop: Shop, fulfillment: Fulfillment, info: dict[str, Any]
) -> None:
    fulfillment.tracking = _tracking(info)
    fulfillment.updated_at = fulfillment.order.updated_at = world.now()
    world.emit(shop, "fulfillments/update", rest.fulfillment(fulfillment))
