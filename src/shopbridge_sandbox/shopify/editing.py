"""Order editing: begin a session, stage quantity changes, commit them [shopify_api_wave2.md §3].

Changes are staged on the session and touch the order only at commit. Only reductions are
implemented: a larger quantity (orderEditSetQuantity's "increase") is refused with a userError
saying so, as are orderEditAddVariant and the other edit mutations (no resolver: a GraphQL error
naming them). Every refusal is a plain UserError (field, message), as the 2026-07 schema has it.
"""

from __future__ import annotations

from shopbridge_sandbox.shopify import orders, rest
from shopbridge_sandbox.shopify.model import (
    LineItem,
    Order,
    OrderEdit,
    Shop,
    StagedQuantity,
    parse_gid,
)
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.world import World


def merchant_editable_errors(order: Order) -> list[str]:
    """Order.merchantEditableErrors: why the order can't be edited ("for example, canceled
    orders can't be edited" [SDL]). Whether a payment-pending order is editable is UNCONFIRMED
    (wave2 §3); the sandbox lets it be, held or not."""
    if order.cancelled_at is not None:
        return ["Canceled orders can't be edited."]
    if order.cancelling:
        return ["An order that is being canceled can't be edited."]
    if order.closed_at is not None:
        return ["Closed orders can't be edited."]
    return []


def _refusals(order: Order, field: str = "id") -> list[UserError]:
    return [UserError([field], message) for message in merchant_editable_errors(order)]


def begin(world: World, shop: Shop, order: Order) -> tuple[OrderEdit | None, list[UserError]]:
    """orderEditBegin: a new session over the order as it is now."""
    refusals = _refusals(order)
    if refusals:
        return None, refusals
    edit = OrderEdit(world.ids.next("OrderEdit"), order, world.now())
    shop.order_edits[edit.id] = edit
    return edit, []


def session(shop: Shop, value: object) -> OrderEdit | None:
    """The session a CalculatedOrder or OrderEditSession id names (they share a number)."""
    number = parse_gid(value, "OrderEditSession")
    if number is None:
        number = parse_gid(value, "CalculatedOrder")
    return None if number is None else shop.order_edits.get(number)


def calculated_quantity(edit: OrderEdit, line_item: LineItem) -> int:
    staged = edit.staged.get(line_item.id)
    return staged.quantity if staged is not None else line_item.current_quantity


def _closed(edit: OrderEdit) -> list[UserError]:
    if edit.committed_at is not None:
        return [UserError(["id"], "The order edit has already been committed.")]
    return _refusals(edit.order)


def _quantity_refusal(line_item: LineItem, quantity: int) -> UserError | None:
    if quantity < 0:
        return UserError(["quantity"], "Quantity must be greater than or equal to 0.")
    if quantity > line_item.current_quantity:
        return UserError(
            ["quantity"],
            f"Increasing the quantity of line item {line_item.gid} from "
            f"{line_item.current_quantity} to {quantity} is not implemented by the shopbridge "
            "sandbox (only reductions are).",
        )
    fulfilled = line_item.kept_fulfilled_quantity
    if quantity < fulfilled:
        return UserError(
            ["quantity"],
            f"Quantity can't be less than the {fulfilled} fulfilled units of line item "
            f"{line_item.gid}: only unfulfilled items can be edited.",
        )
    return None


def _stale(staged: StagedQuantity) -> UserError | None:
    """Why a staged quantity no longer fits the line at commit time, if it does not."""
    line_item = staged.line_item
    if staged.quantity > line_item.current_quantity:
        return UserError(
            ["id"],
            f"Line item {line_item.gid} changed since the edit began (now "
            f"{line_item.current_quantity} units); begin a new edit.",
        )
    return _quantity_refusal(line_item, staged.quantity)


def set_quantity(
    edit: OrderEdit, line_item_id: str, quantity: int, restock: bool
) -> tuple[LineItem | None, list[UserError]]:
    """orderEditSetQuantity: stage the line's new quantity (the same as now unstages it)."""
    closed = _closed(edit)
    if closed:
        return None, closed
    number = parse_gid(line_item_id, "CalculatedLineItem")
    line_item = next((li for li in edit.order.line_items if li.id == number), None)
    if line_item is None:
        return None, [UserError(["lineItemId"], f"Line item {line_item_id} does not exist.")]
    refusal = _quantity_refusal(line_item, quantity)
    if refusal is not None:
        return None, [refusal]
    if quantity == line_item.current_quantity:
        edit.staged.pop(line_item.id, None)
    else:
        edit.staged[line_item.id] = StagedQuantity(line_item, quantity, restock)
    return line_item, []


def commit(
    world: World,
    shop: Shop,
    edit: OrderEdit,
    notify_customer: bool = False,
    staff_note: str | None = None,
) -> list[UserError]:
    """orderEditCommit: apply the staged reductions; emits orders/edited and orders/updated."""
    closed = _closed(edit)
    if closed:
        return closed
    order = edit.order
    # The order may have moved since the changes were staged (a fulfilment, a refund).
    stale = [r for staged in edit.staged.values() if (r := _stale(staged)) is not None]
    if stale:
        return stale
    for staged in edit.staged.values():
        line_item = staged.line_item
        removed = line_item.current_quantity - staged.quantity
        if removed:
            orders.take_off_unfulfilled(
                world, shop, order, line_item, removed, restock=staged.restock
            )
            edit.removals.append((line_item, removed))
    now = world.now()
    edit.committed_at = now
    edit.notify_customer = notify_customer
    edit.staff_note = staff_note
    order.edits.append(edit)
    order.updated_at = now
    world.emit(shop, "orders/edited", rest.order_edit(edit))
    world.emit(shop, "orders/updated", rest.order(order))
    return []
