"""TikTok Shop payloads (API 202309) as tolerant, frozen pydantic models.

Tolerance is the point (tiktok_shop_api.md §2.3, §3.1, §4.2): ids arrive as strings or as JSON
numbers and are always kept as strings (64-bit, never floats); times are Unix seconds and
become aware UTC datetimes (0 or "" means "not set"); money is a decimal string and becomes
`Decimal`; statuses outside the known vocabulary are kept as plain strings, never an error;
fields we do not model are kept (`extra="allow"`) and reachable through `model_extra`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shopbridge.domain.tiktok_order import TikTokStatus


def _id_to_str(value: Any) -> Any:
    if isinstance(value, bool | float):
        # A float has already lost the low digits of a 64-bit id; refuse rather than guess.
        raise ValueError(f"an id must be a string or an integer, got {value!r}")
    if isinstance(value, int):
        return str(value)
    return value


def _unix_to_datetime(value: Any) -> Any:
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool):
        raise ValueError(f"a Unix time must be a number, got {value!r}")
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"a Unix time must be a number of seconds, got {value!r}") from None
    return datetime.fromtimestamp(seconds, UTC)


def _to_decimal(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"an amount must be a decimal string, got {value!r}")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, not the binary expansion
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"an amount must be a decimal string, got {value!r}") from None


def _require_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value


TikTokId = Annotated[str, BeforeValidator(_id_to_str)]
UnixTime = Annotated[
    datetime | None, BeforeValidator(_unix_to_datetime), AfterValidator(_require_aware)
]
Money = Annotated[Decimal | None, BeforeValidator(_to_decimal)]


# The order statuses are the domain's (§3.1), CANCEL spelling included.
OrderStatus = TikTokStatus


class CancelStatus(StrEnum):
    PENDING = "CANCELLATION_REQUEST_PENDING"
    SUCCESS = "CANCELLATION_REQUEST_SUCCESS"
    CANCELLED = "CANCELLATION_REQUEST_CANCELLED"
    COMPLETE = "CANCELLATION_REQUEST_COMPLETE"


# The cancellation search request side says `..._CANCEL` where responses say `..._CANCELLED`
# (tiktok_shop_api.md §4.2): both spellings mean the same state.
_CANCEL_STATUS_ALIASES = {"CANCELLATION_REQUEST_CANCEL": CancelStatus.CANCELLED}


class ReturnStatus(StrEnum):
    """Return and refund statuses (wave2 §6.2)."""

    PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"
    AWAITING_BUYER_SHIP = "AWAITING_BUYER_SHIP"
    BUYER_SHIPPED_ITEM = "BUYER_SHIPPED_ITEM"
    REJECT_RECEIVE_PACKAGE = "REJECT_RECEIVE_PACKAGE"
    REJECTED = "REFUND_OR_RETURN_REQUEST_REJECT"
    SUCCESS = "RETURN_OR_REFUND_REQUEST_SUCCESS"
    COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
    CANCELLED = "RETURN_OR_REFUND_REQUEST_CANCEL"
    AWAITING_BUYER_RESPONSE = "AWAITING_BUYER_RESPONSE"


# The webhook-12 page spells the cancel state with a double underscore (wave2 §6.2).
_RETURN_STATUS_ALIASES = {"RETURN_OR_REFUND__REQUEST_CANCELLED": ReturnStatus.CANCELLED}


def _order_status(value: str) -> str:
    return TikTokStatus.parse(value) or value


def _cancel_status(value: str) -> str:
    if value in _CANCEL_STATUS_ALIASES:
        return _CANCEL_STATUS_ALIASES[value]
    return CancelStatus(value) if value in CancelStatus._value2member_map_ else value


def _return_status(value: str) -> str:
    if value in _RETURN_STATUS_ALIASES:
        return _RETURN_STATUS_ALIASES[value]
    return ReturnStatus(value) if value in ReturnStatus._value2member_map_ else value


# A known value becomes the enum member (which compares equal to its string); an unknown one
# stays a plain string so a new TikTok status is data to re-fetch on, not a crash.
OrderStatusValue = Annotated[str, AfterValidator(_order_status)]
CancelStatusValue = Annotated[str, AfterValidator(_cancel_status)]
ReturnStatusValue = Annotated[str, AfterValidator(_return_status)]


class TikTokModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Payment(TikTokModel):
    """Order amounts (§3.2): decimal strings on the wire, `Decimal` here, with the currency."""

    currency: str = ""
    sub_total: Money = None
    shipping_fee: Money = None
    seller_discount: Money = None
    platform_discount: Money = None
    total_amount: Money = None
    original_total_product_price: Money = None
    original_shipping_fee: Money = None
    shipping_fee_seller_discount: Money = None
    shipping_fee_platform_discount: Money = None
    tax: Money = None
    product_tax: Money = None
    shipping_fee_tax: Money = None
    retail_delivery_fee: Money = None


class DistrictInfo(TikTokModel):
    address_level: str = ""
    address_level_name: str = ""
    address_name: str = ""


class RecipientAddress(TikTokModel):
    """Where to ship; TikTok leaves it empty while the order is UNPAID or ON_HOLD (§3.2)."""

    name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    full_address: str = ""
    address_detail: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    address_line4: str = ""
    postal_code: str = ""
    post_town: str = ""
    region_code: str = ""
    district_info: list[DistrictInfo] = Field(default_factory=list)

    def district(self, level_name: str) -> str | None:
        """The named division, e.g. "State" or "City" (TikTok's `address_level_name`)."""
        for entry in self.district_info:
            if entry.address_level_name.lower() == level_name.lower():
                return entry.address_name
        return None

    def level(self, address_level: str) -> str | None:
        """The division at one level: L0 country, L1 state or county, ... L4 (§3.2)."""
        for entry in self.district_info:
            if entry.address_level.upper() == address_level.upper():
                return entry.address_name
        return None

    @property
    def state(self) -> str | None:
        """The first-level division (a US state, a UK county)."""
        return self.level("L1")

    @property
    def city(self) -> str | None:
        """The city: the division TikTok names "City", else the UK post town, else level L3."""
        return self.district("City") or self.post_town or self.level("L3")


def _empty_address_to_none(value: Any) -> Any:
    return None if value in (None, {}, "") else value


MaybeAddress = Annotated[RecipientAddress | None, BeforeValidator(_empty_address_to_none)]


class LineItem(TikTokModel):
    """One unit of one SKU: TikTok has no quantity field (§3.2)."""

    id: TikTokId
    sku_id: TikTokId = ""
    product_id: TikTokId = ""
    seller_sku: str = ""
    product_name: str = ""
    sku_name: str = ""
    original_price: Money = None
    sale_price: Money = None
    platform_discount: Money = None
    seller_discount: Money = None
    currency: str = ""
    display_status: OrderStatusValue = ""
    package_id: TikTokId | None = None
    package_status: str | None = None
    tracking_number: str | None = None
    shipping_provider_id: TikTokId | None = None
    shipping_provider_name: str | None = None
    rts_time: UnixTime = None
    cancel_reason: str | None = None
    cancel_user: str | None = None
    is_gift: bool = False

    @property
    def cancelled(self) -> bool:
        return self.display_status == OrderStatus.CANCELLED

    @property
    def sku_key(self) -> str:
        """The seller's own SKU code, or TikTok's sku_id when the seller set none."""
        return self.seller_sku or self.sku_id


@dataclass(frozen=True)
class SkuQuantity:
    """Line items of one SKU at one unit price, grouped into a quantity."""

    seller_sku: str
    sku_id: str
    product_id: str
    product_name: str
    unit_price: Decimal | None
    currency: str
    quantity: int
    line_item_ids: tuple[str, ...]


class OrderPackage(TikTokModel):
    """An entry of the order's `packages[]`: a package id, which changes on every split,
    combine or uncombine (wave2 §5.2)."""

    id: TikTokId


class Order(TikTokModel):
    """An order from Get Order Detail or Get Order List (§3.2)."""

    id: TikTokId
    status: OrderStatusValue
    is_on_hold_order: bool = False
    create_time: UnixTime = None
    update_time: UnixTime = None
    paid_time: UnixTime = None
    cancel_time: UnixTime = None
    request_cancel_time: UnixTime = None
    rts_sla_time: UnixTime = None
    cancellation_initiator: str | None = None
    cancel_reason: str | None = None
    is_buyer_request_cancel: bool = False
    delivery_option_id: TikTokId | None = None
    shipping_type: str | None = None
    fulfillment_type: str | None = None
    tracking_number: str | None = None
    split_or_combine_tag: str | None = None  # COMBINED | SPLIT, absent otherwise
    packages: list[OrderPackage] = Field(default_factory=list)
    payment: Payment = Field(default_factory=Payment)
    recipient_address: MaybeAddress = None
    line_items: list[LineItem] = Field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.payment.currency

    def quantities_by_sku(self) -> dict[str, int]:
        """`{seller_sku: units}`, counting one unit per line item."""
        counts: dict[str, int] = defaultdict(int)
        for item in self.line_items:
            counts[item.sku_key] += 1
        return dict(counts)

    def sku_quantities(self) -> list[SkuQuantity]:
        """Line items grouped by SKU and unit sale price, in first-seen order (§8)."""
        groups: dict[tuple[str, str, Decimal | None], list[LineItem]] = {}
        for item in self.line_items:
            groups.setdefault((item.sku_key, item.sku_id, item.sale_price), []).append(item)
        return [
            SkuQuantity(
                seller_sku=items[0].seller_sku,
                sku_id=items[0].sku_id,
                product_id=items[0].product_id,
                product_name=items[0].product_name,
                unit_price=price,
                currency=items[0].currency or self.payment.currency,
                quantity=len(items),
                line_item_ids=tuple(item.id for item in items),
            )
            for (_, _, price), items in groups.items()
        ]


class SellerNextAction(TikTokModel):
    action: str = ""
    deadline: UnixTime = None


class RefundAmount(TikTokModel):
    currency: str = ""
    refund_total: Money = None
    refund_subtotal: Money = None
    refund_shipping_fee: Money = None
    refund_tax: Money = None


class CancelLineItem(TikTokModel):
    """One unit a cancellation record covers (§4.2)."""

    cancel_line_item_id: TikTokId = ""
    order_line_item_id: TikTokId
    sku_id: TikTokId = ""
    seller_sku: str = ""
    sku_name: str = ""
    product_name: str = ""
    refund_amount: RefundAmount | None = None


class Cancellation(TikTokModel):
    """A cancellation record from Search Cancellations (§4.2)."""

    cancel_id: TikTokId
    order_id: TikTokId
    cancel_type: str = ""
    cancel_status: CancelStatusValue = ""
    role: str = ""
    cancel_reason: str = ""
    cancel_reason_text: str = ""
    create_time: UnixTime = None
    update_time: UnixTime = None
    seller_next_action_response: list[SellerNextAction] = Field(default_factory=list)
    cancel_line_items: list[CancelLineItem] = Field(default_factory=list)
    refund_amount: RefundAmount | None = None

    @property
    def deadline(self) -> datetime | None:
        """When TikTok auto-approves if the seller has not answered: the earliest deadline."""
        return _earliest_deadline(self.seller_next_action_response)

    @property
    def line_item_ids(self) -> tuple[str, ...]:
        """The order line items (units) this record cancels."""
        return tuple(item.order_line_item_id for item in self.cancel_line_items)


def _earliest_deadline(actions: list[SellerNextAction]) -> datetime | None:
    deadlines = [a.deadline for a in actions if a.deadline]
    return min(deadlines) if deadlines else None


class ReturnLineItem(TikTokModel):
    """One unit of a return (wave2 §6.1)."""

    return_line_item_id: TikTokId = ""
    order_line_item_id: TikTokId
    sku_id: TikTokId = ""
    seller_sku: str = ""
    sku_name: str = ""
    product_name: str = ""
    refund_amount: RefundAmount | None = None


class Return(TikTokModel):
    """A return or refund request from Search Returns (wave2 §6.1); a new return id, never
    the order id."""

    return_id: TikTokId
    order_id: TikTokId
    return_type: str = ""  # REFUND | RETURN_AND_REFUND | REPLACEMENT
    return_status: ReturnStatusValue = ""
    role: str = ""
    create_time: UnixTime = None
    update_time: UnixTime = None
    return_reason: str = ""
    return_reason_text: str = ""
    return_line_items: list[ReturnLineItem] = Field(default_factory=list)
    refund_amount: RefundAmount | None = None
    seller_next_action_response: list[SellerNextAction] = Field(default_factory=list)

    @property
    def deadline(self) -> datetime | None:
        """When TikTok decides for the seller who has not answered: the earliest deadline."""
        return _earliest_deadline(self.seller_next_action_response)

    @property
    def line_item_ids(self) -> tuple[str, ...]:
        return tuple(item.order_line_item_id for item in self.return_line_items)


class SellerCancelResult(TikTokModel):
    """What Cancel Order answers (§4.2)."""

    cancel_id: TikTokId = ""
    cancel_status: CancelStatusValue = ""


class ShippedPackage(TikTokModel):
    """What Mark Package As Shipped answers (§4.3); `warning` carries TikTok's caveat."""

    order_id: TikTokId = ""
    package_id: TikTokId = ""
    order_line_item_ids: list[TikTokId] = Field(default_factory=list)
    warning: dict[str, Any] | None = None


class PackageOrder(TikTokModel):
    id: TikTokId


class Package(TikTokModel):
    """A package from Get Package Detail (wave2 §5.6); `order_line_item_ids` is what it
    holds, across every order of a combined package."""

    package_id: TikTokId
    package_status: str = ""  # PROCESSING | FULFILLING | COMPLETED | CANCELLED (+ TO_FULFILL)
    order_line_item_ids: list[TikTokId] = Field(default_factory=list)
    orders: list[PackageOrder] = Field(default_factory=list)
    split_and_combine_tag: str = ""  # DEFAULT | COMBINE | SPLIT
    tracking_number: str | None = None
    shipping_provider_id: TikTokId | None = None
    shipping_provider_name: str | None = None
    create_time: UnixTime = None
    update_time: UnixTime = None

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(order.id for order in self.orders)


class ShippingProvider(TikTokModel):
    id: TikTokId
    name: str = ""


class Warehouse(TikTokModel):
    id: TikTokId
    name: str = ""
    effect_status: str = ""
    type: str = ""
    sub_type: str = ""
    is_default: bool = False
    address: dict[str, Any] = Field(default_factory=dict)


class WarehouseStock(TikTokModel):
    warehouse_id: TikTokId
    available_quantity: int = 0
    committed_quantity: int = 0


class InventorySku(TikTokModel):
    """One SKU's stock from Inventory Search, flattened with its product id (§4.4)."""

    id: TikTokId
    product_id: TikTokId = ""
    seller_sku: str = ""
    total_available_quantity: int = 0
    total_committed_quantity: int = 0
    warehouse_inventory: list[WarehouseStock] = Field(default_factory=list)

    @property
    def warehouse_ids(self) -> list[str]:
        return [w.warehouse_id for w in self.warehouse_inventory]


class SkuPrice(TikTokModel):
    currency: str = ""
    sale_price: Money = None
    tax_exclusive_price: Money = None


class SkuWarehouseQuantity(TikTokModel):
    warehouse_id: TikTokId
    quantity: int = 0


class Sku(TikTokModel):
    id: TikTokId
    seller_sku: str = ""
    price: SkuPrice | None = None
    inventory: list[SkuWarehouseQuantity] = Field(default_factory=list)


class Product(TikTokModel):
    id: TikTokId
    title: str = ""
    status: str = ""
    skus: list[Sku] = Field(default_factory=list)


class Shop(TikTokModel):
    """An authorized shop; `cipher` goes on every shop-scoped call (§4.5)."""

    id: TikTokId
    name: str = ""
    region: str = ""
    seller_type: str = ""
    cipher: str
    code: str = ""


class TokenSet(TikTokModel):
    """Tokens from the auth host; TikTok's `*_expire_in` are absolute Unix times (§5)."""

    access_token: str
    access_token_expires_at: UnixTime = Field(default=None, alias="access_token_expire_in")
    refresh_token: str
    refresh_token_expires_at: UnixTime = Field(default=None, alias="refresh_token_expire_in")
    open_id: TikTokId = ""
    seller_name: str = ""
    seller_base_region: str = ""
    user_type: int | None = None
    granted_scopes: list[str] = Field(default_factory=list)


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a token-paginated search; `next_page_token` None on the last page."""

    items: list[T]
    next_page_token: str | None
    total_count: int | None
    # Items that did not parse, kept out of `items`: (their id if readable, why).
    unreadable: tuple[tuple[str | None, str], ...] = ()
