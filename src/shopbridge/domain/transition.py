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
    CancelOnTikTok,
    CancelShopifyOrder,
    Command,
    CorrectTikTokTracking,
    CreateShopifyOrder,
    LineTarget,
    RecordShopifyReturn,
    RefreshTikTokOrder,
    ReleaseShopifyOrder,
    RemoveShopifyUnits,
    RestockReturn,
    ShipOnTikTok,
    SyncTikTokInventory,
    action_words,
)
from shopbridge.domain.mirror import (
    CANCEL_STATUS_WORDS,
    CANCELLED_BY_WORDS,
    RETURN_STATUS_WORDS,
    RETURN_TYPE_WORDS,
    SELLER_CANCELLABLE,
    CancelRequest,
    Flag,
    FlagCode,
    Fulfilment,
    InFlight,
    OrderMirror,
    Phase,
    ReturnCase,
    tiktok_status_words,
)
from shopbridge.domain.policy import RECHECK_AFTER, UNPAID_RECHECK_AFTER, Policy
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus, Unit


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
        case ev.ReturnObserved():
            return _observe_return(m, event, notes), None
        case ev.MerchantCancelledItems(unit_ids=unit_ids):
            return _merchant_cancels_items(m, unit_ids, policy, notes)
        case ev.MerchantRestockedReturn(return_id=return_id):
            return _merchant_restocks(m, return_id, notes)
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
            f"Ignored a repeated or older TikTok update ({tiktok_status_words(order.status)}, "
            f"{order.update_time:%Y-%m-%d %H:%M:%S} UTC): we already have "
            f"{tiktok_status_words(m.tiktok.status)} "
            f"of {m.tiktok.update_time:%Y-%m-%d %H:%M:%S} UTC."
        )
        return m
    previous = m.tiktok
    if previous is None or previous.status is not order.status:
        status = tiktok_status_words(order.status)
        notes.append(f"TikTok status is now {status}" + _paid_note(order) + ".")
    elif previous.units != order.units:
        notes.append("TikTok updated the order's items (" + _packages(order) + ").")
    return replace(m, tiktok=order)


def _packages(order: TikTokOrder) -> str:
    ids = sorted({u.package_id for u in order.units if u.package_id})
    return "packages " + ", ".join(ids) if ids else "no package yet"


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
        by = CANCELLED_BY_WORDS.get(event.role.upper(), "TikTok")
        words = CANCEL_STATUS_WORDS.get(status, status.replace("_", " ").lower())
        notes.append(f"TikTok's cancellation {event.cancel_id} by {by}: {words}.")
    return replace(m, cancel_request=request)


def _observe_fulfilment(
    m: OrderMirror, event: ev.ShopifyFulfilmentObserved, notes: list[str]
) -> OrderMirror:
    for index, existing in enumerate(m.fulfilments):
        if existing.fulfillment_id != event.fulfillment_id:
            continue
        if not event.number or event.number == existing.number:
            return m
        notes.append(
            f"Tracking changed in Shopify: {existing.number or '(none)'} is now {event.number}."
        )
        changed = replace(existing, number=event.number, company=event.company or existing.company)
        fulfilments = (*m.fulfilments[:index], changed, *m.fulfilments[index + 1 :])
        return replace(m, fulfilments=fulfilments)
    unit_ids, shortfall = _units_in_box(m, event.lines)
    fulfilment = Fulfilment(event.fulfillment_id, event.company, event.number, unit_ids=unit_ids)
    what = f" ({_count(unit_ids)})" if unit_ids else ""
    notes.append(
        f"Fulfilled in Shopify{what}: {event.company or 'no carrier'} "
        f"{event.number or '(no tracking)'}."
    )
    flags = m.flags
    releasing = m.in_flight is not None and m.in_flight.kind == ReleaseShopifyOrder.kind
    if m.phase in (Phase.NEW, Phase.HELD) and not releasing:
        flags += (_fulfilled_before_release(),)
    elif m.phase is Phase.HELD:
        # Our release was under way (its outcome not recorded yet, e.g. its worker was
        # killed after Shopify released): the merchant fulfilled what our release freed.
        notes.append("Fulfilled as shopbridge's release was finishing: the release came first.")
    # TikTok cancelling the whole order is said once, as a cancel after fulfilment (_plan).
    if shortfall and not m.tiktok_cancelled:
        flags += (
            Flag(
                FlagCode.SHIPPED_CANCELLED_UNITS,
                f"Shopify fulfilment {event.fulfillment_id.rsplit('/', 1)[-1]} ships "
                f"{shortfall} that TikTok no longer has for this order (cancelled, or already "
                "in another box): stop those units before the parcel leaves. TikTok is told "
                "only about the units it still expects.",
            ),
        )
    if shortfall and event.lines and not unit_ids:
        notes.append("Nothing in this box is still expected by TikTok: no tracking to send.")
        fulfilment = replace(fulfilment, sent_to_tiktok=True)
    phase = m.phase if m.phase is Phase.CANCELLED else Phase.FULFILLED
    return replace(m, fulfilments=(*m.fulfilments, fulfilment), phase=phase, flags=flags)


