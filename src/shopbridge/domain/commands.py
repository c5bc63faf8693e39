"""What the core asks the platforms to do, one command at a time per order.

Each command is executed by the outbox; its `key` is its idempotency key (also sent to TikTok
where an endpoint takes one). Priorities put stock reservation before everything else
(workflow.md rule 2): lower runs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from shopbridge.domain.tiktok_order import TikTokOrder


class Priority:
    RESERVE = 0
    CANCEL = 10
    ANSWER_CANCELLATION = 15
    RELEASE = 20
    TRACKING = 30
    INVENTORY = 40
    REFRESH = 50


@dataclass(frozen=True)
class CreateShopifyOrder:
    """Row 1: a pending Shopify order, every fulfilment order on hold, stock committed."""

    kind: ClassVar[str] = "create_shopify_order"
    priority: ClassVar[int] = Priority.RESERVE
    key: str
    order: TikTokOrder


@dataclass(frozen=True)
class ReleaseShopifyOrder:
    """Row 4b: after re-reading TikTok, add the address, mark paid, release our holds."""

    kind: ClassVar[str] = "release_shopify_order"
    priority: ClassVar[int] = Priority.RELEASE
    key: str
    tiktok_order_id: str
    shopify_order_id: str
    hold_ids: tuple[str, ...]
    holdback_ends_at: datetime
    held_on: tuple[str, ...] = ()  # each hold's fulfilment order, when known (no read needed)


@dataclass(frozen=True)
class CancelShopifyOrder:
    """Rows 3a, 4a, 5a, 7: cancel with restock; refused if already fulfilled."""

    kind: ClassVar[str] = "cancel_shopify_order"
    priority: ClassVar[int] = Priority.CANCEL
    key: str
    shopify_order_id: str
    reason: (
        str  # Shopify OrderCancelReason: CUSTOMER | DECLINED | FRAUD | INVENTORY | STAFF | OTHER
    )
    staff_note: str


@dataclass(frozen=True)
class LineTarget:
    """A Shopify line item and how many units it should keep."""

    shopify_line_id: str
    seller_sku: str
    quantity: int


@dataclass(frozen=True)
class RemoveShopifyUnits:
    """Take units TikTok cancelled off the Shopify order (order editing, restock); the rest of
    the order keeps its hold or release."""

    kind: ClassVar[str] = "remove_shopify_units"
    priority: ClassVar[int] = Priority.CANCEL
    key: str
    shopify_order_id: str
    targets: tuple[LineTarget, ...]
    unit_ids: tuple[str, ...]
    staff_note: str


@dataclass(frozen=True)
class CancelOnTikTok:
    """The merchant's seller cancellation (out of stock) of some units, or all of them."""

    kind: ClassVar[str] = "cancel_on_tiktok"
    priority: ClassVar[int] = Priority.ANSWER_CANCELLATION
    key: str
    tiktok_order_id: str
    unit_ids: tuple[str, ...]
    whole_order: bool
    reason: str = "seller_cancel_reason_out_of_stock"


@dataclass(frozen=True)
class AnswerTikTokCancellation:
    """Row 5a/5b: approve (only after the Shopify cancel succeeded) or reject on TikTok."""

    kind: ClassVar[str] = "answer_tiktok_cancellation"
    priority: ClassVar[int] = Priority.ANSWER_CANCELLATION
    key: str
    cancel_id: str
    decision: str  # approve | reject
    reject_reason: str = ""
    comment: str = ""


@dataclass(frozen=True)
class ShipOnTikTok:
    """Row 6: mark the TikTok package shipped with the mapped provider and tracking number."""

    kind: ClassVar[str] = "ship_on_tiktok"
    priority: ClassVar[int] = Priority.TRACKING
    key: str
    tiktok_order_id: str
    fulfillment_id: str
    company: str | None
    number: str | None
    delivery_option_id: str | None
    unit_ids: tuple[str, ...] = ()  # the box's TikTok line items; empty: the whole order


