"""The state of one order's mirror: what we know of TikTok, and what Shopify shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus, Unit


class Phase(StrEnum):
    """What the Shopify order shows, as far as shopbridge has made it so."""

    NEW = "new"  # known from TikTok; the reservation is on its way
    HELD = "held"  # Shopify: payment pending, every fulfilment order on hold, stock committed
    RELEASED = "released"  # Shopify: paid, holds released, ready to fulfil
    FULFILLED = "fulfilled"  # Shopify: fulfilled (tracking goes back to TikTok)
    CANCELLED = "cancelled"  # Shopify: cancelled with restock, or never created


# While TikTok lets a seller cancel an order or some of its items (tiktok wave2 §4).
SELLER_CANCELLABLE = frozenset(
    {
        TikTokStatus.UNPAID,
        TikTokStatus.ON_HOLD,
        TikTokStatus.AWAITING_SHIPMENT,
        TikTokStatus.PARTIALLY_SHIPPING,
    }
)


class FlagCode(StrEnum):
    UNKNOWN_SKU = "unknown_sku"
    UNSUPPORTED_CARRIER = "unsupported_carrier"
    CANCELLED_AFTER_FULFILMENT = "cancelled_after_fulfilment"
    FULFILLED_BEFORE_RELEASE = "fulfilled_before_release"
    CANCELLED_IN_SHOPIFY_ONLY = "cancelled_in_shopify_only"
    ACTION_FAILED = "action_failed"
    DUPLICATE_ORDER = "duplicate_order"
    UNREADABLE_ORDER = "unreadable_order"
    SHIPPED_CANCELLED_UNITS = "shipped_cancelled_units"
    UNMATCHED_FULFILMENT = "unmatched_fulfilment"


@dataclass(frozen=True)
class Flag:
    """A condition the merchant must see, with what to do about it."""

    code: FlagCode
    message: str
    kind: str = ""  # the command kind it concerns, for ACTION_FAILED and carrier errors


@dataclass(frozen=True)
class CancelRequest:
    """A buyer's cancellation request that the seller must answer."""

    cancel_id: str
    status: (
        str  # CANCELLATION_REQUEST_PENDING | ..._SUCCESS | ..._CANCELLED | ..._COMPLETE | REJECTED
    )
    role: str
    deadline: datetime | None
    update_time: datetime
    decision: str | None = None  # "approve" | "reject" once the merchant answered
    answered_on_tiktok: bool = False
    reject_reason: str = ""
    reject_comment: str = ""

    @property
    def is_pending(self) -> bool:
        return self.status == "CANCELLATION_REQUEST_PENDING"


@dataclass(frozen=True)
class Fulfilment:
    """One Shopify fulfilment (one box), the TikTok units it ships, and what TikTok was told."""

    fulfillment_id: str
    company: str | None
    number: str | None  # the tracking number Shopify shows now
    sent_to_tiktok: bool = False
    shipping_provider: str | None = None
    unit_ids: tuple[str, ...] = ()  # TikTok line items in this box (empty: the whole order)
    package_id: str | None = None  # TikTok's package, once shipped there
    sent_number: str | None = None  # the tracking number TikTok has, once sent

    @property
    def needs_correction(self) -> bool:
        """Shopify's tracking number changed after TikTok was told (fulfillments/update)."""
        return (
            self.sent_to_tiktok
            and self.sent_number is not None
            and bool(self.number)
            and self.number != self.sent_number
        )


@dataclass(frozen=True)
class LineLink:
    """One Shopify line item and the TikTok units (line items) it mirrors: Shopify holds a
    quantity per SKU, TikTok one line item per unit, so any subset can be removed or shipped."""

    shopify_line_id: str
    seller_sku: str
    unit_ids: tuple[str, ...]
    fulfillment_line_id: str | None = None  # its fulfillment-order line, when Shopify said


