"""An order's story in plain words, for the top of its page: "Paid 12:07, held until 13:07, then
the buyer asked to cancel; you approved; cancelled in Shopify and TikTok, stock returned."

Built from the mirror's facts (phase, TikTok's snapshot, the request, boxes, returns, flags), never
from the timeline's text, so it says where the order stands even when webhooks came late, twice
or out of order. Times are in the connection's timezone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shopbridge.domain.commands import ShipOnTikTok
from shopbridge.domain.mirror import (
    CANCELLED_BY_WORDS,
    CancelRequest,
    FlagCode,
    OrderMirror,
    Phase,
    tiktok_status_words,
)
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus, Unit
from shopbridge.domain.transition import _cancel_reason
from shopbridge.web.context import zone

if TYPE_CHECKING:
    from shopbridge.web.order_view import OrderView

_SHIPPED = frozenset(
    {
        TikTokStatus.AWAITING_COLLECTION,
        TikTokStatus.IN_TRANSIT,
        TikTokStatus.DELIVERED,
        TikTokStatus.COMPLETED,
    }
)


# A request that ended in the order's cancellation (by the merchant or by TikTok's deadline).
_APPROVED = ("CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE")


@dataclass(frozen=True)
class Summary:
    story: str  # the order's path, one sentence
    details: tuple[str, ...] = ()  # items cancelled on their own, returns: a sentence each
    todo: tuple[str, ...] = ()  # what the merchant must do, a sentence each


def summarise(view: OrderView) -> Summary:
    m, t = view.mirror, None if view.mirror is None else view.mirror.tiktok
    if m is None or t is None:
        return Summary("Heard of this order from TikTok; reading it now.")
    row = view.row
    first = row.paid_at or t.create_time
    clock = _Clock(view.timezone, first)
    cancelled = view.cancelled or m.tiktok_cancelled
    opening = [_payment(t, row.paid_at, clock)]
    opening += _holding(view, m, t, clock, cancelled)
    clauses = [", ".join(part for part in opening if part)]
    clauses += _request(view.request, m.phase, clock)
    clauses += _cancellation(view, m, t, row.holdback_ends_at) if cancelled else []
    clauses += _shipping(m, t)
    story = "; ".join(clause for clause in clauses if clause)
    details = [*_items(m, t), *_returns(view)]
    return Summary(_sentence(story), tuple(details), tuple(_todo(view)))


def when(at: datetime, timezone: str, reference: datetime | None = None) -> str:
    """A time as the merchant reads it: "14:07" on the same local day as `reference`, else
    with its day ("3 Nov 14:07")."""
    local = at.astimezone(zone(timezone))
    if reference is not None and reference.astimezone(zone(timezone)).date() == local.date():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b %H:%M}"


class _Clock:
    """Times of one order: those on the day it was paid (or ordered) as "13:07", others with
    their day."""

    def __init__(self, timezone: str, reference: datetime) -> None:
        self.timezone, self.reference = timezone, reference

    def __call__(self, at: datetime) -> str:
        return when(at, self.timezone, self.reference)


def _payment(t: TikTokOrder, paid_at: datetime | None, clock: _Clock) -> str:
    if paid_at is not None:
        return f"Paid {clock(paid_at)}"
    if t.status is TikTokStatus.CANCELLED:
        return f"Ordered {clock(t.create_time)}, never paid"
    return f"Ordered {clock(t.create_time)}, awaiting payment"


def _holding(
    view: OrderView, m: OrderMirror, t: TikTokOrder, clock: _Clock, cancelled: bool
) -> list[str]:
    """How the Shopify order was held and released, as far as it got."""
    ends = view.row.holdback_ends_at
    held = f"held until {clock(ends)}" if ends is not None else "held"
    if cancelled:
        # Cancelled after the holdback: say it was held that long; inside it, the cause says so.
        late = ends is not None and t.status is TikTokStatus.CANCELLED and t.update_time >= ends
        return [held] if late or (view.request is not None and ends is not None) else []
    if view.row.paid_at is None:
        if m.shopify_order_id is None:
            return ["reserving the stock in Shopify"]
        by = clock(t.create_time + view.unpaid_window)
        return [
            "the stock is reserved in Shopify (payment pending, on hold); "
            f"TikTok cancels it if it is not paid by {by}"
        ]
    if m.phase is Phase.NEW or m.shopify_order_id is None:
        return ["reserving the stock in Shopify"]
    if m.phase is Phase.HELD:
        if view.pending_request is not None:
            return ["on hold in Shopify"]
        if m.release_not_before is not None:
            again = clock(m.release_not_before)
            return [f"{held}; TikTok was not ready then, so shopbridge checks again at {again}"]
        return [
            f"in holdback until {clock(ends)}: on hold in Shopify while the buyer can still "
            "cancel freely"
            if ends is not None
            else "on hold in Shopify"
        ]
    if m.phase is Phase.RELEASED and view.request is not None:
        return [f"{held} and released"]
    if m.phase is Phase.RELEASED:
        return [f"{held}, then released in Shopify: marked paid, ready to fulfil"]
    if m.has_flag(FlagCode.FULFILLED_BEFORE_RELEASE):
        return ["fulfilled in Shopify before the holdback ended"]
    return [f"{held}, then released"]


def _request(request: CancelRequest | None, phase: Phase, clock: _Clock) -> list[str]:
    if request is None:
        return []
    asked = "then the buyer asked to cancel"
    if request.is_pending and request.decision == "approve":
        if phase is Phase.CANCELLED:  # the rest is the cancellation's (_cancellation)
            return [asked, "you approved"]
        return [asked, "you approved: cancelling in Shopify first, then approving on TikTok"]
    if request.is_pending and request.decision == "reject":
        return [asked, "you rejected it: sending the rejection to TikTok"]
    if request.is_pending:
        by = f"answer by {clock(request.deadline)}, or" if request.deadline else "answer it, or"
        return [f"{asked}: {by} TikTok decides"]
    if request.status == "REJECTED":
        return [asked, "you rejected it" if request.decision else "the request was rejected"]
    if request.status == "CANCELLATION_REQUEST_CANCELLED":
        return [f"{asked}, then withdrew the request"]
    if request.decision == "approve":
        return [asked, "you approved"]
    return [asked, "TikTok approved the request"]


def _cancellation(
    view: OrderView, m: OrderMirror, t: TikTokOrder, holdback_ends_at: datetime | None
) -> list[str]:
    """Who cancelled (unless the request already says so), and how far Shopify and the stock
    followed."""
    request = view.request
    explained = request is not None and (
        request.decision == "approve" or request.status in _APPROVED
    )
    if not m.tiktok_cancelled and not explained:
        if m.phase is Phase.CANCELLED:
            return ["cancelled in Shopify only: TikTok still has the order live"]
        return []
    clauses = [] if explained else [_cause(t, holdback_ends_at)]
    if m.phase is Phase.CANCELLED and m.shopify_order_id is None:
        clauses.append("nothing was created in Shopify")
    elif m.phase is Phase.CANCELLED and not m.tiktok_cancelled:
        on_tiktok = (
            "approved on TikTok"
            if request and request.answered_on_tiktok
            else "now approving on TikTok"
        )
        clauses.append(f"cancelled in Shopify with restock, {on_tiktok}")
    elif m.phase is Phase.CANCELLED:
        stock = "stock returned" if m.inventory_synced else "stock back in Shopify, TikTok's next"
        clauses.append(f"cancelled in Shopify and TikTok, {stock}")
    elif m.phase is Phase.FULFILLED:
        tracking = ", ".join(" ".join(p for p in (f.company, f.number) if p) for f in m.fulfilments)
        clauses.append(
            "but it was already fulfilled in Shopify" + (f" ({tracking})" if tracking else "")
        )
    else:
        clauses.append("cancelling in Shopify now, with restock")
    return clauses


def _cause(t: TikTokOrder, holdback_ends_at: datetime | None) -> str:
    """Who cancelled on TikTok and why, as a merchant would say it. It reads the cancel as the
    domain does for the Shopify cancel reason, so the page and the Shopify order never disagree
    on whether it was fraud or non-payment."""
    code, _ = _cancel_reason(t, merchant_approved=False)
    during = ""
    if (
        holdback_ends_at is not None
        and t.paid_time is not None
        and t.update_time < holdback_ends_at
    ):
        during = " during the holdback"
    if code == "DECLINED":
        return "TikTok cancelled it: not paid in time"
    if code == "FRAUD":
        return f"TikTok cancelled it as suspected fraud{during}"
    if code == "CUSTOMER":
        return f"the buyer cancelled it{during}"
    if code == "INVENTORY":
        return "the seller cancelled it on TikTok: out of stock"
    if code == "STAFF":
        return "the seller cancelled it in TikTok Shop"
    reason = (t.cancel_reason or "").replace("_", " ").strip()
    return "TikTok cancelled it" + (f" ({reason})" if reason else "")


def _shipping(m: OrderMirror, t: TikTokOrder) -> list[str]:
    boxes = m.fulfilments
    if not boxes or m.tiktok_cancelled:  # a cancel after fulfilment says it (_cancellation)
        return []
    sent = sum(1 for f in boxes if f.sent_to_tiktok)
    if len(boxes) == 1:
        box = boxes[0]
        tracking = " ".join(p for p in (box.company, box.number) if p) or "no tracking"
        done = f"fulfilled in Shopify ({tracking})"
        if box.sent_to_tiktok:
            clause = f"{done} and shipped on TikTok"
        elif ShipOnTikTok.kind in m.blocked:
            clause = f"{done}; TikTok has not taken the tracking yet"
        else:
            clause = f"{done}; sending the tracking to TikTok"
    else:
        clause = f"fulfilled in Shopify in {len(boxes)} boxes, {sent} of them shipped on TikTok"
    if t.status in _SHIPPED:
        clause += f", now {tiktok_status_words(t.status)} on TikTok"
    return [clause]


def _items(m: OrderMirror, t: TikTokOrder) -> list[str]:
    """Items cancelled on their own while the rest of the order goes on."""
    sentences: list[str] = []
    if not m.tiktok_cancelled:
        gone = [u for u in t.units if u.cancelled]
        by_whom: dict[str, list[Unit]] = {}
        for unit in gone:
            by_whom.setdefault((unit.cancel_user or "").upper(), []).append(unit)
        removed, removing = set(m.removed_units), set(m.units_to_remove())
        for who, units in by_whom.items():
            ids = [u.line_item_id for u in units]
            cause = {"SELLER": " (out of stock)"}.get(who, "")
            by = CANCELLED_BY_WORDS.get(who, "TikTok")
            sentence = f"{_skus(units)} cancelled on TikTok by {by}{cause}"
            if all(i in removed for i in ids):
                sentence += ", taken off the Shopify order, stock returned"
            elif any(i in removing for i in ids):
                sentence += ", being taken off the Shopify order (restock)"
            sentences.append(_sentence(sentence))
    if m.cancel_units:
        asked = [u for u in t.units if u.line_item_id in m.cancel_units]
        sentences.append(
            _sentence(f"You asked TikTok to cancel {_skus(asked)}: Shopify follows once it has")
        )
    return sentences


def _returns(view: OrderView) -> list[str]:
    return [
        _sentence(f"{r.kind} {r.return_id} of {r.items}: {r.status}; {r.recorded}; {r.restock}")
        for r in view.returns
    ]


def _todo(view: OrderView) -> list[str]:
    """What the merchant must do: each flag says it; failed actions wait for Retry."""
    todo = [_sentence(message) for message in view.other_flags]
    for action in view.failed_actions:
        why = f": {action.message.rstrip('.')}" if action.message else ""
        todo.append(f"{action.title} failed{why}. Fix the cause, then press Retry.")
    if view.stuck:
        todo.append(_sentence(view.stuck))
    return list(dict.fromkeys(todo))


def _skus(units: Iterable[Unit]) -> str:
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit.seller_sku] = counts.get(unit.seller_sku, 0) + 1
    return ", ".join(f"{n} × {sku}" for sku, n in sorted(counts.items()))


def _sentence(text: str) -> str:
    text = upper_first(text.strip())
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def upper_first(text: str) -> str:
    """The text with its first letter in capitals, the rest as it is ("TikTok" stays)."""
    return text[:1].upper() + text[1:]
