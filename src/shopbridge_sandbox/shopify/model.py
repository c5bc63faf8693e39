"""The state of the sandbox's stores: plain objects that the resolvers and the Python API share.

Ids are numeric per resource type and exposed as Shopify global ids
(`gid://shopify/Order/1001`). Every object belongs to exactly one shop; a token only sees
its own shop's objects.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

GID_PREFIX = "gid://shopify/"

# Quantity names an inventory level keeps. `on_hand` and `unavailable` are derived
# (on_hand = available + committed + unavailable) [shopify_api.md §6].
UNAVAILABLE_STATES = ("reserved", "damaged", "safety_stock", "quality_control")
STORED_QUANTITIES = ("available", "committed", "incoming", *UNAVAILABLE_STATES)


def gid(kind: str, number: int) -> str:
    return f"{GID_PREFIX}{kind}/{number}"


def parse_gid(value: object, kind: str) -> int | None:
    """The numeric id of a `gid://shopify/<kind>/<n>` (query string ignored), else None."""
    if not isinstance(value, str) or not value.startswith(f"{GID_PREFIX}{kind}/"):
        return None
    tail = value[len(GID_PREFIX) + len(kind) + 1 :].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def iso(moment: datetime | None) -> str | None:
    """Shopify's DateTime form: UTC, seconds precision, `Z`."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


class Ids:
    """Per-type id sequences shared by all shops of one sandbox."""

    _starts: ClassVar[dict[str, int]] = {"Order": 1001}

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, kind: str) -> int:
        counter = self._counters.setdefault(kind, itertools.count(self._starts.get(kind, 1)))
        return next(counter)


@dataclass(eq=False)
class Location:
    graphql_type: ClassVar[str] = "Location"
    id: int
    name: str
    active: bool = True

    @property
    def gid(self) -> str:
        return gid("Location", self.id)


@dataclass(eq=False)
class InventoryItem:
    graphql_type: ClassVar[str] = "InventoryItem"
    id: int
    sku: str
    created_at: datetime
    variant: Variant | None = None
    tracked: bool = True

    @property
    def gid(self) -> str:
        return gid("InventoryItem", self.id)


@dataclass(eq=False)
class InventoryLevel:
    graphql_type: ClassVar[str] = "InventoryLevel"
    id: int
    item: InventoryItem
    location: Location
    updated_at: datetime
    quantities: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STORED_QUANTITIES, 0))

    @property
    def gid(self) -> str:
        # Shopify's own form carries the item id as a query string.
        return f"{gid('InventoryLevel', self.id)}?inventory_item_id={self.item.id}"

    def quantity(self, name: str) -> int:
        unavailable = sum(self.quantities[state] for state in UNAVAILABLE_STATES)
        if name == "unavailable":
            return unavailable
        if name == "on_hand":
            return self.quantities["available"] + self.quantities["committed"] + unavailable
        return self.quantities[name]


@dataclass(eq=False)
class Product:
    graphql_type: ClassVar[str] = "Product"
    id: int
    title: str
    created_at: datetime
    variants: list[Variant] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return gid("Product", self.id)


@dataclass(eq=False)
class Variant:
    graphql_type: ClassVar[str] = "ProductVariant"
    id: int
    product: Product
    title: str
    sku: str
    price: Decimal
    inventory_policy: str  # DENY | CONTINUE
    inventory_item: InventoryItem
    created_at: datetime

    @property
    def gid(self) -> str:
        return gid("ProductVariant", self.id)


