"""Apply one event to one order: load, decide, and commit state, commands, deadlines and timeline
in one transaction (the unit of work), so a decision and the actions it causes land together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopbridge.clock import Clock
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror, encode_command, encode_event, encode_mirror
from shopbridge.domain.commands import action_words
from shopbridge.domain.mirror import (
    CANCEL_STATUS_WORDS,
    CANCELLED_BY_WORDS,
    OrderMirror,
    tiktok_status_words,
)
from shopbridge.domain.policy import Policy
from shopbridge.domain.transition import Decision, transition
from shopbridge.store import OrderUnit, Store

# Events that report how one of our own commands went; the rest are observations.
OUTCOMES = (
    ev.ShopifyOrderCreated,
    ev.ShopifyOrderReleased,
    ev.ReleaseRefused,
    ev.ShopifyOrderCancelled,
    ev.ShopifyCancelRefused,
    ev.TikTokCancellationAnswered,
    ev.TrackingSent,
    ev.TrackingCorrected,
    ev.ShopifyUnitsRemoved,
    ev.TikTokItemsCancelled,
    ev.ShopifyReturnRecorded,
    ev.ReturnRestocked,
    ev.InventorySynced,
    ev.TikTokOrderRefreshed,
    ev.ActionFailed,
)


class Bridge:
    def __init__(self, store: Store, clock: Clock, policy_of: Callable[[int], Policy]) -> None:
        self.store = store
        self.clock = clock
        self.policy_of = policy_of

    def apply(
        self,
        connection_id: int,
        tiktok_order_id: str,
        event: ev.Event,
        finish: Callable[[OrderUnit], None] | None = None,
    ) -> Decision:
        """Decide about one event in a unit of work of its own (a merchant's answer, a test)."""
        with self.store.order_unit(connection_id, tiktok_order_id) as unit:
            decision = self.decide(unit, event)
            if finish is not None:
                finish(unit)
        return decision

    def decide(self, unit: OrderUnit, event: ev.Event) -> Decision:
        """Decide about one event inside the caller's unit of work: load, transition, save."""
        assert unit.connection_id is not None, "an order unit always has its connection"
        policy = self.policy_of(unit.connection_id)
        state = unit.state
        mirror = OrderMirror(unit.tiktok_order_id) if state is None else decode_mirror(state)
        decision = transition(mirror, event, self.clock.now(), policy)
        kind = "result" if isinstance(event, OUTCOMES) else "event"
        unit.add_timeline(kind, describe(event), encode_event(event))
        for note in decision.notes:
            unit.add_timeline("decision", note)
        if decision.refusal:
            unit.add_timeline("note", decision.refusal)
        unit.save(encode_mirror(decision.mirror), **projection(decision.mirror, policy))
        for command in decision.commands:
            unit.enqueue(command.kind, encode_command(command), command.key, command.priority)
        for deadline, due_at in decision.set_deadlines:
            unit.set_deadline(deadline, due_at)
        for deadline in decision.cleared_deadlines:
            unit.clear_deadline(deadline)
        return decision


def projection(mirror: OrderMirror, policy: Policy) -> dict[str, Any]:
    """The columns the merchant's order list filters and sorts on."""
    t = mirror.tiktok
    request = mirror.pending_cancel_request
    return {
        "phase": mirror.phase.value,
        "tiktok_status": None if t is None else t.status.value,
        "shopify_order_id": mirror.shopify_order_id,
        "shopify_order_name": mirror.shopify_order_name,
        "tiktok_created_at": None if t is None else t.create_time,
        "paid_at": None if t is None else t.paid_time,
        "holdback_ends_at": None if t is None else policy.holdback_ends_at(t),
        "cancel_request_deadline": None if request is None else request.deadline,
        "needs_attention": mirror.needs_attention,
        "attention_reason": "; ".join(f.message for f in mirror.flags) or None,
    }


def describe(event: ev.Event) -> str:
    """One line for the timeline saying what arrived, in words (never a class or command name)."""
    match event:
        case ev.TikTokOrderObserved(order=o, source=source):
            status = tiktok_status_words(o.status)
            return f"TikTok order read ({source}): {status}, updated {o.update_time:%H:%M:%S} UTC"
        case ev.TikTokOrderRefreshed(order=o):
            status = tiktok_status_words(o.status)
            return f"Re-read the order from TikTok: {status}, updated {o.update_time:%H:%M:%S} UTC"
        case ev.CancellationObserved(cancel_id=cancel_id, status=status, role=role):
            by = CANCELLED_BY_WORDS.get(role.upper(), role.lower() or "TikTok")
            words = CANCEL_STATUS_WORDS.get(status, status.replace("_", " ").lower())
            return f"TikTok cancellation {cancel_id} by {by}: {words}"
        case ev.ShopifyFulfilmentObserved():
            return f"Shopify fulfilment {event.fulfillment_id}: {event.company} {event.number}"
        case ev.DeadlineReached(kind=kind):
            return f"Deadline reached: {kind.replace('_', ' ')}"
        case ev.ActionFailed(kind=kind, message=message):
            words = action_words(kind)
            return f"{words[:1].upper()}{words[1:]} failed: {message}"
        case ev.MerchantRetried(kind=kind, user=user):
            return f"{user or 'The merchant'} asked to retry {action_words(kind)}"
        case ev.TikTokCancellationAnswered(decision=decision):
            answer = "Approved" if decision == "approve" else "Rejected"
            return f"{answer} the buyer's cancellation request on TikTok"
        case ev.TrackingSent(shipping_provider=provider):
            return f"Sent tracking to TikTok ({provider})"
    return _EVENT_WORDS.get(type(event), type(event).__name__)


# The rest, whose line needs nothing from the event itself.
_EVENT_WORDS: dict[type, str] = {
    ev.TikTokOrderUnreadable: "TikTok sent the order in a shape shopbridge cannot read",
    ev.ReturnObserved: "TikTok return or refund read",
    ev.ShopifyCancellationObserved: "Shopify says the order is cancelled",
    ev.MerchantApprovedCancellation: "The merchant approved the buyer's cancellation request",
    ev.MerchantRejectedCancellation: "The merchant rejected the buyer's cancellation request",
    ev.MerchantCancelledItems: "The merchant cancelled items on TikTok",
    ev.MerchantRestockedReturn: "The merchant asked to restock a return",
    ev.ShopifyOrderCreated: "Reserved in Shopify",
    ev.ShopifyOrderReleased: "Released in Shopify",
    ev.ReleaseRefused: "Did not release",
    ev.ShopifyOrderCancelled: "Cancelled in Shopify",
    ev.ShopifyCancelRefused: "Shopify refused the cancel",
    ev.TrackingCorrected: "Corrected the tracking number on TikTok",
    ev.ShopifyUnitsRemoved: "Took cancelled items off the Shopify order",
    ev.TikTokItemsCancelled: "Cancelled items on TikTok",
    ev.ShopifyReturnRecorded: "Recorded the return in Shopify",
    ev.ReturnRestocked: "Restocked the returned items in Shopify",
    ev.InventorySynced: "Returned stock on TikTok",
}
