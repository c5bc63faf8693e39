"""Typed shapes of what the client sends to and reads from Shopify.

Results are hand-written pydantic models covering exactly the fields our `.graphql` operations
select (see the client module docstring for why not codegen). GraphQL's camelCase is aliased
to snake_case; connection `{nodes: [...]}` wrappers and `MoneyBag.shopMoney` are unwrapped on
the way in. Money is Decimal with its currency; times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel


def _nodes(value: Any) -> Any:
    """Unwrap a GraphQL connection `{nodes: [...]}` into its list."""
    if isinstance(value, dict) and "nodes" in value:
        return value["nodes"]
    return value


def _shop_money(value: Any) -> Any:
    """Take the shop-currency half of a MoneyBag `{shopMoney: {...}}`."""
    if isinstance(value, dict) and "shopMoney" in value:
        return value["shopMoney"]
    return value


def _gid_of(value: Any) -> Any:
    """`{id: ...}` (a selected object holding only its id) becomes the id."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _assigned_location_id(value: Any) -> Any:
    """`assignedLocation {location {id}}` becomes the location id."""
    if isinstance(value, dict):
        return _gid_of(value.get("location"))
    return value


def _actions(value: Any) -> Any:
    """`supportedActions [{action}]` becomes a list of action names."""
    if isinstance(value, list):
        return [a["action"] if isinstance(a, dict) else a for a in value]
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("Shopify timestamps must carry a timezone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
GidOf = Annotated[str | None, BeforeValidator(_gid_of)]


class ShopifyModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Money(ShopifyModel):
    amount: Decimal
    currency_code: str


ShopMoney = Annotated[Money, BeforeValidator(_shop_money)]


class InventoryBehaviour(StrEnum):
    """OrderCreateOptionsInput.inventoryBehaviour (§1); Shopify's default BYPASS claims nothing."""

    BYPASS = "BYPASS"
    DECREMENT_IGNORING_POLICY = "DECREMENT_IGNORING_POLICY"
    DECREMENT_OBEYING_POLICY = "DECREMENT_OBEYING_POLICY"


# RefundLineItemRestockType for new refunds (LEGACY_RESTOCK is refused, wave2 §5): RETURN for
# fulfilled units (available rises at the location), CANCEL for unfulfilled ones (committed goes
# back to available), NO_RESTOCK for neither. A Literal rather than a StrEnum so that callers
# can pass the plain names and still be type-checked.
RestockType = Literal["RETURN", "CANCEL", "NO_RESTOCK"]


class CancelReason(StrEnum):
    CUSTOMER = "CUSTOMER"
    DECLINED = "DECLINED"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    STAFF = "STAFF"
    OTHER = "OTHER"


# --- inputs --------------------------------------------------------------------------------


class Address(ShopifyModel):
    """A shipping address, written as MailingAddressInput (countryCode/provinceCode, §1)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    country_code: str | None = Field(default=None, validation_alias="countryCodeV2")
    zip: str | None = None
    phone: str | None = None

    def to_input(self) -> dict[str, Any]:
        return {
            to_camel(name): value for name, value in self.model_dump().items() if value is not None
        }


class OrderLine(ShopifyModel):
    """One line to create: a known variant by id, or a custom line (title, sku) for unknown SKUs."""

    quantity: int = Field(gt=0)
    unit_price: Decimal
    variant_id: str | None = None
    title: str | None = None
    sku: str | None = None

    def to_input(self, currency: str) -> dict[str, Any]:
        if self.variant_id is None and not self.title:
            raise ValueError("an order line needs a variant id or, for a custom line, a title")
        line: dict[str, Any] = {
            "quantity": self.quantity,
            # Schema default is requiresShipping: false, and whether a variant line inherits
            # the variant's setting is UNCONFIRMED (§1): always say it.
            "requiresShipping": True,
            "priceSet": {"shopMoney": {"amount": str(self.unit_price), "currencyCode": currency}},
        }
        if self.variant_id is not None:
            line["variantId"] = self.variant_id
        else:
            line["title"] = self.title
        if self.sku is not None:
            line["sku"] = self.sku
        return line


class InventoryDelta(ShopifyModel):
    """One change for inventoryAdjustQuantities."""

    inventory_item_id: str
    location_id: str
    delta: int
    change_from_quantity: int | None = None
    ledger_document_uri: str | None = None

    def to_input(self) -> dict[str, Any]:
        change: dict[str, Any] = {
            "inventoryItemId": self.inventory_item_id,
            "locationId": self.location_id,
            "delta": self.delta,
            # 2026-07: changeFromQuantity must be present, explicit null skips the
            # compare-and-swap check (InventoryChangeInput description).
            "changeFromQuantity": self.change_from_quantity,
        }
        if self.ledger_document_uri is not None:
            change["ledgerDocumentUri"] = self.ledger_document_uri
        return change


class RefundLine(ShopifyModel):
    """One line of a refund (RefundLineItemInput): RETURN needs the location the units go
    back to; CANCEL restocks where the units were committed unless a location is given."""

    line_item_id: str
    quantity: int = Field(gt=0)
    restock_type: RestockType
    location_id: str | None = None

    @model_validator(mode="after")
    def _return_names_a_location(self) -> RefundLine:
        if self.restock_type == "RETURN" and not self.location_id:
            raise ValueError("a RETURN refund line needs the location_id to restock at")
        return self

    def to_input(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "lineItemId": self.line_item_id,
            "quantity": self.quantity,
            "restockType": self.restock_type,
        }
        if self.location_id is not None and self.restock_type != "NO_RESTOCK":
            line["locationId"] = self.location_id
        return line


class InventoryTarget(ShopifyModel):
    """One absolute quantity for inventorySetQuantities."""

    inventory_item_id: str
    location_id: str
    quantity: int
    change_from_quantity: int | None = None

    def to_input(self) -> dict[str, Any]:
        return {
            "inventoryItemId": self.inventory_item_id,
            "locationId": self.location_id,
            "quantity": self.quantity,
            # Mandatory in 2026-07, null = no compare-and-swap (InventoryQuantityInput).
            "changeFromQuantity": self.change_from_quantity,
        }


# --- results -------------------------------------------------------------------------------


class FulfillmentHold(ShopifyModel):
    id: str
    handle: str | None = None
    reason: str
    reason_notes: str | None = None
    held_by_requesting_app: bool = False


class FulfillmentOrderLine(ShopifyModel):
    """One line of a fulfillment order and the order line it fulfils."""

    id: str
    line_item_id: GidOf = Field(default=None, validation_alias="lineItem")


class FulfillmentOrder(ShopifyModel):
    id: str
    status: str
    location_id: Annotated[str | None, BeforeValidator(_assigned_location_id)] = Field(
        default=None, validation_alias="assignedLocation"
    )
    holds: list[FulfillmentHold] = Field(default_factory=list, validation_alias="fulfillmentHolds")
    supported_actions: Annotated[list[str], BeforeValidator(_actions)] = Field(default_factory=list)
    # Read only where an operation asks for them (orderCreate's answer).
    line_items: Annotated[list[FulfillmentOrderLine], BeforeValidator(_nodes)] = Field(
        default_factory=list
    )

    def our_holds(self, handle_prefix: str = "") -> list[FulfillmentHold]:
        """Holds placed by this app (optionally only those whose handle starts with a prefix)."""
        return [
            h
            for h in self.holds
            if h.held_by_requesting_app and (h.handle or "").startswith(handle_prefix)
        ]


class TrackingInfo(ShopifyModel):
    company: str | None = None
    number: str | None = None
    url: str | None = None


Nodes = BeforeValidator(_nodes)


class FulfilledLine(ShopifyModel):
    """One line of a fulfilment (FulfillmentLineItem): which order line, how many units."""

    line_item_id: str
    sku: str | None = None
    quantity: int

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        # `{quantity, lineItem {id sku}}` as GraphQL nests it.
        if isinstance(value, dict) and isinstance(value.get("lineItem"), dict):
            line = value["lineItem"]
            return {"line_item_id": line.get("id"), "sku": line.get("sku"), **value}
        return value


class Fulfillment(ShopifyModel):
    id: str
    status: str
    created_at: AwareDatetime
    location_id: GidOf = Field(default=None, validation_alias="location")
    tracking_info: list[TrackingInfo] = Field(default_factory=list)
    fulfillment_line_items: Annotated[list[FulfilledLine], Nodes] = Field(default_factory=list)


class LineItemState(ShopifyModel):
    """An order line's quantities (§3, §5): `quantity` as ordered; `current_quantity` without
    removed and refunded units; `unfulfilled_quantity` still to ship."""

    id: str
    sku: str | None = None
    quantity: int
    current_quantity: int
    unfulfilled_quantity: int
    refundable_quantity: int | None = None


class LineItem(LineItemState):
    """An order line as GetOrder reads it: the quantities, plus title, variant and price."""

    title: str
    variant_id: GidOf = Field(default=None, validation_alias="variant")
    unit_price: ShopMoney | None = Field(default=None, validation_alias="originalUnitPriceSet")


class RefundState(ShopifyModel):
    id: str
    note: str | None = None
    created_at: AwareDatetime | None = None


class OrderSummary(ShopifyModel):
    """An order as found by source identifier."""

    id: str
    name: str
    source_identifier: str | None = None
    created_at: AwareDatetime
    cancelled_at: AwareDatetime | None = None
    display_financial_status: str | None = None
    display_fulfillment_status: str


class CreatedOrder(ShopifyModel):
    """What orderCreate returns: the new order and its fulfillment orders (maybe not yet there)."""

    id: str
    name: str
    source_identifier: str | None = None
    created_at: AwareDatetime
    display_financial_status: str | None = None
    display_fulfillment_status: str
    fulfillment_orders: Annotated[list[FulfillmentOrder], Nodes] = Field(default_factory=list)
    line_items: Annotated[list[LineItemState], Nodes] = Field(default_factory=list)


class OrderState(ShopifyModel):
    """The facts the mirror acts on: statuses, holds and fulfilments (GetOrderState); with
    GetOrderDetail also the lines, each fulfilment's lines, refunds and whether the order can
    be edited (empty or False where the cheap read leaves them out)."""

    id: str
    name: str
    source_identifier: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    cancelled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    closed: bool
    display_financial_status: str | None = None
    display_fulfillment_status: str
    can_mark_as_paid: bool
    merchant_editable: bool = False
    merchant_editable_errors: list[str] = Field(default_factory=list)
    fulfillment_orders: Annotated[list[FulfillmentOrder], Nodes] = Field(default_factory=list)
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    # A Sequence so that Order may narrow it to its richer LineItem.
    line_items: Annotated[Sequence[LineItemState], Nodes] = Field(default_factory=list)
    refunds: list[RefundState] = Field(default_factory=list)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class Order(OrderState):
    """One order as GetOrder reads it: the state, plus tags, money, address and richer lines."""

    tags: list[str] = Field(default_factory=list)
    total_price: ShopMoney = Field(validation_alias="totalPriceSet")
    total_outstanding: ShopMoney = Field(validation_alias="totalOutstandingSet")
    shipping_address: Address | None = None
    line_items: Annotated[Sequence[LineItem], Nodes] = Field(default_factory=list)


class Job(ShopifyModel):
    id: str
    done: bool


class Variant(ShopifyModel):
    id: str
    sku: str | None = None
    title: str
    price: Decimal
    inventory_policy: str
    inventory_item_id: GidOf = Field(validation_alias="inventoryItem")
    product_id: GidOf = Field(default=None, validation_alias="product")


class InventoryQuantities(ShopifyModel):
    """available / committed / on_hand of one item at one location (§6)."""

    inventory_item_id: str
    location_id: str
    available: int
    committed: int
    on_hand: int


class ItemLevels(ShopifyModel):
    """One inventory item's available stock at every location that stocks it (§6)."""

    inventory_item_id: str
    sku: str | None
    available: dict[str, int]  # location id -> available
    more_locations: bool = False


class ItemLevel(ShopifyModel):
    """One item's available stock at one location, as a catalog walk reads it."""

    inventory_item_id: str
    sku: str | None
    available: int


class InventoryChange(ShopifyModel):
    name: str
    delta: int


class InventoryAdjustmentGroup(ShopifyModel):
    id: str
    reason: str
    changes: list[InventoryChange] = Field(default_factory=list)


class Location(ShopifyModel):
    id: str
    name: str
    is_active: bool
    fulfills_online_orders: bool


class WebhookSubscription(ShopifyModel):
    id: str
    topic: str
    uri: str
