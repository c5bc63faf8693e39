"""What the sandbox remembers: apps, shops, grants, products, orders, packages, cancellations
and returns.

Plain mutable records; every change goes through `state.Marketplace` or `orders.OrderDesk`
under the marketplace lock. Times are aware UTC datetimes, ids are strings, money is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ShopCredentials:
    """Everything a client needs to call the sandbox as one authorized shop."""

    app_key: str
    app_secret: str
    access_token: str
    refresh_token: str
    shop_id: str
    shop_cipher: str
    region: str
    name: str


@dataclass(frozen=True)
class SkuSpec:
    """One SKU to list: `quantity` goes to the default warehouse unless
    `warehouse_quantities` (warehouse id -> units) says otherwise."""

    seller_sku: str
    price: Decimal | str
    quantity: int = 0
    name: str = ""
    warehouse_quantities: dict[str, int] | None = None


@dataclass
class Warehouse:
    id: str
    name: str
    is_default: bool


@dataclass
class Shop:
    id: str
    cipher: str
    code: str
    name: str
    region: str
    app_key: str
    warehouses: list[Warehouse]
    delivery_option_id: str
    webhook_url: str | None = None  # every topic (as configured in Partner Center)
    # Per-topic addresses set through the Event API (§2.1), event_type -> (address, set at).
    event_webhooks: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return "GBP" if self.region in ("GB", "UK") else "USD"


@dataclass
class App:
    """A Partner Center app: its credentials, the service id its authorization link carries
    (wave2 §1.1) and where the seller's browser returns after approving (§1.2)."""

    app_key: str
    app_secret: str
    service_id: str
    redirect_url: str | None = None
    access_token_lifetime: timedelta = timedelta(days=7)  # "must be refreshed every 7 days"


@dataclass
class Grant:
    """An access token and its refresh token, issued to one app for the shops a seller
    authorized (one token covers the seller account, wave2 §1.3)."""

    app_key: str
    shop_ids: tuple[str, ...]
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    issued_at: datetime

    @property
    def shop_id(self) -> str:
        """The first authorized shop: the one unscoped calls (/authorization/, /seller/) and
        the rate limit are keyed on."""
        return self.shop_ids[0]


@dataclass(frozen=True)
class AuthCode:
    """What the seller's approval hands the app: used once, within 30 minutes (wave2 §1.2)."""

    app_key: str
    shop_ids: tuple[str, ...]
    expires_at: datetime


@dataclass
class Sku:
    id: str
    product_id: str
    seller_sku: str
    name: str
    price: Decimal
    available: dict[str, int]  # warehouse id -> sellable units
    committed: dict[str, int] = field(default_factory=dict)  # warehouse id -> units in open orders
    # A campaign holds the SKU: Update Inventory may raise its stock, never lower it (12052393).
    promotion_locked: bool = False


@dataclass
class Product:
    id: str
    shop_id: str
    title: str
    skus: list[Sku]
    create_time: datetime
    update_time: datetime
    status: str = "ACTIVATE"


@dataclass
class LineItem:
    """One unit: TikTok line items carry no quantity (§3.2)."""

    id: str
    sku_id: str
    product_id: str
    seller_sku: str
    product_name: str
    sku_name: str
    price: Decimal
    warehouse_id: str
    package_id: str | None = None  # a pre-shipping (combined/split) or a shipped package
    cancel_user: str | None = None  # BUYER | SELLER | OPERATOR | SYSTEM, once cancelled
    cancel_reason: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel_user is not None


# §3.2 line-item package_status. TO_FULFILL is the sandbox's status for a package made by a
# split or a combine before anything shipped (Get Package Detail's enum, wave2 §5.6, starts at
# PROCESSING = arranged, awaiting the carrier).
TO_FULFILL = "TO_FULFILL"
PROCESSING = "PROCESSING"
FULFILLING = "FULFILLING"
PACKAGE_COMPLETED = "COMPLETED"
PACKAGE_CANCELLED = "CANCELLED"


@dataclass
class Package:
    """A parcel: made by a split or a combine before shipping (TO_FULFILL), or by shipping.
    A combined package holds units of several orders of one shop."""

    id: str
    shop_id: str
    line_item_ids: list[str]
    order_ids: list[str]
    tag: str  # split_and_combine_tag: DEFAULT | COMBINE | SPLIT
    create_time: datetime
    status: str = TO_FULFILL
    tracking_number: str = ""
    shipping_provider_id: str = ""
    shipping_provider_name: str = ""
    shipped_at: datetime | None = None
    update_time: datetime | None = None
    tracking_updates: int = 0
    dissolved: bool = False  # a later split, combine or uncombine replaced it

    @property
    def shipped(self) -> bool:
        return self.shipped_at is not None


@dataclass
class Order:
    id: str
    shop_id: str
    status: str
    is_on_hold_order: bool
    create_time: datetime
    update_time: datetime
    line_items: list[LineItem]
    delivery_option_id: str
    user_id: str
    buyer_email: str
    address: dict[str, Any]
    paid_time: datetime | None = None
    cancel_time: datetime | None = None
    rts_time: datetime | None = None
    collection_time: datetime | None = None
    delivery_time: datetime | None = None
    cancel_reason: str = ""
    cancellation_initiator: str = ""
    request_cancel_time: datetime | None = None
    is_buyer_request_cancel: bool = False
    failed_payments: int = 0
    external_orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # platform -> ref
    packages: list[Package] = field(default_factory=list)  # live ones, oldest first
    split_or_combine_tag: str | None = None  # COMBINED | SPLIT (§3.2), None otherwise


@dataclass
class Cancellation:
    id: str
    order_id: str
    shop_id: str
    cancel_type: str  # CANCEL (direct, by seller or system) | BUYER_CANCEL (a request)
    status: str
    role: str  # BUYER | SELLER | SYSTEM
    reason: str
    create_time: datetime
    update_time: datetime
    line_item_ids: list[str]
    deadline: datetime | None = None


@dataclass
class Return:
    """A buyer's return or refund request after shipping (wave2 §6)."""

    id: str
    order_id: str
    shop_id: str
    return_type: str  # RETURN_AND_REFUND | REFUND
    status: str
    role: str  # BUYER | SELLER | OPERATOR | SYSTEM
    reason: str
    create_time: datetime
    update_time: datetime
    # (return_line_item_id, order_line_item_id), one per unit
    line_items: list[tuple[str, str]]
