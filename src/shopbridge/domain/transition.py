"""The order-mirror state machine: `transition(mirror, event, now, policy) -> Decision`.

Two steps, always in this order:
1. *apply*: fold the event into what we know (TikTok's latest snapshot by update time, our
   command outcomes, merchant answers). Stale and duplicate events change nothing.
2. *plan*: from what we know and the time, choose the one next command for this order, if
   none is in flight, and the deadlines at which to look again.

Because the plan is derived from facts rather than from the event that arrived, duplicates,
reordering and late arrivals converge to the same result (workflow.md rule 9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from shopbridge.domain import events as ev
from shopbridge.domain.commands import (
    AnswerTikTokCancellation,
    CancelShopifyOrder,
    Command,
    CreateShopifyOrder,
    RefreshTikTokOrder,
    ReleaseShopifyOrder,
    ShipOnTikTok,
    SyncTikTokInventory,
)
from shopbridge.domain.mirror import (
    CancelRequest,
    Flag,
    FlagCode,
    Fulfilment,
    InFlight,
    OrderMirror,
    Phase,
)
from shopbridge.domain.policy import RECHECK_AFTER, UNPAID_RECHECK_AFTER, Policy
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus


@dataclass(frozen=True)
class Decision:
    mirror: OrderMirror
    commands: tuple[Command, ...] = ()
    set_deadlines: tuple[tuple[str, datetime], ...] = ()
    cleared_deadlines: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # why, in plain words, for the order's timeline
    refusal: str | None = None  # a merchant request that was refused, and why


def transition(mirror: OrderMirror, event: ev.Event, now: datetime, policy: Policy) -> Decision:
    notes: list[str] = []
    refusal: str | None = None
    mirror, refusal = _apply(mirror, event, now, policy, notes)
    mirror, commands = _plan(mirror, now, policy, notes)
    mirror, to_set, to_clear = _schedule(mirror, policy)
    return Decision(mirror, commands, to_set, to_clear, tuple(notes), refusal)


# ---------------------------------------------------------------- apply


def _apply(
    m: OrderMirror, event: ev.Event, now: datetime, policy: Policy, notes: list[str]
) -> tuple[OrderMirror, str | None]:
    match event:
        case ev.TikTokOrderObserved(order=order):
            return _observe(m, order, notes), None
        case ev.TikTokOrderUnreadable(reason=reason):
            notes.append(f"TikTok sent this order in a shape shopbridge cannot read: {reason}")
            if m.has_flag(FlagCode.UNREADABLE_ORDER):
                return m, None
            message = (
                f"TikTok sent this order in a shape shopbridge cannot read ({reason}). Check "
                "it in TikTok Shop Seller Center; shopbridge reads it again on every pass."
            )
            return replace(m, flags=(*m.flags, Flag(FlagCode.UNREADABLE_ORDER, message))), None
        case ev.CancellationObserved():
            return _observe_cancellation(m, event, notes), None
        case ev.ShopifyFulfilmentObserved():
            return _observe_fulfilment(m, event, notes), None
        case ev.ShopifyCancellationObserved():
            return _observe_shopify_cancel(m, notes), None
        case ev.DeadlineReached(kind=kind):
            notes.append(f"Woke up for the {kind.replace('_', ' ')} deadline.")
            return m, None
        case ev.MerchantApprovedCancellation():
            return _merchant_answers(m, event.cancel_id, "approve", "", "", policy, notes)
        case ev.MerchantRejectedCancellation():
            return _merchant_answers(
                m, event.cancel_id, "reject", event.reason, event.comment, policy, notes
            )
        case ev.MerchantRetried(kind=kind):
            return _retry(m, kind, notes), None
    return _apply_outcome(m, event, now, notes), None


def _observe(m: OrderMirror, order: TikTokOrder, notes: list[str]) -> OrderMirror:
    if order.order_id != m.tiktok_order_id:
        raise ValueError(f"order {order.order_id} does not belong to mirror {m.tiktok_order_id}")
    if m.has_flag(FlagCode.UNREADABLE_ORDER):  # TikTok sends it readably again
        m = replace(m, flags=tuple(f for f in m.flags if f.code is not FlagCode.UNREADABLE_ORDER))
    if not order.is_newer_than(m.tiktok):
        assert m.tiktok is not None
        notes.append(
            f"Ignored a repeated or older TikTok update ({order.status}, "
            f"{order.update_time:%Y-%m-%d %H:%M:%S} UTC): we already have {m.tiktok.status} "
            f"of {m.tiktok.update_time:%Y-%m-%d %H:%M:%S} UTC."
        )
        return m
    previous = m.tiktok_status
    if previous is not order.status:
        notes.append(f"TikTok status is now {order.status}" + _paid_note(order) + ".")
    return replace(m, tiktok=order)


def _paid_note(order: TikTokOrder) -> str:
    if order.paid_time is None:
        return ""
    return f" (paid at {order.paid_time:%Y-%m-%d %H:%M:%S} UTC)"


_REQUEST_STATUS_ALIASES = {
    "CANCELLATION_REQUEST_CANCEL": "CANCELLATION_REQUEST_CANCELLED",
}


def _observe_cancellation(
    m: OrderMirror, event: ev.CancellationObserved, notes: list[str]
) -> OrderMirror:
    status = _REQUEST_STATUS_ALIASES.get(event.status, event.status)
    current = m.cancel_request
    if current is not None and event.update_time < current.update_time:
        notes.append(f"Ignored an older update of cancellation {event.cancel_id}.")
        return m
    same = current is not None and current.cancel_id == event.cancel_id
    if same and current is not None and current.status == status:
        return m
    request = CancelRequest(
        cancel_id=event.cancel_id,
        status=status,
        role=event.role,
        deadline=event.deadline or (current.deadline if same and current else None),
        update_time=event.update_time,
        decision=current.decision if same and current else None,
        answered_on_tiktok=current.answered_on_tiktok if same and current else False,
    )
    if request.is_pending:
        due = f", answer by {request.deadline:%Y-%m-%d %H:%M} UTC" if request.deadline else ""
        notes.append(f"The {event.role.lower() or 'buyer'} asked to cancel{due}.")
    else:
        notes.append(f"Cancellation {event.cancel_id} is now {status}.")
    return replace(m, cancel_request=request)


def _observe_fulfilment(
    m: OrderMirror, event: ev.ShopifyFulfilmentObserved, notes: list[str]
) -> OrderMirror:
    for existing in m.fulfilments:
        if existing.fulfillment_id == event.fulfillment_id:
            return m
    fulfilment = Fulfilment(event.fulfillment_id, event.company, event.number)
    notes.append(
        f"Fulfilled in Shopify: {event.company or 'no carrier'} {event.number or '(no tracking)'}."
    )
    flags = m.flags
    if m.phase in (Phase.NEW, Phase.HELD):
        flags += (
            Flag(
                FlagCode.FULFILLED_BEFORE_RELEASE,
                "Fulfilled in Shopify before shopbridge released it: TikTok could still cancel "
                "this order. Check its TikTok status before the parcel leaves.",
            ),
        )
    phase = m.phase if m.phase is Phase.CANCELLED else Phase.FULFILLED
    return replace(m, fulfilments=(*m.fulfilments, fulfilment), phase=phase, flags=flags)


def _observe_shopify_cancel(m: OrderMirror, notes: list[str]) -> OrderMirror:
    if m.phase is Phase.CANCELLED:
        return m
    if m.in_flight is not None and m.in_flight.kind == CancelShopifyOrder.kind:
        return m  # our own cancel's echo; its outcome will follow
    notes.append("The order was cancelled in Shopify.")
    flags = m.flags
    if not m.tiktok_cancelled:
        flags += (
            Flag(
                FlagCode.CANCELLED_IN_SHOPIFY_ONLY,
                "Cancelled in Shopify while TikTok still has the order live: cancel it in "
                "TikTok Shop too, or the buyer will still expect a parcel.",
            ),
        )
    return replace(m, phase=Phase.CANCELLED, flags=flags)


def _merchant_answers(
    m: OrderMirror,
    cancel_id: str,
    decision: str,
    reason: str,
    comment: str,
    policy: Policy,
    notes: list[str],
) -> tuple[OrderMirror, str | None]:
    request = m.pending_cancel_request
    refusal: str | None = None
    if request is None or request.cancel_id != cancel_id:
        refusal = f"There is no pending cancellation request {cancel_id} on this order."
    elif request.decision is not None:
        refusal = f"This request was already answered ({request.decision})."
    elif decision == "approve" and m.phase is Phase.FULFILLED:
        refusal = (
            "The Shopify order is already fulfilled, so cancelling it would not stop the "
            "parcel. Answer the request in TikTok Shop (or let the shipment reject it)."
        )
    elif decision == "reject" and not policy.rejects_by_api:
        refusal = (
            f"In the {policy.region} market TikTok no longer accepts rejections through the "
            "API: shipping the package rejects the request. Fulfil the order in Shopify with "
            "tracking to reject it."
        )
    if refusal is not None:
        notes.append(f"Refused the merchant's {decision}: {refusal}")
        return m, refusal
    assert request is not None
    if decision == "approve":
        notes.append(
            "Merchant approved the cancellation: cancelling in Shopify first, then on TikTok."
        )
    else:
        notes.append(f"Merchant rejected the cancellation ({reason or 'no reason given'}).")
    answered = replace(request, decision=decision, reject_reason=reason, reject_comment=comment)
    return replace(m, cancel_request=answered), None


def _retry(m: OrderMirror, kind: str, notes: list[str]) -> OrderMirror:
    notes.append(f"Merchant asked to retry {kind.replace('_', ' ')}.")
    flags = tuple(
        f
        for f in m.flags
        if not (f.kind == kind and f.code in (FlagCode.ACTION_FAILED, FlagCode.UNSUPPORTED_CARRIER))
    )
    return replace(m, blocked=tuple(k for k in m.blocked if k != kind), flags=flags)


def _apply_outcome(m: OrderMirror, event: ev.Event, now: datetime, notes: list[str]) -> OrderMirror:
    key = getattr(event, "command_key", None)
    if m.in_flight is None or m.in_flight.key != key:
        notes.append(f"Ignored a stale outcome ({type(event).__name__}) of command {key}.")
        return m
    m = replace(m, in_flight=None)
    match event:
        case ev.ShopifyOrderCreated():
            word = "Found the existing" if event.already_existed else "Created the"
            notes.append(
                f"{word} Shopify order {event.shopify_order_name}: payment pending, "
                f"{len(event.hold_ids)} fulfilment hold(s), stock committed."
            )
            flags = m.flags
            if event.duplicates_cancelled:
                names = ", ".join(event.duplicates_cancelled)
                notes.append(f"Cancelled duplicate Shopify order(s) {names} with restock.")
                flags += (
                    Flag(
                        FlagCode.DUPLICATE_ORDER,
                        f"Shopify had more than one order for this TikTok order; shopbridge kept "
                        f"{event.shopify_order_name} and cancelled {names} with restock. Nothing "
                        "to do, unless one of them was already being picked.",
                    ),
                )
            if event.unknown_skus:
                skus = ", ".join(event.unknown_skus)
                flags += (
                    Flag(
                        FlagCode.UNKNOWN_SKU,
                        f"No Shopify variant has SKU {skus}: the order was created with custom "
                        "lines, which commit no stock. Give the Shopify variant the same SKU as "
                        "the TikTok seller SKU.",
                    ),
                )
            return replace(
                m,
                phase=Phase.HELD,
                shopify_order_id=event.shopify_order_id,
                shopify_order_name=event.shopify_order_name,
                hold_ids=event.hold_ids,
                flags=flags,
            )
        case ev.ShopifyOrderReleased(order=order):
            m = _observe(m, order, notes)
            notes.append(
                "Released in Shopify: shipping address added, marked paid, holds released."
            )
            return replace(m, phase=Phase.RELEASED, release_not_before=None)
        case ev.ReleaseRefused(order=order, reason=reason):
            m = _observe(m, order, notes)
            notes.append(f"Did not release: {reason}.")
            if m.tiktok_cancelled or m.pending_cancel_request is not None:
                return m
            return replace(m, release_not_before=now + RECHECK_AFTER)
        case ev.ShopifyOrderCancelled():
            notes.append("Cancelled in Shopify with restock.")
            return replace(m, phase=Phase.CANCELLED)
        case ev.ShopifyCancelRefused(reason=reason, fulfilled=fulfilled):
            notes.append(f"Shopify refused the cancel: {reason}")
            if fulfilled:
                request = m.cancel_request
                if request is not None and request.decision == "approve":
                    m = replace(m, cancel_request=replace(request, decision=None))
                return replace(m, phase=Phase.FULFILLED)
            return _block(m, CancelShopifyOrder.kind, reason, "")
        case ev.TikTokCancellationAnswered(decision=decision):
            request = m.cancel_request
            if request is not None:
                status = "REJECTED" if decision == "reject" else request.status
                m = replace(
                    m, cancel_request=replace(request, answered_on_tiktok=True, status=status)
                )
            notes.append(f"TikTok accepted our {decision} of the cancellation request.")
            return m
        case ev.TrackingSent(fulfillment_id=fid, shipping_provider=provider):
            notes.append(f"Tracking sent to TikTok with shipping provider {provider}.")
            return replace(
                m,
                fulfilments=tuple(
                    replace(f, sent_to_tiktok=True, shipping_provider=provider)
                    if f.fulfillment_id == fid
                    else f
                    for f in m.fulfilments
                ),
            )
        case ev.InventorySynced(skus=skus):
            notes.append(
                f"TikTok stock brought in line with Shopify for {', '.join(skus) or 'no SKU'}."
            )
            return replace(m, inventory_synced=True)
        case ev.TikTokOrderRefreshed(order=order):
            return _observe(m, order, notes)
        case ev.ActionFailed(kind=kind, message=message, code=code):
            notes.append(f"Gave up on {kind.replace('_', ' ')}: {message}")
            return _block(m, kind, message, code)
    raise TypeError(f"unknown event {event!r}")


def _block(m: OrderMirror, kind: str, message: str, code: str) -> OrderMirror:
    flag_code = (
        FlagCode.UNSUPPORTED_CARRIER if code == "unsupported_carrier" else FlagCode.ACTION_FAILED
    )
    return replace(
        m,
        blocked=tuple(dict.fromkeys((*m.blocked, kind))),
        flags=(*m.flags, Flag(flag_code, message, kind)),
    )


# ---------------------------------------------------------------- plan


def _plan(
    m: OrderMirror, now: datetime, policy: Policy, notes: list[str]
) -> tuple[OrderMirror, tuple[Command, ...]]:
    if m.tiktok is None:
        return m, ()
    if (
        m.phase is Phase.FULFILLED
        and m.tiktok_cancelled
        and not m.has_flag(FlagCode.CANCELLED_AFTER_FULFILMENT)
    ):
        notes.append("TikTok cancelled an order that is already fulfilled in Shopify.")
        m = replace(
            m,
            flags=(
                *m.flags,
                Flag(
                    FlagCode.CANCELLED_AFTER_FULFILMENT,
                    "TikTok cancelled this order after it was fulfilled in Shopify: stop the "
                    "parcel if you can, and expect a return.",
                ),
            ),
        )
    if m.phase is Phase.NEW and m.tiktok_cancelled:
        notes.append("Cancelled on TikTok before it was mirrored: nothing to create in Shopify.")
        return replace(m, phase=Phase.CANCELLED), ()
    if m.in_flight is not None:
        return m, ()
    step = _next_step(m, now, policy)
    if step is None:
        return m, ()
    make, why, m = step
    seq = m.seq + 1
    command = make(f"{m.tiktok_order_id}/{seq}")
    if command.kind in m.blocked:
        return m, ()
    notes.append(why)
    return replace(m, seq=seq, in_flight=InFlight(command.kind, command.key)), (command,)


# The next step: a command factory (taking the command's key), why, and the mirror with any
# bookkeeping the step implies.
Step = tuple[Callable[[str], Command], str, OrderMirror]


def _next_step(m: OrderMirror, now: datetime, policy: Policy) -> Step | None:
    t = m.tiktok
    assert t is not None
    request = m.cancel_request
    unanswered = request is not None and not request.answered_on_tiktok
    approve = unanswered and request is not None and request.decision == "approve"
    reject = unanswered and request is not None and request.decision == "reject"
    make: Callable[[str], Command]

    if m.phase is Phase.NEW:
        why = (
            "Reserving stock: creating the Shopify order as payment pending and on hold "
            f"(TikTok status {t.status})."
        )
        return partial(CreateShopifyOrder, order=t), why, m
    if m.phase in (Phase.HELD, Phase.RELEASED) and (m.tiktok_cancelled or approve):
        assert m.shopify_order_id is not None
        reason, words = _cancel_reason(t, approve)
        make = partial(
            CancelShopifyOrder,
            shopify_order_id=m.shopify_order_id,
            reason=reason,
            staff_note=f"TikTok Shop: {words}"[:255],
        )
        return make, f"Cancelling in Shopify with restock ({words}).", m
    if reject and request is not None and not m.tiktok_cancelled:
        make = partial(
            AnswerTikTokCancellation,
            cancel_id=request.cancel_id,
            decision="reject",
            reject_reason=request.reject_reason,
            comment=request.reject_comment,
        )
        return make, "Rejecting the cancellation request on TikTok, as the merchant decided.", m
    if m.phase is Phase.HELD and _may_release(m, t, now, policy):
        ends = policy.holdback_ends_at(t)
        assert ends is not None
        assert m.shopify_order_id is not None
        make = partial(
            ReleaseShopifyOrder,
            tiktok_order_id=t.order_id,
            shopify_order_id=m.shopify_order_id,
            hold_ids=m.hold_ids,
            holdback_ends_at=ends,
        )
        return (
            make,
            "The holdback is over: re-reading the order from TikTok before releasing it.",
            m,
        )
    if m.phase is Phase.FULFILLED and not m.tiktok_cancelled:
        for f in m.fulfilments:
            if not f.sent_to_tiktok:
                make = partial(
                    ShipOnTikTok,
                    tiktok_order_id=t.order_id,
                    fulfillment_id=f.fulfillment_id,
                    company=f.company,
                    number=f.number,
                    delivery_option_id=t.delivery_option_id,
                )
                return make, "Sending the tracking number to TikTok.", m
    if m.phase is Phase.CANCELLED and m.shopify_order_id is not None:
        if approve and request is not None:
            make = partial(
                AnswerTikTokCancellation, cancel_id=request.cancel_id, decision="approve"
            )
            return (
                make,
                "Shopify is cancelled: now approving the cancellation request on TikTok.",
                m,
            )
        answered = (
            request is not None and request.answered_on_tiktok and request.decision == "approve"
        )
        if (m.tiktok_cancelled or answered) and not m.inventory_synced:
            return _return_stock_on_tiktok(t), _SYNC_WHY, m
    if m.phase is Phase.FULFILLED and m.tiktok_cancelled and not m.inventory_synced:
        # Row 7: TikTok puts a cancelled order's units back on sale even though Shopify shipped
        # them, so TikTok would oversell; Shopify's available count is the one to copy.
        return _return_stock_on_tiktok(t), _SYNC_WHY, m
    refresh_why = _refresh_reason(m, t, now, policy)
    if refresh_why is not None:
        recheck = UNPAID_RECHECK_AFTER if t.status is TikTokStatus.UNPAID else RECHECK_AFTER
        make = partial(RefreshTikTokOrder, tiktok_order_id=t.order_id, why=refresh_why)
        why = f"Asking TikTok for the order again: {refresh_why}."
        return make, why, replace(m, refresh_not_before=now + recheck)
    return None


_SYNC_WHY = "Returning stock on TikTok: matching each SKU to Shopify's available quantity."


def _return_stock_on_tiktok(t: TikTokOrder) -> Callable[[str], Command]:
    skus = tuple(sorted({line.seller_sku for line in t.lines if line.seller_sku}))
    return partial(SyncTikTokInventory, seller_skus=skus)


def _may_release(m: OrderMirror, t: TikTokOrder, now: datetime, policy: Policy) -> bool:
    ends = policy.holdback_ends_at(t)
    return (
        ends is not None
        and now >= ends
        and t.status not in (TikTokStatus.UNPAID, TikTokStatus.CANCELLED)
        and not _buyer_request_open(m, t)
        and m.pending_cancel_request is None
        and (m.release_not_before is None or now >= m.release_not_before)
    )


def _buyer_request_open(m: OrderMirror, t: TikTokOrder) -> bool:
    """Whether the order's snapshot shows a buyer request that no newer fact has closed.

    TikTok's update_time has one-second resolution: an order re-read after a request closed
    within the second it opened looks no newer, so it is ignored and the snapshot keeps the
    request flag. The cancellation's own record, as new or newer and no longer pending, is
    the later word. (The release executor re-reads TikTok before acting in any case.)
    """
    if not t.is_buyer_request_cancel:
        return False
    request = m.cancel_request
    return request is None or request.is_pending or request.update_time < t.update_time


def _refresh_reason(m: OrderMirror, t: TikTokOrder, now: datetime, policy: Policy) -> str | None:
    if m.refresh_not_before is not None and now < m.refresh_not_before:
        return None
    if t.status is TikTokStatus.UNPAID and now >= t.create_time + policy.unpaid_window:
        return "it is still unpaid after the unpaid window, so TikTok should have cancelled it"
    request = m.pending_cancel_request
    if request is not None and request.deadline is not None and now >= request.deadline:
        return "the cancellation request's answer deadline has passed"
    return None


_FRAUD_MARKERS = ("fraud", "risk", "anti_span")


def _cancel_reason(t: TikTokOrder, merchant_approved: bool) -> tuple[str, str]:
    """Shopify's OrderCancelReason for how TikTok cancelled, and the words for it."""
    if merchant_approved and t.status is not TikTokStatus.CANCELLED:
        return "CUSTOMER", "the merchant approved the buyer's cancellation request"
    reason = (t.cancel_reason or "").lower()
    initiator = (t.cancellation_initiator or "").upper()
    if "unpaid" in reason:
        return "DECLINED", "not paid within TikTok's unpaid window"
    if any(marker in reason for marker in _FRAUD_MARKERS):
        return "FRAUD", f"cancelled by TikTok for suspected fraud ({t.cancel_reason})"
    if initiator == "BUYER":
        return "CUSTOMER", "cancelled by the buyer"
    if initiator == "SELLER":
        if "stock" in reason:
            return "INVENTORY", "cancelled by the seller: out of stock"
        return "STAFF", "cancelled by the seller in TikTok Shop"
    detail = f" ({t.cancel_reason})" if t.cancel_reason else ""
    return "OTHER", f"cancelled on TikTok by {initiator.lower() or 'the platform'}{detail}"