# TikTok's order statuses as a merchant would say them (tiktok_shop_api.md §3.2): the one list
# the timeline, the order page and the items use, so no raw AWAITING_SHIPMENT reaches a merchant.
TIKTOK_STATUS_WORDS = {
    TikTokStatus.UNPAID: "awaiting payment",
    TikTokStatus.ON_HOLD: "on hold: the buyer may still cancel",
    TikTokStatus.AWAITING_SHIPMENT: "awaiting shipment",
    TikTokStatus.PARTIALLY_SHIPPING: "partly shipped",
    TikTokStatus.AWAITING_COLLECTION: "awaiting collection",
    TikTokStatus.IN_TRANSIT: "in transit",
    TikTokStatus.DELIVERED: "delivered",
    TikTokStatus.COMPLETED: "completed",
    TikTokStatus.CANCELLED: "cancelled",
}


def tiktok_status_words(status: str | None) -> str:
    """A TikTok status (enum or the API's string, any case) in words; unknown ones lowercased."""
    if not status:
        return "not read yet"
    parsed = TikTokStatus.parse(str(status))
    if parsed is None:
        return str(status).replace("_", " ").lower()
    return TIKTOK_STATUS_WORDS[parsed]


# Who cancelled, from TikTok's cancel_user / cancellation_initiator / cancellation role.
CANCELLED_BY_WORDS = {
    "BUYER": "the buyer",
    "SELLER": "the seller",
    "OPERATOR": "TikTok",
    "SYSTEM": "TikTok",
}

# Where a cancellation (a buyer's request or TikTok's own record of a cancel) stands.
CANCEL_STATUS_WORDS = {
    "CANCELLATION_REQUEST_PENDING": "waiting for the seller's answer",
    "CANCELLATION_REQUEST_SUCCESS": "complete, the order is cancelled",
    "CANCELLATION_REQUEST_COMPLETE": "complete, the order is cancelled",
    "CANCELLATION_REQUEST_CANCELLED": "withdrawn by the buyer",
    "REJECTED": "rejected",
}

# TikTok's return types and statuses (tiktok wave2 §6) as a merchant would say them.
RETURN_TYPE_WORDS = {
    "REFUND": "Refund only",
    "RETURN_AND_REFUND": "Return and refund",
    "REPLACEMENT": "Replacement",
}
RETURN_STATUS_WORDS = {
    "RETURN_OR_REFUND_REQUEST_PENDING": "requested, waiting for a decision",
    "AWAITING_BUYER_SHIP": "approved, waiting for the buyer to send the goods back",
    "BUYER_SHIPPED_ITEM": "the buyer sent the goods back",
    "REJECT_RECEIVE_PACKAGE": "the returned package was rejected",
    "REFUND_OR_RETURN_REQUEST_REJECT": "rejected",
    "RETURN_OR_REFUND_REQUEST_SUCCESS": "approved: the buyer will be refunded",
    "RETURN_OR_REFUND_REQUEST_COMPLETE": "complete: TikTok refunded the buyer",
    "RETURN_OR_REFUND_REQUEST_CANCEL": "withdrawn by the buyer",
    "REPLACEMENT_REQUEST_PENDING": "requested, waiting for a decision",
    "REPLACEMENT_REQUEST_REJECT": "rejected",
    "REPLACEMENT_REQUEST_CANCEL": "withdrawn by the buyer",
    "REPLACEMENT_REQUEST_COMPLETE": "complete: the replacement was sent",
}


@dataclass(frozen=True)
class ReturnCase:
    """A TikTok return or refund after shipping, and how far it is mirrored in Shopify."""

    return_id: str
    status: str
    return_type: str  # REFUND | RETURN_AND_REFUND | REPLACEMENT
    unit_ids: tuple[str, ...]
    update_time: datetime
    role: str = ""
    recorded: bool = False  # the Shopify order has the matching refund
    restocked: bool = False  # the returned units are back in Shopify's available stock
    restock_wanted: bool = False  # the merchant pressed Restock

    @property
    def completed(self) -> bool:
        """TikTok refunded the buyer (the return is over)."""
        return self.status.endswith("REQUEST_COMPLETE") and not self.status.startswith(
            "REPLACEMENT"
        )

    @property
    def goods_back(self) -> bool:
        return self.return_type == "RETURN_AND_REFUND"


@dataclass(frozen=True)
class InFlight:
    kind: str
    key: str