def _fulfilled_before_release() -> Flag:
    return Flag(
        FlagCode.FULFILLED_BEFORE_RELEASE,
        "Fulfilled in Shopify before shopbridge released it: TikTok could still cancel "
        "this order. Check its TikTok status before the parcel leaves.",
    )


def _units_in_box(
    m: OrderMirror, lines: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, ...], str]:
    """The TikTok units a Shopify fulfilment of these (line, quantity) pairs ships, and what it
    ships beyond them in words ("" when nothing): the lowest unit ids of each line that are
    neither cancelled on TikTok nor in another box, so every holder picks the same ones."""
    if not lines or not m.lines:
        return (), ""
    cancelled = m.tiktok.cancelled_unit_ids if m.tiktok is not None else frozenset()
    taken = m.shipped_units() | cancelled | set(m.removed_units)
    links = {link.shopify_line_id: link for link in m.lines}
    chosen: list[str] = []
    beyond: dict[str, int] = {}
    for line_id, quantity in lines:
        link = links.get(line_id)
        free = [] if link is None else sorted(u for u in link.unit_ids if u not in taken)
        picked = free[:quantity]
        chosen += picked
        taken |= set(picked)
        if len(picked) < quantity:
            sku = link.seller_sku if link is not None else f"line {line_id.rsplit('/', 1)[-1]}"
            beyond[sku] = beyond.get(sku, 0) + quantity - len(picked)
    words = ", ".join(f"{n} × {sku}" for sku, n in sorted(beyond.items()))
    return tuple(chosen), words


def _count(unit_ids: tuple[str, ...]) -> str:
    return f"{len(unit_ids)} unit" + ("" if len(unit_ids) == 1 else "s")


def _observe_return(m: OrderMirror, event: ev.ReturnObserved, notes: list[str]) -> OrderMirror:
    current = next((r for r in m.returns if r.return_id == event.return_id), None)
    if current is not None and (
        event.update_time < current.update_time or event.status == current.status
    ):
        return m
    kind = RETURN_TYPE_WORDS.get(event.return_type, event.return_type or "return").lower()
    status = RETURN_STATUS_WORDS.get(event.status, event.status.replace("_", " ").lower())
    notes.append(f"TikTok {kind} {event.return_id} of {_count(event.unit_ids)}: {status}.")
    if current is None:
        case = ReturnCase(
            event.return_id,
            event.status,
            event.return_type,
            event.unit_ids,
            event.update_time,
            event.role,
        )
        return replace(m, returns=(*m.returns, case))
    updated = replace(
        current,
        status=event.status,
        update_time=event.update_time,
        unit_ids=event.unit_ids or current.unit_ids,
    )
    return replace(m, returns=tuple(updated if r is current else r for r in m.returns))


def _merchant_cancels_items(
    m: OrderMirror, unit_ids: tuple[str, ...], policy: Policy, notes: list[str]
) -> tuple[OrderMirror, str | None]:
    refusal = _item_cancel_refusal(m, unit_ids, policy)
    if refusal is not None:
        notes.append(f"Refused the merchant's cancellation of items: {refusal}")
        return m, refusal
    assert m.tiktok is not None
    wanted = tuple(sorted(set(unit_ids)))
    skus = _skus_of(m.tiktok.units, wanted)
    notes.append(f"Merchant cancels {skus} on TikTok (out of stock).")
    m = _retry(m, CancelOnTikTok.kind, []) if CancelOnTikTok.kind in m.blocked else m
    return replace(m, cancel_units=wanted), None


