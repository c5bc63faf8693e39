"""Orders, line items, transactions and jobs; orderCreate/Update/MarkAsPaid/Cancel."""

from __future__ import annotations

import uuid
from typing import Any

from shopbridge_sandbox.shopify import editing, orders
from shopbridge_sandbox.shopify.model import Job, LineItem, Order, Transaction, iso
from shopbridge_sandbox.shopify.resolvers.registry import (
    attributes,
    connection,
    ctx,
    money_bag,
    not_implemented,
    resolves,
    user_errors,
)
from shopbridge_sandbox.shopify.search import Term, compare, filter_items, parse, parse_time

# orderCancel runs as a job; it completes on the next job(id:) poll or, unpolled, after the
# world's `cancel_job_delay` of sandbox-clock time (on the next tick) [shopify_api.md §4].


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    first, last = address.get("firstName"), address.get("lastName")
    return {
        "id": "gid://shopify/MailingAddress/1",
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "company": address.get("company"),
        "country": address.get("country") or address.get("countryCode"),
        "countryCodeV2": address.get("countryCode"),
        "firstName": first,
        "lastName": last,
        "name": " ".join(p for p in (first, last) if p) or None,
        "phone": address.get("phone"),
        "province": address.get("province") or address.get("provinceCode"),
        "provinceCode": address.get("provinceCode"),
        "zip": address.get("zip"),
    }


attributes(
    "Order",
    id=lambda o: o.gid,
    legacyResourceId=lambda o: str(o.id),
    name=lambda o: o.name,
    number=lambda o: o.number,
    sourceIdentifier=lambda o: o.source_identifier,
    sourceName=lambda o: o.source_name,
    email=lambda o: o.email,
    note=lambda o: o.note,
    tags=lambda o: list(o.tags),
    createdAt=lambda o: iso(o.created_at),
    updatedAt=lambda o: iso(o.updated_at),
    processedAt=lambda o: iso(o.created_at),
    cancelledAt=lambda o: iso(o.cancelled_at),
    cancelReason=lambda o: o.cancel_reason,
    closed=lambda o: o.closed_at is not None,
    closedAt=lambda o: iso(o.closed_at),
    currencyCode=lambda o: o.currency,
    displayFinancialStatus=lambda o: o.financial_status,
    displayFulfillmentStatus=orders.display_fulfillment_status,
    canMarkAsPaid=orders.can_mark_as_paid,
    fullyPaid=lambda o: o.outstanding == 0 and o.total > 0,
    unpaid=lambda o: o.received == 0,
    totalPriceSet=lambda o: money_bag(o.total, o.currency),
    currentTotalPriceSet=lambda o: money_bag(o.current_total, o.currency),
    subtotalLineItemsQuantity=lambda o: sum(li.quantity for li in o.line_items),
    currentSubtotalLineItemsQuantity=lambda o: sum(li.current_quantity for li in o.line_items),
    merchantEditable=lambda o: not editing.merchant_editable_errors(o),
    merchantEditableErrors=editing.merchant_editable_errors,
    edited=lambda o: bool(o.edits),
    totalOutstandingSet=lambda o: money_bag(o.outstanding, o.currency),
    totalReceivedSet=lambda o: money_bag(o.received, o.currency),
    shippingAddress=lambda o: _address(o.shipping_address),
    requiresShipping=lambda o: any(li.requires_shipping for li in o.line_items),
)


@resolves("Order", "lineItems")
def _line_items(order: Order, info: Any, **page: Any) -> dict[str, Any]:
    return connection(order.line_items, **page)


@resolves("Order", "transactions")
def _transactions(order: Order, info: Any, first: int | None = None, **filters: Any) -> Any:
    if any(v is not None for v in filters.values()):
        raise not_implemented("Order.transactions", ", ".join(sorted(filters)))
    return order.transactions[:first] if first is not None else list(order.transactions)


attributes(
    "LineItem",
    id=lambda li: li.gid,
    sku=lambda li: li.sku,
    title=lambda li: li.title,
    name=lambda li: li.title,
    quantity=lambda li: li.quantity,
    currentQuantity=lambda li: li.current_quantity,
    unfulfilledQuantity=lambda li: li.unfulfilled_quantity,
    # "excluding refunded units and removed units" [SDL], so the same as currentQuantity.
    refundableQuantity=lambda li: li.current_quantity,
    fulfillableQuantity=lambda li: li.unfulfilled_quantity,
    nonFulfillableQuantity=lambda li: li.removed_quantity,
    restockable=lambda li: li.restockable,
    requiresShipping=lambda li: li.requires_shipping,
    variant=lambda li: li.variant,
    variantTitle=lambda li: li.variant.title if li.variant else None,
    product=lambda li: li.variant.product if li.variant else None,
)


@resolves("LineItem", "originalUnitPriceSet")
def _unit_price(line_item: LineItem, info: Any) -> dict[str, Any]:
    return money_bag(line_item.unit_price, ctx(info).shop.currency)


attributes(
    "OrderTransaction",
    id=lambda t: t.gid,
    kind=lambda t: t.kind,
    status=lambda t: t.status,
    gateway=lambda t: t.gateway,
    processedAt=lambda t: iso(t.created_at),
    createdAt=lambda t: iso(t.created_at),
    manualPaymentGateway=lambda t: t.gateway == "manual",
    test=lambda t: False,
)


