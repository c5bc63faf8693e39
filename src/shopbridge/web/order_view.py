"""How an order mirror reads to a merchant: status words, badges, a summary, items (one per
TikTok unit), shipments, returns, failed actions, and the timeline by step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.commands import action_words
from shopbridge.domain.mirror import (
    CANCEL_STATUS_WORDS,
    CANCELLED_BY_WORDS,
    RETURN_STATUS_WORDS,
    RETURN_TYPE_WORDS,
    CancelRequest,
    FlagCode,
    Fulfilment,
    OrderMirror,
    Phase,
    ReturnCase,
    tiktok_status_words,
)
from shopbridge.domain.money import Money
from shopbridge.domain.policy import MIN_UNPAID_WINDOW, Policy
from shopbridge.domain.tiktok_order import OrderLine, TikTokOrder, TikTokStatus, Unit
from shopbridge.store import ConnectionRecord, MirrorRow, TimelineEntry
from shopbridge.web.context import local_time
from shopbridge.web.order_story import Summary, summarise, upper_first, when
from shopbridge.web.order_timeline import Step, is_technical, timeline_steps

# TikTok's reject-cancellation reason keys (tiktok_shop_api.md §4.2, US list; other markets take
# the same keys, UK with a `_uk` suffix on seller cancel reasons only).
REJECT_REASONS = (
    ("seller_reject_apply_product_has_been_packed", "The parcel has already been packed"),
    (
        "order_manage_list_action_respond_popup_reject_reason_invalid_cancellation_reason",
        "The buyer's reason is not valid",
    ),
    ("order_manage_list_action_respond_popup_reject_reason_delivered", "Already delivered"),
    (
        "order_manage_list_action_respond_popup_reject_reason_buyer_agree",
        "The buyer agreed to keep the order",
    ),
)

# A unit's display_status mostly reads as the order's status would (TIKTOK_STATUS_WORDS); these
# two say something else of one unit: in a partly shipped order this unit is the one still
# waiting, and a completed order's unit was delivered.
_UNIT_STATUS_WORDS = {
    "PARTIALLY_SHIPPING": "awaiting shipment",
    "COMPLETED": "delivered, order completed",
}

# A request's outcome as the merchant who must answer it reads it.
_REQUEST_OUTCOMES = {
    **CANCEL_STATUS_WORDS,
    "CANCELLATION_REQUEST_PENDING": "waiting for your answer",
    "CANCELLATION_REQUEST_SUCCESS": "approved: the order is cancelled",
    "CANCELLATION_REQUEST_COMPLETE": "approved: the order is cancelled",
}

# A few words for each reason an order needs attention (the badge; the page says the rest).
_ATTENTION_WORDS = {
    FlagCode.UNKNOWN_SKU: "a SKU is missing in Shopify",
    FlagCode.UNSUPPORTED_CARRIER: "carrier not accepted by TikTok",
    FlagCode.CANCELLED_AFTER_FULFILMENT: "cancelled after fulfilment",
    FlagCode.FULFILLED_BEFORE_RELEASE: "fulfilled during the holdback",
    FlagCode.CANCELLED_IN_SHOPIFY_ONLY: "cancelled in Shopify only",
    FlagCode.DUPLICATE_ORDER: "duplicate Shopify order",
    FlagCode.UNREADABLE_ORDER: "TikTok order unreadable",
    FlagCode.SHIPPED_CANCELLED_UNITS: "cancelled items in a box",
    FlagCode.UNMATCHED_FULFILMENT: "a box matches no items",
}


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # info | ok | warn | danger | muted (a CSS class)
    title: str = ""


@dataclass(frozen=True)
class FailedAction:
    kind: str
    message: str

    @property
    def label(self) -> str:
        """What the action does, in words ("sending tracking to TikTok")."""
        return action_words(self.kind)

    @property
    def title(self) -> str:
        """The same, to start a sentence ("Sending tracking to TikTok")."""
        return upper_first(self.label)


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: str
    amount: str


@dataclass(frozen=True)
class Item:
    """One TikTok unit (line item) of the order, and where it stands on both platforms."""

    unit_id: str
    sku: str
    name: str
    tiktok: str  # the unit's TikTok status in words
    shopify: str  # whether the Shopify order still holds it, in words
    cancelled: bool
    cancellable: bool  # live and not shipped: the seller may still cancel it on TikTok


@dataclass(frozen=True)
class ItemGroup:
    """All units of one SKU: the line's quantity and amount, then each unit."""

    line: Line
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Shipment:
    """One Shopify fulfilment (one box) and what TikTok knows of it."""

    name: str
    company: str | None
    number: str | None
    sent_to_tiktok: bool
    shipping_provider: str | None
    items: str  # "2 × TEE-RED-L, 1 × MUG" or "the whole order"
    package_id: str | None
    correction: str  # "" | "correction pending: ..." | "tracking corrected on TikTok"