@dataclass(frozen=True)
class OrderMirror:
    tiktok_order_id: str
    phase: Phase = Phase.NEW
    tiktok: TikTokOrder | None = None
    shopify_order_id: str | None = None
    shopify_order_name: str | None = None
    hold_ids: tuple[str, ...] = ()
    held_on: tuple[str, ...] = ()  # each hold's fulfilment order (empty for older mirrors)
    cancel_request: CancelRequest | None = None
    fulfilments: tuple[Fulfilment, ...] = ()
    inventory_synced: bool = False
    in_flight: InFlight | None = None
    blocked: tuple[str, ...] = ()  # command kinds that failed for good, until the merchant retries
    flags: tuple[Flag, ...] = ()
    deadlines: dict[str, datetime] = field(default_factory=dict)
    release_not_before: datetime | None = None  # set when TikTok was not ready at release time
    lines: tuple[LineLink, ...] = ()  # Shopify line item <-> TikTok units
    removed_units: tuple[str, ...] = ()  # cancelled units already taken off the Shopify order
    cancel_units: tuple[str, ...] = ()  # units the merchant asked to cancel on TikTok (pending)
    returns: tuple[ReturnCase, ...] = ()
    refresh_not_before: datetime | None = None  # after asking TikTok again, wait this long
    seq: int = 0  # counts commands issued, for their idempotency keys

    @property
    def tiktok_status(self) -> TikTokStatus | None:
        return None if self.tiktok is None else self.tiktok.status

    @property
    def tiktok_cancelled(self) -> bool:
        return self.tiktok is not None and self.tiktok.status is TikTokStatus.CANCELLED

    @property
    def needs_attention(self) -> bool:
        return bool(self.flags or self.blocked)

    @property
    def pending_cancel_request(self) -> CancelRequest | None:
        request = self.cancel_request
        return request if request is not None and request.is_pending else None

    @property
    def mirrored_units(self) -> frozenset[str]:
        return frozenset(u for link in self.lines for u in link.unit_ids)

    def shipped_units(self) -> frozenset[str]:
        """Units some Shopify fulfilment of this order covers; a fulfilment that names none
        (read without its lines) ships every unit the Shopify order held."""
        named = frozenset(u for f in self.fulfilments for u in f.unit_ids)
        if any(not f.unit_ids for f in self.fulfilments):
            return named | (self.mirrored_units - set(self.removed_units))
        return named

    def cancellable_units(self) -> frozenset[str]:
        """Units the seller may still cancel on TikTok: live, in no box, while TikTok lets a
        seller cancel and no other cancellation is asked."""
        t = self.tiktok
        if (
            t is None
            or t.status not in SELLER_CANCELLABLE
            or self.cancel_units
            or self.pending_cancel_request is not None
        ):
            return frozenset()
        boxed = self.shipped_units()
        return frozenset(
            u.line_item_id for u in t.live_units if not u.shipped and u.line_item_id not in boxed
        )

    def units_to_remove(self) -> tuple[str, ...]:
        """Units TikTok cancelled that the Shopify order still holds."""
        if self.tiktok is None:
            return ()
        gone = self.tiktok.cancelled_unit_ids
        held = self.mirrored_units - set(self.removed_units)
        return tuple(sorted(gone & held))

    def has_flag(self, code: FlagCode, kind: str = "") -> bool:
        return any(f.code is code and (not kind or f.kind == kind) for f in self.flags)


def link_units(
    units: tuple[Unit, ...], shopify_lines: tuple[tuple[str, str, int, str | None], ...]
) -> tuple[LineLink, ...]:
    """Which TikTok units each Shopify line item mirrors. `shopify_lines` are (line item id,
    TikTok seller SKU, quantity, fulfillment-order line id or None) as the order was created;
    each line takes that many of the SKU's live units, lowest ids first, so every reader of
    the same order links the same way."""
    pool: dict[str, list[str]] = {}
    for unit in sorted(units, key=lambda u: u.line_item_id):
        if not unit.cancelled:
            pool.setdefault(unit.seller_sku, []).append(unit.line_item_id)
    links: list[LineLink] = []
    for line_id, seller_sku, quantity, fulfillment_line_id in shopify_lines:
        free = pool.get(seller_sku, [])
        taken, pool[seller_sku] = free[:quantity], free[quantity:]
        links.append(LineLink(line_id, seller_sku, tuple(taken), fulfillment_line_id))
    return tuple(links)
