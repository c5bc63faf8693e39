"""What the engine needs from each platform, in the domain's terms.

The TikTok and Shopify gateways implement these over the real HTTP clients; `fakes`
implements them in memory for unit tests and benchmarks. Implementations raise
`RetryableError` for what may pass (timeouts, 5xx, rate limits) and `PermanentError`
for what will not, with the platform's words.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shopbridge.domain.events import CancellationObserved, ReturnObserved
from shopbridge.domain.tiktok_order import Address, TikTokOrder


class PlatformError(Exception):
    """A platform call failed; `message` says which call and what the platform said."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RetryableError(PlatformError):
    """May succeed later: retry with backoff."""


class PermanentError(PlatformError):
    """Will not succeed by retrying: surface it on the order."""


# PermanentError.code of a cancel Shopify refused because the order has a fulfilment.
ALREADY_FULFILLED = "already_fulfilled"


class AccessLost(PermanentError):
    """The platform no longer accepts this connection's credentials (app uninstalled, seller
    deauthorized, tokens refused after a renewal): the connection needs reconnecting, and its
    work waits for that instead of failing."""

    def __init__(self, platform: str, message: str) -> None:
        super().__init__(message, code="access_lost")
        self.platform = platform


@dataclass(frozen=True)
class Registration:
    """One webhook topic on one platform after a check (engine/subscriptions.py)."""

    platform: str
    topic: str
    address: str | None  # where the platform sends it now (None: nowhere)
    action: str  # kept | created | updated | failed
    error: str | None = None


@dataclass(frozen=True)
class ShopifyFulfilment:
    fulfillment_id: str
    company: str | None
    number: str | None
    lines: tuple[tuple[str, int], ...] = ()  # (line item id, quantity) in this box


@dataclass(frozen=True)
class ShopifyLine:
    """One line item of a Shopify order, as the order stands now."""

    line_id: str
    seller_sku: str  # the TikTok seller SKU it mirrors (the Shopify SKU mapped back)
    quantity: int  # as ordered
    current: int  # after edits and refunds
    unfulfilled: int
    fulfillment_line_id: str | None = None  # its fulfillment-order line, where it was read

    @property
    def fulfilled(self) -> int:
        return max(0, self.current - self.unfulfilled)


@dataclass(frozen=True)
class ShopifyOrderView:
    order_id: str
    name: str
    cancelled: bool
    fulfilled: bool  # fully or partly fulfilled: a cancel would not stop a parcel
    paid: bool
    our_hold_ids: tuple[str, ...]
    fulfilments: tuple[ShopifyFulfilment, ...] = ()
    lines: tuple[ShopifyLine, ...] = ()
    refund_notes: tuple[str, ...] = ()
    location_id: str | None = None  # where it is fulfilled from (returns go back there)


@dataclass(frozen=True)
class ShopifyOrderRef:
    """A Shopify order found by its source identifier (the TikTok order id)."""

    order_id: str
    name: str
    cancelled: bool
    created_at: datetime

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Oldest first; Shopify's ids grow with time and break ties of the same second."""
        tail = self.order_id.rsplit("/", 1)[-1]
        return (self.created_at, int(tail) if tail.isdigit() else 0, self.order_id)


@dataclass(frozen=True)
class CreatedOrder:
    view: ShopifyOrderView  # with the created lines
    unknown_skus: tuple[str, ...]
    # The order's fulfillment orders as orderCreate answered (may be empty: they can appear a
    # moment later, shopify_api.md §2), so the hold needs no read.
    fulfillment_order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hold:
    """One of our fulfilment holds and the fulfilment order it is on (releasing a hold names
    both, so knowing the pair saves a read)."""

    fulfillment_order_id: str
    hold_id: str


@dataclass(frozen=True)
class ShippingProvider:
    provider_id: str
    name: str


@dataclass(frozen=True)
class TikTokSku:
    """One TikTok SKU by its seller SKU, with its stock per warehouse as TikTok shows it."""

    seller_sku: str
    product_id: str
    sku_id: str
    warehouses: dict[str, int]


@dataclass(frozen=True)
class UnreadableOrder:
    """An order TikTok sent in a shape shopbridge cannot read: flagged, never a stopped pass."""

    order_id: str
    reason: str


@dataclass(frozen=True)
class OrderCancellation:
    order_id: str
    cancellation: CancellationObserved