@dataclass(frozen=True)
class ReturnView:
    return_id: str
    kind: str
    status: str
    items: str
    recorded: str
    restock: str  # why there is no Restock button, or what Restock does
    restockable: bool


@dataclass(frozen=True)
class OrderView:
    row: MirrorRow
    mirror: OrderMirror | None
    timezone: str
    shopify_domain: str | None
    region: str = "US"
    unpaid_window: timedelta = MIN_UNPAID_WINDOW

    @property
    def order_id(self) -> str:
        return self.row.tiktok_order_id

    @property
    def cancelled(self) -> bool:
        return self.row.phase == Phase.CANCELLED.value or self.row.tiktok_status == "CANCELLED"

    @property
    def tiktok_status(self) -> str:
        """The order's TikTok status in words."""
        return tiktok_status_words(self.row.tiktok_status)

    @property
    def request(self) -> CancelRequest | None:
        """The buyer's cancellation request, if this order had one. TikTok also keeps a record
        when it (or the buyer in the first hour, or the seller) cancels outright; that record
        never waited for an answer, so it is the order's cancellation, not a request."""
        request = None if self.mirror is None else self.mirror.cancel_request
        if request is None or request.role.upper() not in ("BUYER", ""):
            return None
        was_asked = request.is_pending or request.deadline is not None
        answered = request.decision is not None or request.status in (
            "REJECTED",
            "CANCELLATION_REQUEST_CANCELLED",
        )
        return request if was_asked or answered else None

    @property
    def pending_request(self) -> CancelRequest | None:
        request = self.request
        return request if request is not None and request.is_pending else None

    @property
    def status(self) -> str:
        """One or two words for where the order stands, as the merchant would say it."""
        phase = self.row.phase
        if self.cancelled:
            return "Canceled"
        if self.pending_request is not None:
            return "Cancellation requested"
        if phase == Phase.FULFILLED.value:
            return "Fulfilled"
        if phase == Phase.RELEASED.value:
            return "Ready to fulfil"
        if self.row.tiktok_status in (None, TikTokStatus.UNPAID.value):
            return "Awaiting payment"
        if self.row.holdback_ends_at is not None:
            return "Paid, in holdback"
        return "Reserving stock"

    @property
    def badges(self) -> list[Badge]:
        """What holds the order, always named: its holdback, a cancellation request, or why it
        needs attention; else where it stands."""
        found = [self._stage_badge()]
        if self.row.needs_attention:
            reasons = self.attention_reasons
            label = "Needs attention"
            if reasons:
                more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
                label = f"Needs attention: {reasons[0]}{more}"
            found.append(Badge(label, "danger", self.attention))
        return [b for b in found if b is not None]

    def _stage_badge(self) -> Badge | None:
        tz = self.timezone
        request = self.pending_request
        if self.cancelled:
            return Badge("Canceled", "muted")
        if request is not None and request.decision == "approve":
            return Badge("Cancelling: you approved the request", "warn")
        if request is not None and request.decision == "reject":
            return Badge("Rejecting the cancellation request", "warn")
        if request is not None:
            deadline = request.deadline or self.row.cancel_request_deadline
            until = f" until {when(deadline, tz, request.update_time)}" if deadline else ""
            return Badge(
                f"Cancellation request{until}",
                "warn",
                "The buyer asked to cancel: answer it here, or TikTok decides by then",
            )
        if self.row.phase == Phase.FULFILLED.value:
            tracking = ", ".join(self.tracking)
            return Badge(f"Fulfilled · {tracking}" if tracking else "Fulfilled", "ok")
        if self.row.phase == Phase.RELEASED.value:
            return Badge("Ready to fulfil", "ok")
        ends, paid = self.row.holdback_ends_at, self.row.paid_at
        recheck = None if self.mirror is None else self.mirror.release_not_before
        if recheck is not None and paid is not None:
            return Badge(
                f"On hold until {when(recheck, tz, paid)}",
                "info",
                "TikTok was not ready when the holdback ended; shopbridge checks again then",
            )
        if ends is not None and paid is not None:
            return Badge(
                f"In holdback until {local_time(ends, tz, '%H:%M')}",
                "info",
                f"Released at {local_time(ends, tz)} ({tz}) if TikTok still says it is live",
            )
        return None

    @property
    def attention_reasons(self) -> list[str]:
        """Why the order needs attention, a few words each (the badge)."""
        reasons: list[str] = []
        for flag in self.mirror.flags if self.mirror else ():
            if flag.code is FlagCode.ACTION_FAILED and flag.kind:
                reasons.append(f"{action_words(flag.kind)} failed")
            else:
                reasons.append(_ATTENTION_WORDS.get(flag.code, "see the order"))
        flagged = {flag.kind for flag in self.mirror.flags} if self.mirror else set()
        for kind in self.mirror.blocked if self.mirror else ():
            if kind not in flagged:  # a flag about the action says more (an unknown carrier)
                reasons.append(f"{action_words(kind)} failed")
        if self.stuck:
            reasons.append("work on it kept failing")
        return list(dict.fromkeys(reasons))

    @property
    def summary(self) -> Summary:
        """The order's story in plain words, from the mirror's facts (not from the timeline)."""
        return summarise(self)

    def timeline_steps(self, timeline: Iterable[TimelineEntry]) -> list[Step]:
        """The timeline grouped by step, repeated and ignored updates left out."""
        return timeline_steps(list(timeline))

    @staticmethod
    def set_aside(entry: TimelineEntry) -> bool:
        """A timeline line only the technical details show (a set-aside update, a retry)."""
        return is_technical(entry)

    @property
    def detail_badges(self) -> list[Badge]:
        """The badges less the one that repeats the status words (the detail shows both)."""
        return [b for b in self.badges if b.label != self.status]

    @property
    def other_flags(self) -> list[str]:
        """Flag messages not already shown beside a Retry button."""
        if self.mirror is None:
            return []
        retried = {a.kind: a.message for a in self.failed_actions}
        return [f.message for f in self.mirror.flags if retried.get(f.kind) != f.message]

    @property
    def stuck(self) -> str | None:
        """Work about this order that failed outside its decisions, waiting for a Retry."""
        return self.row.stuck_reason

    @property
    def attention(self) -> str:
        reasons = [f.message for f in self.mirror.flags] if self.mirror else []
        reasons += [f"{a.title} failed: {a.message}" for a in self.failed_actions if a.message]
        reasons += [self.stuck] if self.stuck else []
        return "; ".join(dict.fromkeys(reasons)) or (self.row.attention_reason or "")

    @property
    def tracking(self) -> list[str]:
        if self.mirror is None:
            return []
        return [
            " ".join(part for part in (f.company, f.number) if part)
            for f in self.mirror.fulfilments
            if f.company or f.number
        ]

    @property
    def shopify_admin_url(self) -> str | None:
        order_id = self.row.shopify_order_id
        if not order_id or not self.shopify_domain:
            return None
        # Shopify's ids are GIDs (gid://shopify/Order/123); the admin URL takes the number.
        return f"https://{self.shopify_domain}/admin/orders/{order_id.rsplit('/', 1)[-1]}"

    @property
    def lines(self) -> list[Line]:
        order = None if self.mirror is None else self.mirror.tiktok
        if order is None:
            return []
        return [
            Line(
                line.seller_sku,
                product_name(line),
                line.quantity,
                money(line.unit_price),
                money(Money(line.unit_price.amount * line.quantity, line.unit_price.currency)),
            )
            for line in order.lines
        ]

    @property
    def item_groups(self) -> list[ItemGroup]:
        """The lines, each with its units one by one (TikTok has one line item per unit)."""
        m = self.mirror
        order = None if m is None else m.tiktok
        if m is None or order is None:
            return []
        by_id = {u.line_item_id: u for u in order.units}
        cancellable = m.cancellable_units()
        gone = order.cancelled_unit_ids
        names = _fulfilment_names(m)
        groups = []
        for line, summary in zip(order.lines, self.lines, strict=True):
            units = [by_id[i] for i in line.unit_ids if i in by_id]
            items = tuple(
                Item(
                    u.line_item_id,
                    u.seller_sku,
                    product_name(line),
                    _tiktok_words(u, order, m),
                    _shopify_words(u, m, names),
                    u.line_item_id in gone,
                    u.line_item_id in cancellable,
                )
                for u in units
            )
            groups.append(ItemGroup(summary, items))
        return groups

    @property
    def cancelling(self) -> int:
        """How many units the merchant asked TikTok to cancel (still on their way)."""
        return 0 if self.mirror is None else len(self.mirror.cancel_units)

    @property
    def cancels_single_items(self) -> bool:
        """TikTok lets sellers cancel single items in this shop's market (else: whole order)."""
        return Policy(region=self.region).cancels_items

    @property
    def cancellable_items(self) -> list[Item]:
        """Units the seller may still cancel on TikTok (out of stock); empty: no form."""
        return [i for group in self.item_groups for i in group.items if i.cancellable]

    def shipments(self, timeline: Iterable[TimelineEntry] = ()) -> list[Shipment]:
        """The order's Shopify fulfilments; `timeline` tells which tracking TikTok corrected."""
        m = self.mirror
        if m is None:
            return []
        corrected = {
            str((entry.detail or {}).get("fulfillment_id"))
            for entry in timeline
            if (entry.detail or {}).get("type") == "TrackingCorrected"
        }
        names = _fulfilment_names(m)
        units = () if m.tiktok is None else m.tiktok.units
        return [
            Shipment(
                names[f.fulfillment_id],
                f.company,
                f.number,
                f.sent_to_tiktok,
                f.shipping_provider,
                _count_skus(units, f.unit_ids) if f.unit_ids else "the whole order",
                f.package_id if f.sent_to_tiktok else None,
                _correction_words(f, f.fulfillment_id in corrected),
            )
            for f in m.fulfilments
        ]

    @property
    def returns(self) -> list[ReturnView]:
        m = self.mirror
        if m is None:
            return []
        units = () if m.tiktok is None else m.tiktok.units
        return [
            ReturnView(
                case.return_id,
                RETURN_TYPE_WORDS.get(case.return_type, case.return_type.capitalize() or "Return"),
                RETURN_STATUS_WORDS.get(case.status, case.status.replace("_", " ").lower()),
                _count_skus(units, case.unit_ids),
                _recorded_words(case),
                _restock_words(case),
                _restockable(case),
            )
            for case in m.returns
        ]

    @property
    def total(self) -> str:
        order = None if self.mirror is None else self.mirror.tiktok
        return "—" if order is None or order.total is None else money(order.total)

    @property
    def failed_actions(self) -> list[FailedAction]:
        """Actions that failed for good and wait for the merchant's Retry, one per kind."""
        if self.mirror is None:
            return []
        messages: dict[str, str] = dict.fromkeys(self.mirror.blocked, "")
        for flag in self.mirror.flags:
            retryable = flag.code in (FlagCode.ACTION_FAILED, FlagCode.UNSUPPORTED_CARRIER)
            if flag.kind and retryable:
                messages[flag.kind] = messages.get(flag.kind) or flag.message
        return [FailedAction(kind, message) for kind, message in messages.items()]

    @property
    def cancel_request(self) -> dict[str, Any] | None:
        """The buyer's request and how it stands, for the card at the top of the page."""
        request = self.request
        if request is None:
            return None
        if request.decision == "approve" and request.is_pending:
            outcome = "you approved: cancelling in Shopify, then approving on TikTok"
        elif request.decision == "reject" and request.is_pending:
            outcome = "you rejected: sending the rejection to TikTok"
        else:
            outcome = _REQUEST_OUTCOMES.get(request.status, request.status.lower())
        return {
            "cancel_id": request.cancel_id,
            "role": request.role.lower(),
            "deadline": request.deadline,
            "answer_by": when(request.deadline, self.timezone, request.update_time)
            if request.deadline
            else None,
            "outcome": outcome,
            "answerable": request.is_pending and request.decision is None,
            "reject_reason": request.reject_reason,
        }