@resolves("OrderTransaction", "amountSet")
def _transaction_amount(tx: Transaction, info: Any) -> dict[str, Any]:
    return money_bag(tx.amount, ctx(info).shop.currency)


def _tag(order: Order, term: Term) -> bool:
    return term.value.lower() in (t.lower() for t in order.tags)


_ORDER_FILTERS = {
    "source_identifier": lambda o, t: o.source_identifier == t.value,
    "name": lambda o, t: o.name.lstrip("#") == t.value.lstrip("#"),
    "tag": _tag,
    "updated_at": lambda o, t: compare(o.updated_at, t.op, parse_time(t.value)),
    "created_at": lambda o, t: compare(o.created_at, t.op, parse_time(t.value)),
    "financial_status": lambda o, t: o.financial_status.lower() == t.value.lower(),
    "fulfillment_status": lambda o, t: (
        orders.display_fulfillment_status(o).lower() == t.value.lower()
    ),
    "status": lambda o, t: {
        "open": o.closed_at is None,
        "closed": o.closed_at is not None,
        "cancelled": o.cancelled_at is not None,
        "not_closed": o.closed_at is None,
    }.get(t.value.lower(), False),
}
_ORDER_SORT = {
    None: lambda o: o.id,
    "ID": lambda o: o.id,
    "CREATED_AT": lambda o: (o.created_at, o.id),
    "PROCESSED_AT": lambda o: (o.created_at, o.id),
    "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "ORDER_NUMBER": lambda o: o.number,
}


@resolves("QueryRoot", "orders")
def _orders(
    _: Any,
    info: Any,
    query: str | None = None,
    sortKey: str | None = None,
    savedSearchId: str | None = None,
    **page: Any,
) -> dict[str, Any]:
    shop = ctx(info).shop
    alternatives = parse(query)
    candidates = shop.orders
    if len(alternatives) == 1 and len(alternatives[0]) == 1:
        [term] = alternatives[0]
        if term.key == "source_identifier" and term.op == "=":
            candidates = shop.orders_with_source(term.value)  # indexed: no scan of every order
    found = filter_items(candidates, query, _ORDER_FILTERS, "orders")
    if sortKey not in _ORDER_SORT:
        raise not_implemented("OrderSortKeys", str(sortKey))
    return connection(sorted(found, key=_ORDER_SORT[sortKey]), **page)


@resolves("QueryRoot", "order")
def _order(_: Any, info: Any, id: str) -> Order | None:
    return ctx(info).shop.order_by_gid(id)


def _payload(order: Order | None, errors: list[orders.UserError]) -> dict[str, Any]:
    return {"order": order, "userErrors": user_errors(errors)}


@resolves("Mutation", "orderCreate")
def _order_create(
    _: Any, info: Any, order: dict[str, Any], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    context = ctx(info)
    behaviour = (options or {}).get("inventoryBehaviour") or "BYPASS"
    created, errors = orders.create_order(context.world, context.shop, order, behaviour)
    return _payload(created, errors)


def _not_found(field: str = "id") -> list[orders.UserError]:
    return [orders.UserError([field], "Order does not exist", "NOT_FOUND")]


@resolves("Mutation", "orderUpdate")
def _order_update(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.order_by_gid(input["id"])
    if order is None:
        return _payload(None, _not_found())
    orders.update_order(context.world, order, input)
    return _payload(order, [])


@resolves("Mutation", "orderMarkAsPaid")
def _order_mark_as_paid(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.order_by_gid(input["id"])
    if order is None:
        return _payload(None, _not_found())
    errors = orders.mark_as_paid(context.world, context.shop, order)
    return _payload(order, errors)


@resolves("Mutation", "orderCancel")
def _order_cancel(
    _: Any,
    info: Any,
    orderId: str,
    reason: str,
    restock: bool,
    refundMethod: dict[str, Any] | None = None,
    refund: bool | None = None,
    **_options: Any,
) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.order_by_gid(orderId)
    refusal = orders.cancel_refusal(order) if order else _not_found("orderId")[0]
    if refusal is not None or order is None:
        return {"job": None, "orderCancelUserErrors": user_errors([refusal]), "userErrors": []}
    order.cancelling = True
    world, shop = context.world, context.shop
    # `refund` is the deprecated twin of refundMethod (2025-07+) [shopify_api.md §4].
    refunds = bool((refundMethod or {}).get("originalPaymentMethodsRefund") or refund)
    job = Job(
        str(uuid.uuid4()),
        world.now() + world.cancel_job_delay,
        lambda: orders.cancel_order(world, shop, order, reason, restock, refund=refunds),
    )
    shop.jobs[job.id] = job
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


attributes("Job", id=lambda j: j.gid, done=lambda j: j.done, query=lambda j: {})


@resolves("QueryRoot", "job")
def _job(_: Any, info: Any, id: str) -> Job | None:
    job = ctx(info).shop.jobs.get(id.rsplit("/", 1)[-1])
    # A job is done by the time anyone polls it again (see World.cancel_job_delay).
    return job.complete() if job else None