@dataclass(eq=False)
class LineItem:
    graphql_type: ClassVar[str] = "LineItem"
    id: int
    title: str
    sku: str | None
    quantity: int
    unit_price: Decimal
    variant: Variant | None
    requires_shipping: bool
    fulfilled_quantity: int = 0
    committed_quantity: int = 0  # units this line claimed from inventory (DECREMENT_*)
    # Unfulfilled units taken off the order: by an order edit, or refunded before shipping.
    removed_quantity: int = 0
    # Fulfilled units refunded afterwards (returned, or refunded without a return).
    returned_quantity: int = 0

    @property
    def gid(self) -> str:
        return gid("LineItem", self.id)

    @property
    def unfulfilled_quantity(self) -> int:
        return self.quantity - self.fulfilled_quantity - self.removed_quantity

    @property
    def current_quantity(self) -> int:
        """ "The number of units ordered, excluding refunded and removed units" [SDL]."""
        return self.quantity - self.removed_quantity - self.returned_quantity

    @property
    def kept_fulfilled_quantity(self) -> int:
        """Fulfilled units not refunded since: what an edit may not go below."""
        return self.fulfilled_quantity - self.returned_quantity

    @property
    def restockable(self) -> bool:
        return self.variant is not None and self.variant.inventory_item.tracked


@dataclass(eq=False)
class FulfillmentHold:
    graphql_type: ClassVar[str] = "FulfillmentHold"
    id: int
    reason: str
    reason_notes: str | None
    handle: str | None
    held_by_requesting_app: bool
    created_at: datetime

    @property
    def gid(self) -> str:
        return gid("FulfillmentHold", self.id)


@dataclass(eq=False)
class FulfillmentOrderLineItem:
    graphql_type: ClassVar[str] = "FulfillmentOrderLineItem"
    id: int
    line_item: LineItem
    total_quantity: int
    remaining_quantity: int

    @property
    def gid(self) -> str:
        return gid("FulfillmentOrderLineItem", self.id)


@dataclass(eq=False)
class FulfillmentOrder:
    graphql_type: ClassVar[str] = "FulfillmentOrder"
    id: int
    order: Order
    location: Location
    created_at: datetime
    updated_at: datetime
    status: str = "OPEN"
    line_items: list[FulfillmentOrderLineItem] = field(default_factory=list)
    holds: list[FulfillmentHold] = field(default_factory=list)
    # When the first hold was ever placed on it; kept after every hold is released.
    first_held_at: datetime | None = None

    @property
    def gid(self) -> str:
        return gid("FulfillmentOrder", self.id)


@dataclass(eq=False)
class TrackingInfo:
    company: str | None
    number: str | None
    url: str | None


@dataclass(eq=False)
class FulfillmentLineItem:
    graphql_type: ClassVar[str] = "FulfillmentLineItem"
    id: int
    line_item: LineItem
    quantity: int

    @property
    def gid(self) -> str:
        return gid("FulfillmentLineItem", self.id)


@dataclass(eq=False)
class Fulfillment:
    graphql_type: ClassVar[str] = "Fulfillment"
    id: int
    order: Order
    name: str
    location: Location
    created_at: datetime
    updated_at: datetime
    tracking: list[TrackingInfo]
    lines: list[FulfillmentLineItem]
    status: str = "SUCCESS"

    @property
    def gid(self) -> str:
        return gid("Fulfillment", self.id)


@dataclass(eq=False)
class Transaction:
    graphql_type: ClassVar[str] = "OrderTransaction"
    id: int
    kind: str
    status: str
    gateway: str
    amount: Decimal
    created_at: datetime

    @property
    def gid(self) -> str:
        return gid("OrderTransaction", self.id)


@dataclass(eq=False)
class RefundLineItem:
    graphql_type: ClassVar[str] = "RefundLineItem"
    id: int
    line_item: LineItem
    quantity: int
    restock_type: str  # RefundLineItemRestockType: RETURN | CANCEL | NO_RESTOCK
    location: Location | None

    @property
    def gid(self) -> str:
        return gid("RefundLineItem", self.id)

    @property
    def restocked(self) -> bool:
        return self.restock_type in ("RETURN", "CANCEL")


@dataclass(eq=False)
class Refund:
    graphql_type: ClassVar[str] = "Refund"
    id: int
    order: Order
    note: str | None
    created_at: datetime
    lines: list[RefundLineItem] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return gid("Refund", self.id)