def _item_cancel_refusal(m: OrderMirror, unit_ids: tuple[str, ...], policy: Policy) -> str | None:
    t = m.tiktok
    if t is None or not t.units:
        return "shopbridge has not read this order's items from TikTok yet."
    if not unit_ids:
        return "Pick at least one item to cancel."
    if t.status is TikTokStatus.CANCELLED:
        return "TikTok has already cancelled this order."
    if t.status not in SELLER_CANCELLABLE:
        return (
            f"the order is {status_words(t.status)} on TikTok, and a seller can no longer "
            "cancel it. Handle it as a return in TikTok Shop if the buyer agrees."
        )
    if m.cancel_units:
        return "A cancellation of items is already on its way to TikTok."
    if m.pending_cancel_request is not None:
        return "The buyer asked to cancel this order: approve or reject that request instead."
    known = {u.line_item_id: u for u in t.units}
    unknown = [i for i in unit_ids if i not in known]
    if unknown:
        return f"these items are not in this order: {', '.join(unknown)}."
    gone = [i for i in unit_ids if known[i].cancelled]
    if gone:
        return f"{_skus_of(t.units, gone)} already cancelled on TikTok."
    boxed = m.shipped_units()
    shipped = [i for i in unit_ids if known[i].shipped or i in boxed]
    if shipped:
        return f"{_skus_of(t.units, shipped)} already shipped: a shipped item cannot be cancelled."
    whole = set(unit_ids) >= {u.line_item_id for u in t.live_units}
    if not whole and not policy.cancels_items:
        return (
            f"TikTok lets sellers cancel single items only in the US and the UK, not in "
            f"{policy.region}: cancel the whole order, or ship what you have."
        )
    return None


def _skus_of(units: tuple[Unit, ...], unit_ids: tuple[str, ...] | list[str]) -> str:
    counts: dict[str, int] = {}
    by_id = {u.line_item_id: u for u in units}
    for unit_id in unit_ids:
        unit = by_id.get(unit_id)
        sku = unit.seller_sku if unit is not None else unit_id
        counts[sku] = counts.get(sku, 0) + 1
    return ", ".join(f"{n} × {sku}" for sku, n in sorted(counts.items()))


def status_words(status: TikTokStatus) -> str:
    return tiktok_status_words(status)