class ShopifyPort(Protocol):
    async def find_orders(self, tiktok_order_id: str) -> tuple[ShopifyOrderRef, ...]:
        """Every Shopify order whose source identifier is this TikTok order, oldest first."""

    async def order_ref(self, order_id: str) -> ShopifyOrderRef: ...

    async def create_pending_order(self, order: TikTokOrder) -> CreatedOrder: ...

    async def hold_fulfillment_orders(
        self, order_id: str, handle: str, known: tuple[str, ...] = ()
    ) -> tuple[Hold, ...]:
        """Our hold on every open fulfilment order; `known` are the ids orderCreate answered
        (held without reading the order first)."""

    async def get_order(self, order_id: str, *, detail: bool = True) -> ShopifyOrderView:
        """The order; without `detail`, only statuses, holds and boxes (no lines, refunds or
        box contents), for a fraction of the cost."""

    async def set_shipping_address(self, order_id: str, address: Address) -> None: ...

    async def mark_paid(self, order_id: str) -> None: ...

    async def release_holds(
        self, order_id: str, hold_ids: tuple[str, ...], held_on: tuple[str, ...] = ()
    ) -> None:
        """Release exactly our holds; `held_on` names each hold's fulfilment order (parallel
        to `hold_ids`, empty when not known: then the order is read to find them)."""

    async def cancel(self, order_id: str, reason: str, staff_note: str) -> None:
        """Cancel with restock; done if already cancelled; PermanentError with code
        ALREADY_FULFILLED if Shopify refuses because something was fulfilled."""

    async def edit_quantities(
        self,
        order_id: str,
        quantities: Mapping[str, int],
        staff_note: str,
        current: Mapping[str, int],
    ) -> None:
        """Lower these line items to these quantities, restocking the removed units; `current`
        is every line's quantity as the caller just read it (no second read)."""

    async def refund_lines(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int]],
        *,
        restock_at: str | None,
        note: str,
        idempotency_key: str,
    ) -> None:
        """Record a refund of these (line item, quantity) with no money moved, the units
        restocked at `restock_at` (a location), or not restocked when None."""

    async def restock_lines(
        self, order_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str
    ) -> None:
        """Put these units back into available stock where the order was fulfilled."""

    # Stock (engine/stock.py): Shopify leads, TikTok follows.
    def shopify_sku(self, seller_sku: str) -> str:
        """The Shopify SKU a TikTok seller SKU is linked to (itself unless mapped)."""

    async def find_items(self, shopify_skus: Sequence[str]) -> dict[str, str]:
        """Shopify SKU -> inventory item id, for the SKUs Shopify has."""

    async def stock_levels(self, item_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Inventory item id -> location id -> available."""

    async def item_sku(self, item_id: str) -> str | None: ...

    async def stock_locations(self) -> list[tuple[str, str]]: ...

    def catalog_levels(self, location_id: str) -> AsyncIterator[list[tuple[str, str, int]]]:
        """Every item stocked at a location, a page at a time: (item id, SKU, available)."""

    async def set_available(
        self, item_id: str, location_id: str, quantity: int, idempotency_key: str
    ) -> None: ...

    async def orders_updated(self, since: datetime) -> tuple[str, ...]:
        """Ids of the orders Shopify changed after `since`."""

    async def check_access(self) -> None:
        """One cheap call: raises AccessLost when Shopify no longer accepts the connection."""

    async def ensure_webhooks(self, uri: str, topics: tuple[str, ...]) -> list[Registration]: ...


class TikTokPort(Protocol):
    async def get_order(self, order_id: str) -> TikTokOrder: ...

    async def check_access(self) -> None:
        """One cheap call: raises AccessLost when TikTok no longer accepts the connection."""

    async def ensure_webhooks(
        self, address: str, events: tuple[str, ...]
    ) -> list[Registration]: ...

    async def get_cancellations(self, order_id: str) -> tuple[CancellationObserved, ...]: ...

    async def answer_cancellation(
        self, cancel_id: str, decision: str, reason: str, comment: str, idempotency_key: str
    ) -> None: ...

    async def shipping_providers(self, delivery_option_id: str) -> tuple[ShippingProvider, ...]: ...

    async def mark_shipped(
        self,
        order_id: str,
        tracking_number: str,
        provider_id: str,
        unit_ids: Sequence[str] | None = None,
    ) -> str | None:
        """The package id; raises PermanentError(code="already_shipped") when TikTok has it
        shipped already, code "specify_lines" when TikTok wants the line items named."""

    async def ship_package(self, package_id: str, tracking_number: str, provider_id: str) -> None:
        """Ship a package TikTok made (combined orders); "already_shipped" as above."""

    async def correct_tracking(
        self, package_id: str, tracking_number: str, provider_id: str
    ) -> None: ...

    async def package_tracking(self, package_id: str) -> str | None: ...

    async def cancel_items(
        self,
        order_id: str,
        unit_ids: Sequence[str] | None,
        skus: Sequence[tuple[str, int]],
        reason: str,
        idempotency_key: str,
    ) -> None:
        """The seller cancels these units (None: the whole order) on TikTok."""

    async def get_returns(self, order_id: str) -> tuple[ReturnObserved, ...]: ...

    async def returns_updated(
        self, since: datetime, until: datetime
    ) -> list[tuple[str, ReturnObserved]]:
        """(order id, return) of the returns TikTok changed in the window."""

    async def find_skus(self, seller_skus: Sequence[str]) -> dict[str, TikTokSku]: ...

    def catalog(self) -> AsyncIterator[list[TikTokSku]]: ...

    async def sku_stock(self, sku_ids: Sequence[str]) -> dict[str, dict[str, int]]: ...

    async def push_stock(
        self, product_id: str, quantities: Mapping[str, Mapping[str, int]]
    ) -> dict[str, PlatformError]:
        """Set several SKUs of one product; returns the SKUs TikTok refused, by sku id."""

    async def warehouses(self) -> list[tuple[str, str, bool]]: ...

    async def orders_updated(
        self, since: datetime, until: datetime
    ) -> list[TikTokOrder | UnreadableOrder]: ...

    async def cancellations_updated(
        self, since: datetime, until: datetime
    ) -> list[OrderCancellation]: ...