def order_view(row: MirrorRow, connection: ConnectionRecord) -> OrderView:
    mirror = None if row.state is None else decode_mirror(dict(row.state))
    region = connection.tiktok_region or "US"
    unpaid_window = max(timedelta(minutes=connection.unpaid_window_minutes), MIN_UNPAID_WINDOW)
    return OrderView(
        row, mirror, connection.timezone, connection.shopify_domain, region, unpaid_window
    )


def _fulfilment_names(m: OrderMirror) -> dict[str, str]:
    """Shopify names an order's fulfilments after it, in order: #1001.1, #1001.2, ..."""
    base = m.shopify_order_name or "#?"
    return {f.fulfillment_id: f"{base}.{n}" for n, f in enumerate(m.fulfilments, start=1)}


def _box_of(m: OrderMirror, unit_id: str, names: dict[str, str]) -> str | None:
    whole: str | None = None
    for f in m.fulfilments:
        if unit_id in f.unit_ids:
            return names[f.fulfillment_id]
        if not f.unit_ids and whole is None:
            whole = names[f.fulfillment_id]
    held = unit_id in m.mirrored_units or not m.lines
    return whole if held and unit_id not in m.removed_units else None


def _tiktok_words(unit: Unit, order: TikTokOrder, m: OrderMirror) -> str:
    if unit.line_item_id in order.cancelled_unit_ids:
        by = (unit.cancel_user or order.cancellation_initiator or "").upper()
        words = (
            f"cancelled by {CANCELLED_BY_WORDS[by]}" if by in CANCELLED_BY_WORDS else "cancelled"
        )
    elif unit.shipped:
        state = unit_status_words(unit.status)
        words = f"shipped in package {unit.package_id} ({state})" if unit.package_id else state
    else:
        words = unit_status_words(unit.status or order.status.value)
        if unit.package_id:
            words += f", packed in package {unit.package_id}"
    if unit.line_item_id in m.cancel_units:
        words += "; cancelling on TikTok…"
    returned = [r.return_id for r in m.returns if unit.line_item_id in r.unit_ids]
    if returned:
        words += f"; in return {', '.join(returned)}"
    return words


