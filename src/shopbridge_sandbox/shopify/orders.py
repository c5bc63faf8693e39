"""Orders: creation with inventory claims, display statuses, payment, cancellation, and taking
unfulfilled units off an order (what edits and refunds before shipping share).

Facts from shopify_api.md §1 (orderCreate), §2 (display statuses), §3 (orderMarkAsPaid),
§4 (orderCancel) and shopify_api_wave2.md §3-§5. Each function returns user errors as
(field, message, code) tuples so the GraphQL layer and the Python API report refusals the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shopbridge_sandbox.shopify import inventory, rest
from shopbridge_sandbox.shopify.model import (
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    Location,
    Order,
    Shop,
    Transaction,
    Variant,
)
from shopbridge_sandbox.shopify.world import World


@dataclass(frozen=True)
class UserError:
    field: list[str] | None
    message: str
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "code": self.code}


_SETTLED_FO = ("CLOSED", "CANCELLED")


def display_fulfillment_status(order: Order) -> str:
    """OrderDisplayFulfillmentStatus; ON_HOLD = "all of the unfulfilled items are on hold"."""
    fulfilled = sum(li.fulfilled_quantity for li in order.line_items)
    # Units removed by an edit or a refund count as neither: an order whose every unit was
    # removed before shipping is not FULFILLED.
    if fulfilled and all(li.unfulfilled_quantity == 0 for li in order.line_items):
        return "FULFILLED"
    open_fos = [
        fo
        for fo in order.fulfillment_orders
        if fo.status not in _SETTLED_FO and any(li.remaining_quantity for li in fo.line_items)
    ]
    if open_fos and all(fo.status == "ON_HOLD" for fo in open_fos):
        return "ON_HOLD"
    if fulfilled:
        return "PARTIALLY_FULFILLED"
    if any(fo.status == "IN_PROGRESS" for fo in open_fos):
        return "IN_PROGRESS"
    return "UNFULFILLED"


def can_mark_as_paid(order: Order) -> bool:
    return (
        order.cancelled_at is None and order.financial_status != "PAID" and (order.outstanding > 0)
    )


def _money_amount(money_bag: dict[str, Any] | None) -> Decimal | None:
    if not money_bag:
        return None
    try:
        return Decimal(str(money_bag["shopMoney"]["amount"]))
    except (InvalidOperation, KeyError, TypeError):
        return None


def _resolve_lines(
    shop: Shop, lines: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], Variant | None]], list[UserError]]:
    resolved: list[tuple[dict[str, Any], Variant | None]] = []
    errors: list[UserError] = []
    for index, line in enumerate(lines):
        where = ["order", "lineItems", str(index)]
        variant = None
        if line.get("variantId") is not None:
            variant = next((v for v in shop.variants() if v.gid == line["variantId"]), None)
            if variant is None:
                errors.append(UserError([*where, "variantId"], "Variant does not exist", "INVALID"))
                continue
        elif not line.get("title"):
            errors.append(
                UserError([*where, "title"], "Title can't be blank for a custom line", "INVALID")
            )
            continue
        if line["quantity"] < 1:
            errors.append(
                UserError([*where, "quantity"], "Quantity must be greater than 0", "INVALID")
            )
            continue
        resolved.append((line, variant))
    return resolved, errors


def create_order(
    world: World, shop: Shop, spec: dict[str, Any], behaviour: str = "BYPASS"
) -> tuple[Order | None, list[UserError]]:
    """orderCreate: validate, claim inventory if asked, create the order and its FO."""
    lines = spec.get("lineItems") or []
    if not lines:
        return None, [UserError(["order", "lineItems"], "Line items can't be empty", "INVALID")]
    resolved, errors = _resolve_lines(shop, lines)
    if errors:
        return None, errors
    location = next(loc for loc in shop.locations if loc.active)
    claim = behaviour != "BYPASS"
    if claim:
        errors = _claim_refusals(world, shop, resolved, location, behaviour)
        if errors:
            return None, errors
    now = world.now()
    order = Order(
        id=world.ids.next("Order"),
        number=shop.next_order_number,
        currency=spec.get("currency") or shop.currency,
        created_at=now,
        updated_at=now,
        financial_status="PENDING",
        source_identifier=spec.get("sourceIdentifier"),
        source_name=spec.get("sourceName"),
        email=spec.get("email"),
        note=spec.get("note"),
        tags=_clean_tags(spec.get("tags")),
        shipping_address=spec.get("shippingAddress"),
    )
    shop.next_order_number += 1
    order.line_items = [_line_item(world, line, variant) for line, variant in resolved]
    if claim:
        claim_stock(world, shop, order, location)
    order.transactions = [_transaction(world, tx) for tx in spec.get("transactions") or []]
    order.financial_status = spec.get("financialStatus") or _derived_financial_status(order)
    open_order(world, shop, order, location)
    return order, []


def open_order(world: World, shop: Shop, order: Order, location: Location) -> None:
    """File a new order with one fulfillment order at `location`; emits orders/create."""
    now = world.now()
    fo = FulfillmentOrder(world.ids.next("FulfillmentOrder"), order, location, now, now)
    fo.line_items = [
        FulfillmentOrderLineItem(
            world.ids.next("FulfillmentOrderLineItem"), li, li.quantity, li.quantity
        )
        for li in order.line_items
    ]
    order.fulfillment_orders.append(fo)
    shop.orders.append(order)
    world.emit(shop, "orders/create", rest.order(order))


def _line_item(world: World, line: dict[str, Any], variant: Variant | None) -> LineItem:
    price = _money_amount(line.get("priceSet"))
    if price is None:
        price = variant.price if variant else Decimal(0)
    return LineItem(
        id=world.ids.next("LineItem"),
        title=line.get("title") or (variant.product.title if variant else ""),
        sku=line.get("sku") or (variant.sku if variant else None),
        quantity=line["quantity"],
        unit_price=price,
        variant=variant,
        # The schema default is false, and whether a variant line inherits the variant's
        # setting is UNCONFIRMED [shopify_api.md §1]: take what the caller says.
        requires_shipping=bool(line.get("requiresShipping", False)),
    )


def claim_stock(world: World, shop: Shop, order: Order, location: Location) -> None:
    """DECREMENT_*: each tracked variant line moves its units available → committed."""
    for line_item in order.line_items:
        variant = line_item.variant
        if variant is None or not variant.inventory_item.tracked:
            continue
        level = inventory.level_for(world, shop, variant.inventory_item, location)
        quantity = line_item.quantity
        inventory.move(world, shop, level, available=-quantity, committed=quantity)
        line_item.committed_quantity = quantity


def _transaction(world: World, tx: dict[str, Any]) -> Transaction:
    return Transaction(
        world.ids.next("OrderTransaction"),
        tx.get("kind") or "SALE",
        tx.get("status") or "SUCCESS",
        tx.get("gateway") or "manual",
        _money_amount(tx.get("amountSet")) or Decimal("0"),
        world.now(),
    )


def _claim_refusals(
    world: World,
    shop: Shop,
    resolved: list[tuple[dict[str, Any], Variant | None]],
    location: Location,
    behaviour: str,
) -> list[UserError]:
    # DECREMENT_OBEYING_POLICY "follows the product's inventory policy": a DENY variant
    # without enough available units cannot be claimed [schema enum description].
    if behaviour != "DECREMENT_OBEYING_POLICY":
        return []
    wanted: dict[int, int] = {}
    for line, variant in resolved:
        if variant is not None:
            wanted[variant.id] = wanted.get(variant.id, 0) + line["quantity"]
    errors = []
    for index, (_line, variant) in enumerate(resolved):
        if variant is None or variant.inventory_policy != "DENY" or variant.id not in wanted:
            continue
        if not variant.inventory_item.tracked:
            continue
        level = inventory.level_for(world, shop, variant.inventory_item, location)
        available = level.quantity("available")
        if available < wanted.pop(variant.id):
            errors.append(
                UserError(
                    ["order", "lineItems", str(index)],
                    f"Unable to reserve inventory for SKU {variant.sku}: {available} available",
                    "INVENTORY_CLAIM_FAILED",
                )
            )
    return errors


def _clean_tags(tags: object) -> list[str]:
    if not tags:
        return []
    items = tags if isinstance(tags, list) else str(tags).split(",")
    return [t.strip() for t in items if str(t).strip()]


def _derived_financial_status(order: Order) -> str:
    # "If omitted it is derived from transactions" [shopify_api.md §1].
    if order.total > 0 and order.received >= order.total:
        return "PAID"
    if order.received > 0:
        return "PARTIALLY_PAID"
    if any(t.kind == "AUTHORIZATION" and t.status == "SUCCESS" for t in order.transactions):
        return "AUTHORIZED"
    return "PENDING"


def update_order(world: World, order: Order, changes: dict[str, Any]) -> None:
    """orderUpdate for the fields the mirror uses: shippingAddress, tags, note, email."""
    if "shippingAddress" in changes:
        order.shipping_address = changes["shippingAddress"]
    if "tags" in changes:
        order.tags = _clean_tags(changes["tags"])
    for key, attr in (("note", "note"), ("email", "email")):
        if key in changes:
            setattr(order, attr, changes[key])
    order.updated_at = world.now()


def mark_as_paid(world: World, shop: Shop, order: Order) -> list[UserError]:
    """orderMarkAsPaid: a SALE for the outstanding amount; refused when paid or cancelled."""
    if order.cancelled_at is not None:
        return [UserError(["id"], f"Order {order.name} is cancelled and can't be marked as paid")]
    if not can_mark_as_paid(order):
        return [UserError(["id"], f"Order {order.name} can't be marked as paid (already paid)")]
    now = world.now()
    order.transactions.append(
        Transaction(
            world.ids.next("OrderTransaction"), "SALE", "SUCCESS", "manual", order.outstanding, now
        )
    )
    order.financial_status = "PAID"
    order.updated_at = now
    return []


def cancel_refusal(order: Order) -> UserError | None:
    """Why orderCancel must refuse, if it must (already cancelled, cancelling, or fulfilled)."""
    if order.cancelled_at is not None:
        return UserError(["orderId"], f"Order {order.name} has already been cancelled", "INVALID")
    if order.cancelling:
        return UserError(["orderId"], f"Order {order.name} is already being cancelled", "INVALID")
    if order.fulfillments:
        return UserError(
            ["orderId"],
            f"Order {order.name} has fulfillments that must be cancelled first",
            "INVALID",
        )
    return None


def cancel_order(
    world: World, shop: Shop, order: Order, reason: str, restock: bool, refund: bool = False
) -> None:
    """Apply a cancellation. With restock, committed units go back to available; without,
    they leave committed and on_hand (Shopify's behaviour here is UNCONFIRMED, §4)."""
    now = world.now()
    for line_item in order.line_items:
        if line_item.committed_quantity and line_item.variant is not None:
            location = order.fulfillment_orders[0].location
            level = inventory.level_for(world, shop, line_item.variant.inventory_item, location)
            quantity = line_item.committed_quantity
            if restock:
                inventory.move(world, shop, level, available=quantity, committed=-quantity)
            else:
                inventory.move(world, shop, level, committed=-quantity)
            line_item.committed_quantity = 0
    for fo in order.fulfillment_orders:
        if fo.status not in ("CLOSED", "CANCELLED"):
            # FOs of a cancelled order are closed (CLOSED vs CANCELLED is UNCONFIRMED).
            fo.status = "CLOSED"
            fo.holds.clear()
            for li in fo.line_items:
                li.remaining_quantity = 0
            fo.updated_at = now
    if refund and order.received > 0:
        # refundMethod.originalPaymentMethodsRefund sends the money back [§4]: a REFUND
        # transaction for what was received, and the order reads REFUNDED.
        order.transactions.append(
            Transaction(
                world.ids.next("OrderTransaction"),
                "REFUND",
                "SUCCESS",
                "manual",
                order.received,
                now,
            )
        )
        order.financial_status = "REFUNDED"
    order.cancelled_at = now
    order.closed_at = now
    order.cancel_reason = reason
    order.cancelling = False
    order.updated_at = now
    world.emit(shop, "orders/cancelled", rest.order(order))


def take_off_unfulfilled(
    world: World,
    shop: Shop,
    order: Order,
    line_item: LineItem,
    units: int,
    *,
    restock: bool,
    restock_at: Location | None = None,
) -> Location | None:
    """Remove `units` unfulfilled units of a line (an edit, or a refund before shipping).

    They leave the line's fulfillment-order lines (total and remaining alike; a fulfillment
    order with nothing left to fulfil is CLOSED and its holds go with it, as on cancel), and the
    units the line had committed leave `committed`: back to `available` when restocked (at
    `restock_at`, else where they were committed), written off otherwise (on_hand drops, as
    orderCancel(restock: false) does here). Returns the location the units were assigned to.
    The caller has checked that the line has that many unfulfilled units."""
    now = world.now()
    line_item.removed_quantity += units
    left = units
    assigned: Location | None = None
    for fo in order.fulfillment_orders:
        if fo.status in _SETTLED_FO:
            continue
        for fo_line in fo.line_items:
            if left == 0 or fo_line.line_item is not line_item or not fo_line.remaining_quantity:
                continue
            take = min(left, fo_line.remaining_quantity)
            fo_line.remaining_quantity -= take
            fo_line.total_quantity -= take
            left -= take
            assigned = fo.location
            _release_committed(world, shop, line_item, take, fo.location, restock, restock_at)
            fo.updated_at = now
            if not any(x.remaining_quantity for x in fo.line_items):
                fo.status = "CLOSED"
                fo.holds.clear()
    return assigned


def _release_committed(
    world: World,
    shop: Shop,
    line_item: LineItem,
    units: int,
    location: Location,
    restock: bool,
    restock_at: Location | None,
) -> None:
    variant = line_item.variant
    from_committed = min(units, line_item.committed_quantity)
    if variant is None or not from_committed:
        return  # a BYPASS line never claimed stock, so there is nothing to give back
    line_item.committed_quantity -= from_committed
    level = inventory.level_for(world, shop, variant.inventory_item, location)
    target = restock_at or location
    if restock and target is location:
        inventory.move(world, shop, level, available=from_committed, committed=-from_committed)
        return
    inventory.move(world, shop, level, committed=-from_committed)
    if restock:
        elsewhere = inventory.level_for(world, shop, variant.inventory_item, target)
        inventory.move(world, shop, elsewhere, available=from_committed)