@dataclass(eq=False)
class StagedQuantity:
    """One orderEditSetQuantity waiting for the commit: the line's new current quantity."""

    line_item: LineItem
    quantity: int
    restock: bool


@dataclass(eq=False)
class OrderEdit:
    """An order editing session; its CalculatedOrder and OrderEditSession share its number."""

    id: int
    order: Order
    created_at: datetime
    staged: dict[int, StagedQuantity] = field(default_factory=dict)  # by LineItem id
    removals: list[tuple[LineItem, int]] = field(default_factory=list)  # (line, units), at commit
    committed_at: datetime | None = None
    notify_customer: bool = False
    staff_note: str | None = None


@dataclass(eq=False)
class Order:
    graphql_type: ClassVar[str] = "Order"
    id: int
    number: int
    currency: str
    created_at: datetime
    updated_at: datetime
    financial_status: str  # OrderDisplayFinancialStatus value
    source_identifier: str | None = None
    source_name: str | None = None
    email: str | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    line_items: list[LineItem] = field(default_factory=list)
    fulfillment_orders: list[FulfillmentOrder] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    edits: list[OrderEdit] = field(default_factory=list)  # committed edits, oldest first
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    cancelling: bool = False  # an orderCancel job is pending

    @property
    def gid(self) -> str:
        return gid("Order", self.id)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def total(self) -> Decimal:
        """What was ordered, before removals and refunds (totalPriceSet)."""
        return sum((li.unit_price * li.quantity for li in self.line_items), Decimal("0"))

    @property
    def current_total(self) -> Decimal:
        """After removed and refunded units (currentTotalPriceSet): what the buyer owes."""
        return sum((li.unit_price * li.current_quantity for li in self.line_items), Decimal("0"))

    @property
    def received(self) -> Decimal:
        """Money received net of refunds."""
        signs = {"SALE": 1, "CAPTURE": 1, "REFUND": -1}
        return sum(
            (
                signs[t.kind] * t.amount
                for t in self.transactions
                if t.status == "SUCCESS" and t.kind in signs
            ),
            Decimal("0"),
        )

    @property
    def outstanding(self) -> Decimal:
        if self.cancelled_at is not None:
            return Decimal("0")
        return max(self.current_total - self.received, Decimal("0"))


@dataclass(eq=False)
class Job:
    graphql_type: ClassVar[str] = "Job"
    id: str  # Shopify job ids are UUIDs
    due_at: datetime
    action: Callable[[], None]  # run once, when the job completes
    done: bool = False

    @property
    def gid(self) -> str:
        return f"{GID_PREFIX}Job/{self.id}"

    def complete(self) -> Job:
        if not self.done:
            self.done = True
            self.action()
        return self


@dataclass(eq=False)
class WebhookSubscription:
    graphql_type: ClassVar[str] = "WebhookSubscription"
    id: int
    topic: str  # GraphQL enum value, e.g. FULFILLMENTS_CREATE
    uri: str
    created_at: datetime
    updated_at: datetime

    @property
    def gid(self) -> str:
        return gid("WebhookSubscription", self.id)


@dataclass(eq=False)
class InventoryAdjustmentGroup:
    graphql_type: ClassVar[str] = "InventoryAdjustmentGroup"
    id: int
    reason: str
    reference_document_uri: str | None
    created_at: datetime
    changes: list[dict[str, Any]]  # {name, delta, quantity_after, level, ledger}

    @property
    def gid(self) -> str:
        return gid("InventoryAdjustmentGroup", self.id)