def product_name(line: OrderLine) -> str:
    """The product as TikTok names it on the order line (what the buyer bought); the mirror
    keeps no Shopify titles, so a line TikTok sent without a name shows its SKU."""
    return line.product_name.strip() or line.seller_sku


def unit_status_words(status: str) -> str:
    """A unit's TikTok display_status in words (tiktok_shop_api.md §3.2)."""
    return _UNIT_STATUS_WORDS.get(status.upper()) or tiktok_status_words(status)


def _shopify_words(unit: Unit, m: OrderMirror, names: dict[str, str]) -> str:
    if m.shopify_order_id is None:
        return "not in Shopify yet"
    order = m.shopify_order_name or "the Shopify order"
    uid = unit.line_item_id
    refunded = [r for r in m.returns if uid in r.unit_ids and r.recorded]
    if refunded:
        back = "restocked" if refunded[0].restocked else "not restocked"
        return f"refunded in Shopify order {order} ({back})"
    if uid in m.removed_units:
        return "removed from Shopify (restocked)"
    box = _box_of(m, uid, names)
    if box is not None:
        return f"in Shopify fulfilment {box}"
    if m.lines and uid not in m.mirrored_units:
        return f"not in Shopify order {order}"
    if m.phase is Phase.CANCELLED:
        return f"Shopify order {order} cancelled (restocked)"
    if uid in m.units_to_remove():
        return f"in Shopify order {order}; being removed (restock)"
    return f"in Shopify order {order}"