def _merchant_restocks(
    m: OrderMirror, return_id: str, notes: list[str]
) -> tuple[OrderMirror, str | None]:
    case = next((r for r in m.returns if r.return_id == return_id), None)
    refusal: str | None = None
    if case is None:
        refusal = f"There is no return {return_id} on this order."
    elif not case.completed:
        refusal = "The return is not complete yet: restock once TikTok has refunded the buyer."
    elif not case.goods_back:
        refusal = "This was a refund without a return: no goods came back to restock."
    elif case.restocked or case.restock_wanted:
        refusal = "These units are already back in stock (or on their way)."
    if refusal is not None:
        notes.append(f"Refused the merchant's restock: {refusal}")
        return m, refusal
    assert case is not None
    notes.append(f"Merchant restocks the {_count(case.unit_ids)} of return {return_id}.")
    wanted = replace(case, restock_wanted=True)
    return replace(m, returns=tuple(wanted if r is case else r for r in m.returns)), None


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
        answer = "approval" if decision == "approve" else "rejection"
        notes.append(f"Refused the merchant's {answer}: {refusal}")
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
    notes.append(f"Merchant asked to retry {action_words(kind)}.")
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
                held_on=event.held_on,
                flags=flags,
                lines=event.lines or m.lines,
            )
        case ev.ShopifyOrderReleased(order=order):
            m = _observe(m, order, notes)
            notes.append(
                "Released in Shopify: shipping address added, marked paid, holds released."
            )
            phase = Phase.FULFILLED if m.phase is Phase.FULFILLED else Phase.RELEASED
            return replace(m, phase=phase, release_not_before=None)
        case ev.ReleaseRefused(order=order, reason=reason):
            m = _observe(m, order, notes)
            notes.append(f"Did not release: {reason}.")
            if m.phase is Phase.FULFILLED and not m.has_flag(FlagCode.FULFILLED_BEFORE_RELEASE):
                m = replace(m, flags=(*m.flags, _fulfilled_before_release()))
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
            answer = "approval" if decision == "approve" else "rejection"
            notes.append(f"TikTok accepted our {answer} of the buyer's cancellation request.")
            return m
        case ev.TrackingSent(fulfillment_id=fid, shipping_provider=provider):
            package = f" (TikTok package {event.package_id})" if event.package_id else ""
            notes.append(f"Tracking sent to TikTok with shipping provider {provider}{package}.")
            if event.skipped_cancelled:
                notes.append(
                    f"Left out {_count(event.skipped_cancelled)} TikTok cancelled meanwhile."
                )
            return replace(
                m,
                fulfilments=tuple(
                    replace(
                        f,
                        sent_to_tiktok=True,
                        shipping_provider=provider,
                        package_id=event.package_id or f.package_id,
                        sent_number=event.number or f.number,
                        unit_ids=tuple(u for u in f.unit_ids if u not in event.skipped_cancelled),
                    )
                    if f.fulfillment_id == fid
                    else f
                    for f in m.fulfilments
                ),
            )
        case ev.TrackingCorrected(fulfillment_id=fid, number=number):
            notes.append(f"TikTok's tracking number corrected to {number}.")
            return replace(
                m,
                fulfilments=tuple(
                    replace(f, sent_number=number) if f.fulfillment_id == fid else f
                    for f in m.fulfilments
                ),
            )
        case ev.ShopifyUnitsRemoved(unit_ids=unit_ids, fulfilled=fulfilled):
            return _units_removed(m, unit_ids, fulfilled, notes)
        case ev.TikTokItemsCancelled(order=order):
            notes.append("TikTok accepted the cancellation of the items.")
            return _observe(replace(m, cancel_units=()), order, notes)
        case ev.ShopifyReturnRecorded(return_id=return_id, restocked=restocked):
            words = "with the units restocked" if restocked else "without restocking"
            notes.append(f"Recorded return {return_id} on the Shopify order as a refund, {words}.")
            return _update_return(m, return_id, recorded=True, restocked=restocked)
        case ev.ReturnRestocked(return_id=return_id):
            notes.append(f"The units of return {return_id} are back in Shopify's stock.")
            return _update_return(m, return_id, restocked=True)
        case ev.InventorySynced(skus=skus):
            notes.append(
                f"TikTok stock brought in line with Shopify for {', '.join(skus) or 'no SKU'}."
            )
            return replace(m, inventory_synced=True)
        case ev.TikTokOrderRefreshed(order=order):
            return _observe(m, order, notes)
        case ev.ActionFailed(kind=kind, message=message, code=code):
            notes.append(f"Gave up on {action_words(kind)}: {message}")
            if kind == CancelOnTikTok.kind:  # the merchant sees why and may pick again
                m = replace(m, cancel_units=())
            return _block(m, kind, message, code)
    raise TypeError(f"unknown event {event!r}")


def _units_removed(
    m: OrderMirror,
    unit_ids: tuple[str, ...],
    fulfilled: tuple[tuple[str, int], ...],
    notes: list[str],
) -> OrderMirror:
    stuck: list[str] = []
    links = {link.shopify_line_id: link for link in m.lines}
    for line_id, count in fulfilled:
        link = links.get(line_id)
        mine = sorted(u for u in (link.unit_ids if link else ()) if u in unit_ids)
        stuck += mine[len(mine) - count :] if count else []
    gone = tuple(u for u in unit_ids if u not in stuck)
    units = m.tiktok.units if m.tiktok is not None else ()
    if gone:
        notes.append(
            f"Removed {_skus_of(units, gone)} from the Shopify order with restock; the rest "
            "keeps its hold or release."
        )
    flags = m.flags
    said = m.tiktok_cancelled  # the whole order went: CANCELLED_AFTER_FULFILMENT says it
    if stuck and not said:
        flag = Flag(
            FlagCode.SHIPPED_CANCELLED_UNITS,
            f"TikTok cancelled {_skus_of(units, stuck)}, but Shopify had already fulfilled "
            "them: stop those units if the parcel has not left, or expect them back.",
        )
        flags += () if flag in flags else (flag,)
    removed = tuple(dict.fromkeys((*m.removed_units, *unit_ids)))
    return replace(m, removed_units=removed, flags=flags)


