"""orderEditBegin / orderEditSetQuantity / orderEditCommit and the calculated order they show.

A CalculatedOrder and its OrderEditSession share the session's number; a CalculatedLineItem
has the number of the LineItem it calculates (`gid://shopify/CalculatedLineItem/<LineItem n>`),
so a client can map one back to the other, as Shopify's own ids allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from shopbridge_sandbox.shopify import editing
from shopbridge_sandbox.shopify.model import LineItem, OrderEdit, gid
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


@dataclass(eq=False)
class CalculatedOrder:
    graphql_type: ClassVar[str] = "CalculatedOrder"
    edit: OrderEdit

    @property
    def id(self) -> int:
        return self.edit.id

    @property
    def currency(self) -> str:
        return self.edit.order.currency

    def line(self, line_item: LineItem) -> CalculatedLineItem:
        return CalculatedLineItem(self.edit, line_item)

    def lines(self) -> list[CalculatedLineItem]:
        return [self.line(li) for li in self.edit.order.line_items]


@dataclass(eq=False)
class CalculatedLineItem:
    graphql_type: ClassVar[str] = "CalculatedLineItem"
    edit: OrderEdit
    line_item: LineItem

    @property
    def id(self) -> int:
        return self.line_item.id

    @property
    def quantity(self) -> int:
        return editing.calculated_quantity(self.edit, self.line_item)

    @property
    def editable_quantity(self) -> int:
        """Units that may still change: the quantity less what stays fulfilled."""
        return self.quantity - self.line_item.kept_fulfilled_quantity

    def staged_changes(self) -> list[StagedDecrement]:
        staged = self.edit.staged.get(self.line_item.id)
        if staged is None:
            return []
        delta = self.line_item.current_quantity - staged.quantity
        return [StagedDecrement(self.line_item, delta, staged.restock)]


@dataclass(eq=False)
class StagedDecrement:
    graphql_type: ClassVar[str] = "OrderStagedChangeDecrementItem"
    line_item: LineItem
    delta: int
    restock: bool

    @property
    def id(self) -> int:
        return self.line_item.id


def _session_view(edit: OrderEdit) -> dict[str, Any]:
    return {"id": gid("OrderEditSession", edit.id)}


def _currency(info: Any) -> str:
    return str(ctx(info).shop.currency)


attributes(
    "CalculatedOrder",
    id=lambda c: gid("CalculatedOrder", c.edit.id),
    originalOrder=lambda c: c.edit.order,
    committed=lambda c: c.edit.committed_at is not None,
    subtotalLineItemsQuantity=lambda c: sum(line.quantity for line in c.lines()),
    subtotalPriceSet=lambda c: money_bag(_calculated_total(c), c.currency),
    totalPriceSet=lambda c: money_bag(_calculated_total(c), c.currency),
    totalOutstandingSet=lambda c: money_bag(
        max(_calculated_total(c) - c.edit.order.received, Decimal(0)), c.currency
    ),
    cartDiscountAmountSet=lambda c: None,
    notificationPreviewHtml=lambda c: None,
    notificationPreviewTitle=lambda c: f"Order {c.edit.order.name} was edited",
    taxLines=lambda c: [],
    shippingLines=lambda c: [],
)


def _calculated_total(calculated: CalculatedOrder) -> Decimal:
    return sum(
        (line.line_item.unit_price * line.quantity for line in calculated.lines()), Decimal(0)
    )


@resolves("CalculatedOrder", "lineItems")
def _calculated_lines(
    calculated: CalculatedOrder, info: Any, query: str | None = None, **page: Any
) -> dict[str, Any]:
    if query is not None:
        raise not_implemented("CalculatedOrder.lineItems", "query")
    return connection(calculated.lines(), **page)


@resolves("CalculatedOrder", "addedLineItems", "addedDiscountApplications")
def _nothing_added(calculated: CalculatedOrder, info: Any, **page: Any) -> dict[str, Any]:
    return connection([], **page)


@resolves("CalculatedOrder", "stagedChanges")
def _order_staged_changes(calculated: CalculatedOrder, info: Any, **page: Any) -> dict[str, Any]:
    changes = [change for line in calculated.lines() for change in line.staged_changes()]
    return connection(changes, **page)


attributes(
    "CalculatedLineItem",
    id=lambda c: gid("CalculatedLineItem", c.line_item.id),
    quantity=lambda c: c.quantity,
    editableQuantity=lambda c: c.editable_quantity,
    editableQuantityBeforeChanges=lambda c: c.line_item.unfulfilled_quantity,
    restockable=lambda c: c.line_item.restockable,
    restocking=lambda c: any(change.restock for change in c.staged_changes()),
    sku=lambda c: c.line_item.sku,
    title=lambda c: c.line_item.title,
    variant=lambda c: c.line_item.variant,
    variantTitle=lambda c: c.line_item.variant.title if c.line_item.variant else None,
    stagedChanges=lambda c: c.staged_changes(),
    customAttributes=lambda c: [],
    calculatedDiscountAllocations=lambda c: [],
    discountAllocations=lambda c: [],
    hasStagedLineItemDiscount=lambda c: False,
    image=lambda c: None,
)


@resolves("CalculatedLineItem", "originalUnitPriceSet", "discountedUnitPriceSet")
def _calculated_unit_price(calculated: CalculatedLineItem, info: Any) -> dict[str, Any]:
    return money_bag(calculated.line_item.unit_price, _currency(info))


@resolves("CalculatedLineItem", "editableSubtotalSet")
def _editable_subtotal(calculated: CalculatedLineItem, info: Any) -> dict[str, Any]:
    unit = calculated.line_item.unit_price
    return money_bag(unit * calculated.editable_quantity, _currency(info))


@resolves("CalculatedLineItem", "uneditableSubtotalSet")
def _uneditable_subtotal(calculated: CalculatedLineItem, info: Any) -> dict[str, Any]:
    unit = calculated.line_item.unit_price
    return money_bag(unit * calculated.line_item.kept_fulfilled_quantity, _currency(info))


attributes(
    "OrderStagedChangeDecrementItem",
    delta=lambda s: s.delta,
    lineItem=lambda s: s.line_item,
    restock=lambda s: s.restock,
)


def _missing_session(field: str = "id") -> list[UserError]:
    return [UserError([field], "The order edit session does not exist.")]


@resolves("Mutation", "orderEditBegin")
def _begin(_: Any, info: Any, id: str) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.order_by_gid(id)
    edit, errors = (
        editing.begin(context.world, context.shop, order)
        if order is not None
        else (None, [UserError(["id"], "The order does not exist.")])
    )
    if edit is None:
        return {
            "calculatedOrder": None,
            "orderEditSession": None,
            "userErrors": user_errors(errors),
        }
    return {
        "calculatedOrder": CalculatedOrder(edit),
        "orderEditSession": _session_view(edit),
        "userErrors": [],
    }


@resolves("Mutation", "orderEditSetQuantity")
def _set_quantity(
    _: Any,
    info: Any,
    id: str,
    lineItemId: str,
    quantity: int,
    restock: bool | None = None,
    locationId: str | None = None,
) -> dict[str, Any]:
    # `locationId` is deprecated, "No longer supported" [SDL]: accepted and ignored.
    edit = editing.session(ctx(info).shop, id)
    empty = {"calculatedLineItem": None, "calculatedOrder": None, "orderEditSession": None}
    if edit is None:
        return {**empty, "userErrors": user_errors(_missing_session())}
    line_item, errors = editing.set_quantity(edit, lineItemId, quantity, bool(restock))
    if line_item is None:
        return {**empty, "userErrors": user_errors(errors)}
    calculated = CalculatedOrder(edit)
    return {
        "calculatedLineItem": calculated.line(line_item),
        "calculatedOrder": calculated,
        "orderEditSession": _session_view(edit),
        "userErrors": [],
    }


@resolves("Mutation", "orderEditCommit")
def _commit(
    _: Any, info: Any, id: str, notifyCustomer: bool | None = None, staffNote: str | None = None
) -> dict[str, Any]:
    context = ctx(info)
    edit = editing.session(context.shop, id)
    if edit is None:
        return {
            "order": None,
            "successMessages": None,
            "userErrors": user_errors(_missing_session()),
        }
    errors = editing.commit(context.world, context.shop, edit, bool(notifyCustomer), staffNote)
    if errors:
        return {"order": None, "successMessages": None, "userErrors": user_errors(errors)}
    return {"order": edit.order, "successMessages": ["Order updated"], "userErrors": []}


@resolves("QueryRoot", "orderEditSession")
def _edit_session(_: Any, info: Any, id: str) -> dict[str, Any] | None:
    edit = editing.session(ctx(info).shop, id)
    return None if edit is None else _session_view(edit)