@dataclass(eq=False)
class Shop:
    name: str
    plan: str
    access_token: str
    client_secret: str
    locations: list[Location]
    id: int
    currency: str = "USD"
    installed: bool = True
    next_order_number: int = 1001
    products: list[Product] = field(default_factory=list)
    levels: list[InventoryLevel] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    subscriptions: list[WebhookSubscription] = field(default_factory=list)
    idempotency: dict[str, tuple[str, str, Any]] = field(default_factory=dict)
    order_edits: dict[int, OrderEdit] = field(default_factory=dict)  # every session, by number
    # Lookups by id, rebuilt on a miss (orders and fulfilment orders are only ever added), so
    # a store with thousands of orders answers each GraphQL call without scanning them all.
    _orders_by_id: dict[int, Order] = field(default_factory=dict, repr=False)
    _fulfillment_orders_by_id: dict[int, FulfillmentOrder] = field(default_factory=dict, repr=False)
    _orders_by_source: dict[str, list[Order]] = field(default_factory=dict, repr=False)
    _orders_indexed: int = field(default=0, repr=False)
    # Levels and items are only ever added too: an inventory sync over thousands of SKUs
    # reads levels per item and per location without scanning every level of the shop.
    _levels_by_item: dict[int, list[InventoryLevel]] = field(default_factory=dict, repr=False)
    _levels_by_location: dict[int, list[InventoryLevel]] = field(default_factory=dict, repr=False)
    _levels_indexed: int = field(default=0, repr=False)
    _items_by_id: dict[int, InventoryItem] = field(default_factory=dict, repr=False)

    @property
    def domain(self) -> str:
        return f"{self.name}.myshopify.com"

    def variants(self) -> list[Variant]:
        return [v for p in self.products for v in p.variants]

    def find(self, items: list[Any], value: object, kind: str) -> Any:
        number = parse_gid(value, kind)
        return next((i for i in items if i.id == number), None)

    def order_by_gid(self, value: object) -> Order | None:
        number = parse_gid(value, "Order")
        if number is None:
            return None
        if number not in self._orders_by_id:
            self._orders_by_id = {o.id: o for o in self.orders}
        return self._orders_by_id.get(number)

    def orders_with_source(self, source_identifier: str) -> list[Order]:
        """The orders whose sourceIdentifier is exactly this (the dedupe lookup's index)."""
        if self._orders_indexed != len(self.orders):
            for order in self.orders[self._orders_indexed :]:
                key = order.source_identifier or ""
                self._orders_by_source.setdefault(key, []).append(order)
            self._orders_indexed = len(self.orders)
        return list(self._orders_by_source.get(source_identifier, ()))

    def fulfillment_order_by_gid(self, value: object) -> FulfillmentOrder | None:
        number = parse_gid(value, "FulfillmentOrder")
        if number is None:
            return None
        if number not in self._fulfillment_orders_by_id:
            self._fulfillment_orders_by_id = {
                fo.id: fo for o in self.orders for fo in o.fulfillment_orders
            }
        return self._fulfillment_orders_by_id.get(number)

    def variant_by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants() if v.sku == sku), None)

    def _index_levels(self) -> None:
        for level in self.levels[self._levels_indexed :]:
            self._levels_by_item.setdefault(level.item.id, []).append(level)
            self._levels_by_location.setdefault(level.location.id, []).append(level)
        self._levels_indexed = len(self.levels)

    def levels_of(self, item: InventoryItem) -> list[InventoryLevel]:
        """The item's levels, in the order they were stocked."""
        self._index_levels()
        return list(self._levels_by_item.get(item.id, ()))

    def levels_at(self, location: Location) -> list[InventoryLevel]:
        """The levels stocked at `location`, in the order they were stocked."""
        self._index_levels()
        return list(self._levels_by_location.get(location.id, ()))

    def level(self, item: InventoryItem, location: Location) -> InventoryLevel | None:
        return next((lv for lv in self.levels_of(item) if lv.location is location), None)

    def location_by_gid(self, value: object) -> Location | None:
        found: Location | None = self.find(self.locations, value, "Location")
        return found

    def item_by_gid(self, value: object) -> InventoryItem | None:
        number = parse_gid(value, "InventoryItem")
        if number is None:
            return None
        if number not in self._items_by_id:
            self._items_by_id = {v.inventory_item.id: v.inventory_item for v in self.variants()}
        return self._items_by_id.get(number)