# ---------------------------------------------------------------- schedule


def _schedule(
    m: OrderMirror, policy: Policy
) -> tuple[OrderMirror, tuple[tuple[str, datetime], ...], tuple[str, ...]]:
    wanted: dict[str, datetime] = {}
    t = m.tiktok
    if t is not None:
        recheck = m.refresh_not_before
        ends = policy.holdback_ends_at(t)
        if m.phase is Phase.HELD and ends is not None and not m.tiktok_cancelled:
            wanted["holdback"] = _latest(ends, m.release_not_before)
        if t.status is TikTokStatus.UNPAID and m.phase in (Phase.NEW, Phase.HELD):
            wanted["unpaid"] = _latest(t.create_time + policy.unpaid_window, recheck)
        request = m.pending_cancel_request
        if request is not None and request.deadline is not None:
            wanted["cancel_request"] = _latest(request.deadline, recheck)
    to_set = tuple((k, v) for k, v in sorted(wanted.items()) if m.deadlines.get(k) != v)
    to_clear = tuple(k for k in sorted(m.deadlines) if k not in wanted)
    if not to_set and not to_clear:
        return m, (), ()
    return replace(m, deadlines=wanted), to_set, to_clear


def _latest(first: datetime, second: datetime | None) -> datetime:
    return first if second is None or first >= second else second
