"""Everything that can happen to an order mirror.

Observations come from TikTok and Shopify (webhooks or reconciliation, after a re-read),
merchant answers from the UI, deadlines from the clock, and outcomes from our own commands.
Outcomes carry the key of the command they answer, so a stale outcome is recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopbridge.domain.mirror import LineLink
from shopbridge.domain.tiktok_order import TikTokOrder


@dataclass(frozen=True)
class TikTokOrderObserved:
    order: TikTokOrder
    source: str = "webhook"  # webhook | reconcile | refresh


@dataclass(frozen=True)
class TikTokOrderUnreadable:
    """TikTok answered with this order in a shape shopbridge cannot read (an unknown status, a
    missing time, a field of the wrong type): the merchant must see it, the rest goes on."""

    reason: str


@dataclass(frozen=True)
class CancellationObserved:
    cancel_id: str
    status: str
    role: str
    update_time: datetime
    deadline: datetime | None = None
    cancel_type: str = ""


@dataclass(frozen=True)
class ShopifyFulfilmentObserved:
    fulfillment_id: str
    company: str | None
    number: str | None
    # (Shopify line item id, quantity) this fulfilment ships; empty when not known (whole order).
    lines: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ReturnObserved:
    """A TikTok return or refund after shipping, as read from Search Returns."""

    return_id: str
    status: str
    return_type: str
    unit_ids: tuple[str, ...]
    update_time: datetime
    role: str = ""


@dataclass(frozen=True)
class ShopifyCancellationObserved:
    """Shopify reports the order cancelled (our own cancel's echo, or a merchant in Shopify)."""

    reason: str | None = None


@dataclass(frozen=True)
class DeadlineReached:
    kind: str


@dataclass(frozen=True)
class MerchantApprovedCancellation:
    cancel_id: str
    user: str = ""


@dataclass(frozen=True)
class MerchantRejectedCancellation:
    cancel_id: str
    reason: str
    comment: str = ""
    user: str = ""


@dataclass(frozen=True)
class MerchantCancelledItems:
    """The merchant cancels these units on TikTok (out of stock); all of them: the order."""

    unit_ids: tuple[str, ...]
    user: str = ""


@dataclass(frozen=True)
class MerchantRestockedReturn:
    """The merchant puts a completed return's units back on sale in Shopify."""

    return_id: str
    user: str = ""


@dataclass(frozen=True)
class MerchantRetried:
    kind: str
    user: str = ""


# --- outcomes of our own commands ---


@dataclass(frozen=True)
class ShopifyOrderCreated:
    command_key: str
    shopify_order_id: str
    shopify_order_name: str
    hold_ids: tuple[str, ...]
    unknown_skus: tuple[str, ...] = ()
    already_existed: bool = False
    # Names of extra Shopify orders for this TikTok order that were found and cancelled.
    duplicates_cancelled: tuple[str, ...] = ()
    lines: tuple[LineLink, ...] = ()  # which Shopify line item mirrors which TikTok units
    held_on: tuple[str, ...] = ()  # the fulfilment order of each hold, parallel to hold_ids


@dataclass(frozen=True)
class ShopifyOrderReleased:
    command_key: str
    order: TikTokOrder  # as re-read from TikTok just before releasing


@dataclass(frozen=True)
class ReleaseRefused:
    command_key: str
    order: TikTokOrder  # as re-read from TikTok
    reason: str


@dataclass(frozen=True)
class ShopifyOrderCancelled:
    command_key: str


@dataclass(frozen=True)
class ShopifyCancelRefused:
    command_key: str
    reason: str
    fulfilled: bool = False


@dataclass(frozen=True)
class ShopifyUnitsRemoved:
    """Cancelled units taken off the Shopify order (order editing, restocked)."""

    command_key: str
    unit_ids: tuple[str, ...]
    skus: tuple[str, ...] = ()  # whose Shopify stock moved
    # (Shopify line item id, units) Shopify had already fulfilled, so they could not go.
    fulfilled: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TikTokItemsCancelled:
    """Our seller cancellation reached TikTok; the order as TikTok shows it afterwards."""

    command_key: str
    order: TikTokOrder


@dataclass(frozen=True)
class TrackingCorrected:
    command_key: str
    fulfillment_id: str
    number: str


@dataclass(frozen=True)
class ShopifyReturnRecorded:
    command_key: str
    return_id: str
    restocked: bool
    skus: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReturnRestocked:
    command_key: str
    return_id: str
    skus: tuple[str, ...] = ()


@dataclass(frozen=True)
class TikTokCancellationAnswered:
    command_key: str
    cancel_id: str
    decision: str  # approve | reject


@dataclass(frozen=True)
class TrackingSent:
    command_key: str
    fulfillment_id: str
    shipping_provider: str
    package_id: str | None = None
    number: str | None = None  # the tracking number TikTok now has
    # Units of the box TikTok had cancelled meanwhile: not shipped there.
    skipped_cancelled: tuple[str, ...] = ()


@dataclass(frozen=True)
class InventorySynced:
    command_key: str
    skus: tuple[str, ...]


@dataclass(frozen=True)
class TikTokOrderRefreshed:
    command_key: str
    order: TikTokOrder


@dataclass(frozen=True)
class ActionFailed:
    """A command failed for good (permanent error, or retries exhausted)."""

    command_key: str
    kind: str
    message: str
    code: str = ""  # e.g. "unsupported_carrier"


Event = (
    TikTokOrderObserved
    | TikTokOrderUnreadable
    | CancellationObserved
    | ShopifyFulfilmentObserved
    | ReturnObserved
    | ShopifyCancellationObserved
    | DeadlineReached
    | MerchantApprovedCancellation
    | MerchantRejectedCancellation
    | MerchantCancelledItems
    | MerchantRestockedReturn
    | MerchantRetried
    | ShopifyOrderCreated
    | ShopifyOrderReleased
    | ReleaseRefused
    | ShopifyOrderCancelled
    | ShopifyCancelRefused
    | TikTokCancellationAnswered
    | TrackingSent
    | TrackingCorrected
    | ShopifyUnitsRemoved
    | TikTokItemsCancelled
    | ShopifyReturnRecorded
    | ReturnRestocked
    | InventorySynced
    | TikTokOrderRefreshed
    | ActionFailed
)
