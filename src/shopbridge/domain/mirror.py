"""The state of one order's mirror: what we know of TikTok, and what Shopify shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus


class Phase(StrEnum):
    """What the Shopify order shows, as far as shopbridge has made it so."""

    NEW = "new"  # known from TikTok; the reservation is on its way
    HELD = "held"  # Shopify: payment pending, every fulfilment order on hold, stock committed
    RELEASED = "released"  # Shopify: paid, holds released, ready to fulfil
    FULFILLED = "fulfilled"  # Shopify: fulfilled (tracking goes back to TikTok)
    CANCELLED = "cancelled"  # Shopify: cancelled with restock, or never created


class FlagCode(StrEnum):
    UNKNOWN_SKU = "unknown_sku"
    UNSUPPORTED_CARRIER = "unsupported_carrier"
    CANCELLED_AFTER_FULFILMENT = "cancelled_after_fulfilment"
    FULFILLED_BEFORE_RELEASE = "fulfilled_before_release"
    CANCELLED_IN_SHOPIFY_ONLY = "cancelled_in_shopify_only"
    ACTION_FAILED = "action_failed"
    DUPLICATE_ORDER = "duplicate_order"
    UNREADABLE_ORDER = "unreadable_order"


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
    """One Shopify fulfilment and whether its tracking reached TikTok."""

    fulfillment_id: str
    company: str | None
    number: str | None
    sent_to_tiktok: bool = False
    shipping_provider: str | None = None


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
    cancel_request: CancelRequest | None = None
    fulfilments: tuple[Fulfilment, ...] = ()
    inventory_synced: bool = False
    in_flight: InFlight | None = None
    blocked: tuple[str, ...] = ()  # command kinds that failed for good, until the merchant retries
    flags: tuple[Flag, ...] = ()
    deadlines: dict[str, datetime] = field(default_factory=dict)
    release_not_before: datetime | None = None  # set when TikTok was not ready at release time
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

    def has_flag(self, code: FlagCode, kind: str = "") -> bool:
        return any(f.code is code and (not kind or f.kind == kind) for f in self.flags)