@dataclass(frozen=True)
class CorrectTikTokTracking:
    """A tracking number changed in Shopify after TikTok was told: update the package's
    shipping info (TikTok allows this once, within 72 hours of shipping)."""

    kind: ClassVar[str] = "correct_tiktok_tracking"
    priority: ClassVar[int] = Priority.TRACKING
    key: str
    tiktok_order_id: str
    fulfillment_id: str
    package_id: str | None
    company: str | None
    number: str
    delivery_option_id: str | None


@dataclass(frozen=True)
class RecordShopifyReturn:
    """A TikTok return or refund is complete: give the Shopify order the matching refund of
    these lines, restocking the units when the merchant's setting says so."""

    kind: ClassVar[str] = "record_shopify_return"
    priority: ClassVar[int] = Priority.TRACKING
    key: str
    shopify_order_id: str
    return_id: str
    lines: tuple[LineTarget, ...]  # quantity: units returned from that Shopify line
    restock: bool
    note: str


@dataclass(frozen=True)
class RestockReturn:
    """The merchant's Restock of a completed return: the units back into available stock."""

    kind: ClassVar[str] = "restock_return"
    priority: ClassVar[int] = Priority.TRACKING
    key: str
    shopify_order_id: str
    return_id: str
    lines: tuple[LineTarget, ...]


@dataclass(frozen=True)
class SyncTikTokInventory:
    """After a cancellation: bring each SKU's TikTok quantity in line with Shopify's available."""

    kind: ClassVar[str] = "sync_tiktok_inventory"
    priority: ClassVar[int] = Priority.INVENTORY
    key: str
    seller_skus: tuple[str, ...]


@dataclass(frozen=True)
class RefreshTikTokOrder:
    """Re-read the order from TikTok when a change is due but has not been heard of."""

    kind: ClassVar[str] = "refresh_tiktok_order"
    priority: ClassVar[int] = Priority.REFRESH
    key: str
    tiktok_order_id: str
    why: str


Command = (
    CreateShopifyOrder
    | ReleaseShopifyOrder
    | CancelShopifyOrder
    | RemoveShopifyUnits
    | CancelOnTikTok
    | AnswerTikTokCancellation
    | ShipOnTikTok
    | CorrectTikTokTracking
    | RecordShopifyReturn
    | RestockReturn
    | SyncTikTokInventory
    | RefreshTikTokOrder
)

COMMAND_TYPES: dict[str, type[Command]] = {
    c.kind: c
    for c in (
        CreateShopifyOrder,
        ReleaseShopifyOrder,
        CancelShopifyOrder,
        RemoveShopifyUnits,
        CancelOnTikTok,
        AnswerTikTokCancellation,
        ShipOnTikTok,
        CorrectTikTokTracking,
        RecordShopifyReturn,
        RestockReturn,
        SyncTikTokInventory,
        RefreshTikTokOrder,
    )
}

# What each command does, as a merchant would say it ("… failed", "retry …"): never the kind
# with its underscores turned to spaces ("ship on tiktok", "answer tiktok cancellation").
ACTION_WORDS: dict[str, str] = {
    CreateShopifyOrder.kind: "reserving the order in Shopify",
    ReleaseShopifyOrder.kind: "releasing the order in Shopify",
    CancelShopifyOrder.kind: "cancelling the order in Shopify",
    RemoveShopifyUnits.kind: "taking cancelled items off the Shopify order",
    CancelOnTikTok.kind: "cancelling items on TikTok",
    AnswerTikTokCancellation.kind: "answering the buyer's cancellation request on TikTok",
    ShipOnTikTok.kind: "sending tracking to TikTok",
    CorrectTikTokTracking.kind: "correcting the tracking number on TikTok",
    RecordShopifyReturn.kind: "recording the return in Shopify",
    RestockReturn.kind: "restocking the returned items in Shopify",
    SyncTikTokInventory.kind: "returning stock on TikTok",
    RefreshTikTokOrder.kind: "re-reading the order from TikTok",
}


def action_words(kind: str) -> str:
    """A command kind as words, lower case ("sending tracking to TikTok")."""
    return ACTION_WORDS.get(kind, kind.replace("_", " "))
