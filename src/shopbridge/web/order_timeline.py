"""An order's timeline by step ("Reserved in Shopify", "Paid", "Shipped", "Cancelled"…), for the
merchant: what shopbridge heard and did, in the words of its decisions, without the updates it
set aside (repeats, older snapshots, outcomes of superseded commands) or retry notices. The full
log stays on the page behind "Show technical details".

Each event or outcome on the timeline is followed by the notes of the decision it caused (the
bridge writes them together); a step is one or more of those in a row that belong to the same
part of the order's life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_event
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus
from shopbridge.store import TimelineEntry

# Timeline kinds that start a new happening: what arrived, or how one of our actions went.
_HEADS = ("event", "result")
# Notes of the domain (transition.py) that change nothing for the merchant: an update set aside
# ("Ignored a repeated or older TikTok update", "Ignored a stale outcome …") or a deadline that
# woke the order up with nothing to do. transition.py starts each such note with these words.
TECHNICAL_NOTE_STARTS = ("Ignored ", "Woke up for the ")

_STEP_OF_STATUS = {
    TikTokStatus.UNPAID: "Ordered on TikTok",
    TikTokStatus.ON_HOLD: "Paid",
    TikTokStatus.AWAITING_SHIPMENT: "Paid",
    TikTokStatus.PARTIALLY_SHIPPING: "Shipped",
    TikTokStatus.AWAITING_COLLECTION: "Shipped",
    TikTokStatus.IN_TRANSIT: "Shipped",
    TikTokStatus.DELIVERED: "Delivered",
    TikTokStatus.COMPLETED: "Delivered",
    TikTokStatus.CANCELLED: "Cancelled",
}
_STEP_OF_EVENT: dict[type, str] = {
    ev.ShopifyOrderCreated: "Reserved in Shopify",
    ev.ShopifyOrderReleased: "Released in Shopify",
    ev.ReleaseRefused: "Release put off",
    ev.ShopifyOrderCancelled: "Cancelled",
    ev.ShopifyCancellationObserved: "Cancelled",
    ev.InventorySynced: "Cancelled",
    ev.ShopifyCancelRefused: "Shopify refused to cancel",
    ev.MerchantApprovedCancellation: "Cancellation request approved",
    ev.MerchantRejectedCancellation: "Cancellation request rejected",
    ev.ShopifyFulfilmentObserved: "Shipped",
    ev.TrackingSent: "Shipped",
    ev.TrackingCorrected: "Shipped",
    ev.MerchantCancelledItems: "Items cancelled",
    ev.ShopifyUnitsRemoved: "Items cancelled",
    ev.TikTokItemsCancelled: "Items cancelled",
    ev.ReturnObserved: "Returned",
    ev.ShopifyReturnRecorded: "Returned",
    ev.ReturnRestocked: "Returned",
    ev.MerchantRestockedReturn: "Returned",
    ev.ActionFailed: "Needs attention",
    ev.TikTokOrderUnreadable: "Needs attention",
    ev.MerchantRetried: "Retried",
}
_STEP_OF_DEADLINE = {
    "holdback": "Holdback over",
    "unpaid": "Unpaid window over",
    "cancel_request": "Answer deadline passed",
}
_STEP_OF_REQUEST = {
    "CANCELLATION_REQUEST_PENDING": "Cancellation requested",
    "REJECTED": "Cancellation request rejected",
    "CANCELLATION_REQUEST_CANCELLED": "Cancellation request withdrawn",
    "CANCELLATION_REQUEST_CANCEL": "Cancellation request withdrawn",
}


@dataclass(frozen=True)
class Step:
    title: str
    at: datetime  # when the step began
    lines: tuple[str, ...]  # what shopbridge heard and did, in its decisions' words


@dataclass
class _Happening:
    head: TimelineEntry | None
    notes: list[TimelineEntry] = field(default_factory=list)


def timeline_steps(entries: Sequence[TimelineEntry]) -> list[Step]:
    """The timeline grouped by step, oldest first; set-aside updates and retries left out."""
    steps: list[Step] = []
    latest: TikTokOrder | None = None  # the newest TikTok snapshot heard so far
    for happening in _happenings(entries):
        title, latest = _title(happening, latest)
        lines = tuple(n.summary for n in happening.notes if not is_technical_note(n.summary))
        if title is None or not lines:
            continue
        at = happening.head.at if happening.head is not None else happening.notes[0].at
        if steps and steps[-1].title == title:
            last = steps[-1]
            steps[-1] = Step(title, last.at, tuple(dict.fromkeys(last.lines + lines)))
        else:
            steps.append(Step(title, at, lines))
    return steps


def is_technical_note(summary: str) -> bool:
    return summary.startswith(TECHNICAL_NOTE_STARTS)


def is_technical(entry: TimelineEntry) -> bool:
    """A line the default view leaves out: a set-aside update, or a retry notice."""
    return entry.kind == "action" or is_technical_note(entry.summary)


def _happenings(entries: Sequence[TimelineEntry]) -> list[_Happening]:
    """Each event or outcome with the notes written after it; a flag stands on its own (written
    by the worker, outside any decision); retry notices ("action") are left out."""
    found: list[_Happening] = []
    for entry in entries:
        if entry.kind in _HEADS or entry.kind == "flag":
            found.append(_Happening(entry, [entry] if entry.kind == "flag" else []))
        elif entry.kind in ("decision", "note"):
            if not found:
                found.append(_Happening(None))
            found[-1].notes.append(entry)
    return found


def _title(
    happening: _Happening, latest: TikTokOrder | None
) -> tuple[str | None, TikTokOrder | None]:
    """The step a happening belongs to, and the newest TikTok snapshot after it."""
    head = happening.head
    if head is None:
        return "Noted", latest
    if head.kind == "flag":
        return "Needs attention", latest
    try:
        event = decode_event(dict(head.detail or {}))
    except (KeyError, TypeError, ValueError):
        return (
            "Update",
            latest,
        )  # written by an older shopbridge: keep its notes under a plain title
    order = getattr(event, "order", None)
    newest = latest
    if isinstance(order, TikTokOrder) and order.is_newer_than(latest):
        newest = order
    match event:
        case ev.TikTokOrderObserved() | ev.TikTokOrderRefreshed():
            assert isinstance(order, TikTokOrder)
            if latest is None or latest.status is not order.status:
                title = _STEP_OF_STATUS[order.status]
                paid_again = latest is not None and latest.status is not TikTokStatus.UNPAID
                if title == "Paid" and paid_again:
                    title = "Holdback over on TikTok"  # ON_HOLD to AWAITING_SHIPMENT
                return title, newest
            if len(order.cancelled_unit_ids) > len(latest.cancelled_unit_ids):
                return "Items cancelled", newest
            return "Changed on TikTok", newest
        case ev.DeadlineReached(kind=kind):
            return _STEP_OF_DEADLINE.get(kind, "Deadline"), newest
        case ev.CancellationObserved(status=status):
            return _STEP_OF_REQUEST.get(status, "Cancelled"), newest
        case ev.TikTokCancellationAnswered(decision=decision):
            if decision == "approve":
                return "Cancelled", newest
            return "Cancellation request rejected", newest
    return _STEP_OF_EVENT.get(type(event), "Update"), newest