def _update_return(
    m: OrderMirror, return_id: str, *, restocked: bool, recorded: bool | None = None
) -> OrderMirror:
    def updated(r: ReturnCase) -> ReturnCase:
        if r.return_id != return_id:
            return r
        return replace(
            r, recorded=r.recorded if recorded is None else recorded, restocked=restocked
        )

    return replace(m, returns=tuple(updated(r) for r in m.returns))


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
        if policy.create_after_holdback and not _may_release(m, t, now, policy):
            return None  # the stock sync keeps TikTok right until the holdback ends
        why = (
            "Reserving stock: creating the Shopify order as payment pending and on hold "
            f"(TikTok status: {tiktok_status_words(t.status)})."
        )
        if policy.create_after_holdback:
            why = "The holdback is over: creating the Shopify order now (sync after holdback)."
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
    removal = _removal(m)
    if removal is not None:
        return removal, "Taking the units TikTok cancelled off the Shopify order (restocked).", m
    if m.cancel_units and m.phase is not Phase.CANCELLED:
        whole = set(m.cancel_units) >= {u.line_item_id for u in t.live_units}
        make = partial(
            CancelOnTikTok,
            tiktok_order_id=t.order_id,
            unit_ids=m.cancel_units,
            whole_order=whole,
            reason=policy.out_of_stock_reason(t.status),
        )
        return make, "Cancelling the items on TikTok first; Shopify follows what TikTok says.", m
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
            held_on=m.held_on,
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
                    unit_ids=f.unit_ids,
                )
                box = f" for {_count(f.unit_ids)}" if f.unit_ids else ""
                return make, f"Sending the tracking number to TikTok{box}.", m
            if f.needs_correction:
                assert f.number is not None
                make = partial(
                    CorrectTikTokTracking,
                    tiktok_order_id=t.order_id,
                    fulfillment_id=f.fulfillment_id,
                    package_id=f.package_id,
                    company=f.company,
                    number=f.number,
                    delivery_option_id=t.delivery_option_id,
                )
                return make, "Correcting the tracking number on TikTok.", m
    returned = _return_step(m, policy)
    if returned is not None:
        return returned
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


def _removal(m: OrderMirror) -> Callable[[str], Command] | None:
    """Order editing for units TikTok cancelled while the rest of the order lives on."""
    if m.phase not in (Phase.HELD, Phase.RELEASED, Phase.FULFILLED) or not m.shopify_order_id:
        return None
    gone = m.units_to_remove()
    if not gone:
        return None
    assert m.tiktok is not None
    cancelled = m.tiktok.cancelled_unit_ids
    targets = tuple(
        LineTarget(
            link.shopify_line_id,
            link.seller_sku,
            sum(1 for u in link.unit_ids if u not in cancelled),
        )
        for link in m.lines
        if any(u in gone for u in link.unit_ids)
    )
    who = {u.cancel_user for u in m.tiktok.units if u.line_item_id in gone and u.cancel_user}
    by = ", ".join(sorted(w.lower() for w in who)) or "TikTok"
    return partial(
        RemoveShopifyUnits,
        shopify_order_id=m.shopify_order_id,
        targets=targets,
        unit_ids=gone,
        staff_note=f"TikTok Shop: {_skus_of(m.tiktok.units, gone)} cancelled by {by}"[:255],
    )


def _links_of(m: OrderMirror, unit_ids: tuple[str, ...]) -> tuple[LineTarget, ...]:
    """How many of these units each Shopify line holds."""
    wanted = set(unit_ids)
    found: list[LineTarget] = []
    for link in m.lines:
        n = sum(1 for u in link.unit_ids if u in wanted)
        if n:
            found.append(LineTarget(link.shopify_line_id, link.seller_sku, n))
    return tuple(found)


def _return_step(m: OrderMirror, policy: Policy) -> Step | None:
    if m.shopify_order_id is None:
        return None
    make: Callable[[str], Command]
    for case in m.returns:
        lines = _links_of(m, case.unit_ids)
        if case.completed and not case.recorded and lines:
            restock = policy.restock_returns and case.goods_back
            make = partial(
                RecordShopifyReturn,
                shopify_order_id=m.shopify_order_id,
                return_id=case.return_id,
                lines=lines,
                restock=restock,
                note=f"TikTok Shop return {case.return_id}"[:255],
            )
            return make, "TikTok refunded the buyer: recording the return in Shopify.", m
        if case.restock_wanted and case.recorded and not case.restocked and lines:
            make = partial(
                RestockReturn,
                shopify_order_id=m.shopify_order_id,
                return_id=case.return_id,
                lines=lines,
            )
            return make, "Putting the returned units back in Shopify's stock.", m
    return None


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
        waiting = m.phase is Phase.HELD or (m.phase is Phase.NEW and policy.create_after_holdback)
        if waiting and ends is not None and not m.tiktok_cancelled:
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
