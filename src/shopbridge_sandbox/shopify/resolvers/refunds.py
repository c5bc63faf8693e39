"""refundCreate (once per `@idempotent` key, required in 2026-07), Order.refunds, Refund."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from shopbridge_sandbox.shopify import refunds
from shopbridge_sandbox.shopify.model import Order, Refund, RefundLineItem, iso
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.resolvers.idempotency import once
from shopbridge_sandbox.shopify.resolvers.registry import (
    Info,
    attributes,
    connection,
    ctx,
    money_bag,
    resolves,
    user_errors,
)

# RefundInput fields that move money or refund more than line items: the sandbox records
# quantities only, so it refuses these rather than pretend to have refunded anything.
_MONEY_FIELDS = ("transactions", "shipping", "refundDuties", "refundMethods")


@resolves("Mutation", "refundCreate")
def _refund_create(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    given = [name for name in _MONEY_FIELDS if input.get(name)]
    if given:
        raise GraphQLError(
            f"RefundInput.{', '.join(given)} is not implemented by the shopbridge sandbox "
            "(it records refunded quantities and restocks; no money moves)",
            extensions={"code": "NOT_IMPLEMENTED_IN_SANDBOX"},
        )

    def run() -> dict[str, Any]:
        context = ctx(info)
        order = context.shop.order_by_gid(input["orderId"])
        if order is None:
            error = UserError(["orderId"], "Order does not exist.")
            return {"order": None, "refund": None, "userErrors": user_errors([error])}
        refund, errors = refunds.create_refund(context.world, context.shop, order, input)
        if refund is None:
            return {"order": None, "refund": None, "userErrors": user_errors(errors)}
        return {"order": order, "refund": refund, "userErrors": []}

    return once(info, {"input": input}, "refund", run)


@resolves("Order", "refunds")
def _order_refunds(order: Order, info: Any, first: int | None = None) -> list[Refund]:
    return order.refunds[:first] if first is not None else list(order.refunds)


attributes(
    "Refund",
    id=lambda r: r.gid,
    legacyResourceId=lambda r: str(r.id),
    note=lambda r: r.note,
    createdAt=lambda r: iso(r.created_at),
    processedAt=lambda r: iso(r.created_at),
    updatedAt=lambda r: iso(r.created_at),
    order=lambda r: r.order,
    duties=lambda r: [],
    staffMember=lambda r: None,
    totalRefundedSet=lambda r: money_bag(Decimal(0), r.order.currency),
)
# `return` is a Python keyword, so it cannot be an `attributes` keyword argument.
resolves("Refund", "return")(lambda refund, info: None)


@resolves("Refund", "refundLineItems")
def _refund_lines(refund: Refund, info: Any, **page: Any) -> dict[str, Any]:
    return connection(refund.lines, **page)


@resolves("Refund", "transactions", "orderAdjustments", "refundShippingLines")
def _refund_nothing(refund: Refund, info: Any, **page: Any) -> dict[str, Any]:
    return connection([], **page)


attributes(
    "RefundLineItem",
    id=lambda line: line.gid,
    lineItem=lambda line: line.line_item,
    location=lambda line: line.location,
    quantity=lambda line: line.quantity,
    restockType=lambda line: line.restock_type,
    restocked=lambda line: line.restocked,
)


@resolves("RefundLineItem", "priceSet")
def _refund_line_price(line: RefundLineItem, info: Any) -> dict[str, Any]:
    return money_bag(line.line_item.unit_price, ctx(info).shop.currency)


@resolves("RefundLineItem", "subtotalSet")
def _refund_line_subtotal(line: RefundLineItem, info: Any) -> dict[str, Any]:
    return money_bag(line.line_item.unit_price * line.quantity, ctx(info).shop.currency)


@resolves("RefundLineItem", "totalTaxSet")
def _refund_line_tax(line: RefundLineItem, info: Any) -> dict[str, Any]:
    return money_bag(Decimal(0), ctx(info).shop.currency)