def _count_skus(units: Sequence[Unit], unit_ids: Sequence[str]) -> str:
    by_id = {u.line_item_id: u.seller_sku for u in units}
    counts: dict[str, int] = {}
    for unit_id in unit_ids:
        sku = by_id.get(unit_id, unit_id)
        counts[sku] = counts.get(sku, 0) + 1
    return ", ".join(f"{n} × {sku}" for sku, n in sorted(counts.items())) or "no items"


def _correction_words(f: Fulfilment, corrected: bool) -> str:
    if f.needs_correction:
        return f"correction pending: TikTok still has {f.sent_number}"
    return "tracking corrected on TikTok" if corrected else ""


def _recorded_words(case: ReturnCase) -> str:
    if case.recorded:
        return "recorded in Shopify as a refund"
    if case.completed:
        return "being recorded in Shopify"
    return "not in Shopify yet: recorded once TikTok refunds the buyer"


def _restockable(case: ReturnCase) -> bool:
    return (
        case.completed
        and case.goods_back
        and case.recorded
        and not case.restocked
        and not case.restock_wanted
    )


def _restock_words(case: ReturnCase) -> str:
    if case.restocked and case.restock_wanted:
        return "restocked (you pressed Restock)"
    if case.restocked:
        return "restocked automatically"
    if case.restock_wanted:
        return "restocking in Shopify…"
    if case.return_type == "REFUND":
        return "refund only: nothing came back"
    if not case.goods_back:
        return "replacement: nothing to restock"
    if case.status.endswith(("_CANCEL", "_REJECT")):
        return "nothing to restock: the return did not go ahead"
    if not case.completed:
        return "restock once TikTok has refunded the buyer"
    if not case.recorded:
        return "restock once the refund is recorded in Shopify"
    return "not restocked: check the goods, then Restock puts them back on sale in Shopify"


def money(value: Money) -> str:
    return f"{value.amount:,.2f} {value.currency}"
