"""One test per row and rule of workflow.md that the core decides alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror, encode_mirror
from shopbridge.domain.commands import (
    AnswerTikTokCancellation,
    CancelShopifyOrder,
    Command,
    CreateShopifyOrder,
    Priority,
    RefreshTikTokOrder,
    ReleaseShopifyOrder,
    ShipOnTikTok,
    SyncTikTokInventory,
)
from shopbridge.domain.mirror import FlagCode, OrderMirror, Phase
from shopbridge.domain.policy import Policy, PolicyError, release_blocker
from shopbridge.domain.transition import Decision, transition
from support.orders import ORDER_ID, T0, minutes, snapshot

PAID = T0 + minutes(5)


@dataclass
class Run:
    """Feeds events to one mirror and keeps what the core decided."""

    policy: Policy = field(default_factory=Policy)
    mirror: OrderMirror = field(default_factory=lambda: OrderMirror(ORDER_ID))
    last: Decision | None = None

    def feed(self, event: ev.Event, now: datetime) -> Decision:
        self.last = transition(self.mirror, event, now, self.policy)
        self.mirror = self.last.mirror
        return self.last

    def command(self) -> Command:
        assert self.last is not None
        assert len(self.last.commands) == 1, self.last
        return self.last.commands[0]

    def observe(self, status: str, at: datetime, **kw: object) -> Decision:
        return self.feed(ev.TikTokOrderObserved(snapshot(status, at=at, **kw)), at)  # type: ignore[arg-type]

    def reserved(self, now: datetime = T0) -> None:
        """The order was seen unpaid and its Shopify order created."""
        self.observe("UNPAID", now)
        create = self.command()
        self.feed(
            ev.ShopifyOrderCreated(create.key, "gid://shopify/Order/1", "#1001", ("h1",)), now
        )

    def released(self) -> None:
        self.reserved()
        self.observe("AWAITING_SHIPMENT", PAID + minutes(1), paid=PAID, on_hold=False)
        self.feed(ev.DeadlineReached("holdback"), PAID + minutes(60))
        release = self.command()
        order = snapshot("AWAITING_SHIPMENT", at=PAID + minutes(1), paid=PAID, on_hold=False)
        self.feed(ev.ShopifyOrderReleased(release.key, order), PAID + minutes(60))


def test_row1_order_created_unpaid_is_reserved_at_once() -> None:
    """Row 1: the first sight of an unpaid order creates the Shopify order before anything else."""
    run = Run()
    decision = run.observe("UNPAID", T0)
    create = run.command()
    assert isinstance(create, CreateShopifyOrder)
    assert (
        create.priority
        == Priority.RESERVE
        == min(
            c.priority
            for c in (CreateShopifyOrder, ReleaseShopifyOrder, ShipOnTikTok, SyncTikTokInventory)
        )
    )
    assert dict(decision.set_deadlines) == {"unpaid": T0 + timedelta(hours=24)}
    run.feed(ev.ShopifyOrderCreated(create.key, "gid://shopify/Order/1", "#1001", ("h1",)), T0)
    assert run.mirror.phase is Phase.HELD
    assert run.mirror.hold_ids == ("h1",)
    assert run.last is not None and run.last.commands == ()


def test_row2_failing_payment_changes_nothing() -> None:
    """Row 2: a newer UNPAID snapshot (payment retried and failing) leaves Shopify unchanged."""
    run = Run()
    run.reserved()
    decision = run.observe("UNPAID", T0 + minutes(30))
    assert decision.commands == ()
    assert run.mirror.phase is Phase.HELD


def test_row3a_unpaid_after_24h_is_refreshed_then_cancelled_declined() -> None:
    """Row 3a: at the unpaid deadline TikTok is asked again; its cancel is mirrored as DECLINED."""
    run = Run()
    run.reserved()
    deadline = T0 + timedelta(hours=24)
    run.feed(ev.DeadlineReached("unpaid"), deadline)
    refresh = run.command()
    assert isinstance(refresh, RefreshTikTokOrder)
    cancelled = snapshot(
        "CANCELLED",
        at=deadline,
        initiator="SYSTEM",
        reason="system_cancel_unpaid_time_out",
    )
    run.feed(ev.TikTokOrderRefreshed(refresh.key, cancelled), deadline)
    cancel = run.command()
    assert isinstance(cancel, CancelShopifyOrder)
    assert cancel.reason == "DECLINED"
    run.feed(ev.ShopifyOrderCancelled(cancel.key), deadline)
    sync = run.command()
    assert isinstance(sync, SyncTikTokInventory)
    assert sync.seller_skus == ("TEE-RED-L",)
    run.feed(ev.InventorySynced(sync.key, sync.seller_skus), deadline)
    assert run.mirror.phase is Phase.CANCELLED
    assert run.last is not None and run.last.commands == ()


@pytest.mark.parametrize(("status", "on_hold"), [("ON_HOLD", True), ("AWAITING_SHIPMENT", False)])
def test_row3b_payment_leaves_shopify_unchanged_during_holdback(status: str, on_hold: bool) -> None:
    """Row 3b: paid (via ON_HOLD or straight to AWAITING_SHIPMENT) changes nothing until P+60."""
    run = Run()
    run.reserved()
    decision = run.observe(status, PAID, paid=PAID, on_hold=on_hold)
    assert decision.commands == ()
    assert dict(decision.set_deadlines)["holdback"] == PAID + minutes(60)
    assert "unpaid" in decision.cleared_deadlines
    assert run.observe(status, PAID + minutes(59), paid=PAID, on_hold=on_hold).commands == ()


@pytest.mark.parametrize(
    ("initiator", "reason", "expected"),
    [
        ("BUYER", "buyer_cancel_changed_mind", "CUSTOMER"),
        ("SYSTEM", "system_cancel_anti_span_block", "FRAUD"),
        ("OPERATOR", "system_cancel_order_reason_potential_fraud", "FRAUD"),
    ],
)
def test_row4a_cancel_inside_holdback_is_mirrored(
    initiator: str, reason: str, expected: str
) -> None:
    """Row 4a: a buyer or fraud cancel before P+60 cancels Shopify with the mapped reason."""
    run = Run()
    run.reserved()
    run.observe("ON_HOLD", PAID, paid=PAID)
    run.observe("CANCELLED", PAID + minutes(20), paid=PAID, initiator=initiator, reason=reason)
    cancel = run.command()
    assert isinstance(cancel, CancelShopifyOrder)
    assert cancel.reason == expected
    assert "holdback" in (run.last.cleared_deadlines if run.last else ())


def test_row4b_release_at_holdback_end() -> None:
    """Row 4b: at P+60 the core asks to release, carrying the holdback end and our hold ids."""
    run = Run()
    run.reserved()
    run.observe("AWAITING_SHIPMENT", PAID, paid=PAID, on_hold=False)
    run.feed(ev.DeadlineReached("holdback"), PAID + minutes(60))
    release = run.command()
    assert isinstance(release, ReleaseShopifyOrder)
    assert release.hold_ids == ("h1",)
    assert release.holdback_ends_at == PAID + minutes(60)
    order = snapshot("AWAITING_SHIPMENT", at=PAID, paid=PAID, on_hold=False)
    run.feed(ev.ShopifyOrderReleased(release.key, order), PAID + minutes(60))
    assert run.mirror.phase is Phase.RELEASED


def test_rule3_release_refused_when_tiktok_not_ready_is_retried_later() -> None:
    """Rule 3: a release the fresh read refuses (still ON_HOLD) is tried again 5 minutes later."""
    run = Run()
    run.reserved()
    run.observe("ON_HOLD", PAID, paid=PAID)
    end = PAID + minutes(60)
    run.feed(ev.DeadlineReached("holdback"), end)
    release = run.command()
    still = snapshot("ON_HOLD", at=PAID, paid=PAID)
    decision = run.feed(ev.ReleaseRefused(release.key, still, "still ON_HOLD"), end)
    assert decision.commands == ()
    assert dict(decision.set_deadlines)["holdback"] == end + minutes(5)
    run.observe("AWAITING_SHIPMENT", end + minutes(1), paid=PAID)
    assert run.last is not None and run.last.commands == ()
    run.feed(ev.DeadlineReached("holdback"), end + minutes(5))
    assert isinstance(run.command(), ReleaseShopifyOrder)


def test_rule3_release_blocker_reads_fresh_state() -> None:
    """Rule 3 and 4: cancelled, unpaid, pending request, ON_HOLD or early all block a release."""
    policy, end = Policy(), PAID + minutes(60)
    ok = snapshot("AWAITING_SHIPMENT", paid=PAID, on_hold=False)
    assert release_blocker(ok, policy, end) is None
    assert release_blocker(ok, policy, end - timedelta(seconds=1)) is not None
    assert release_blocker(snapshot("CANCELLED", paid=PAID), policy, end) is not None
    assert release_blocker(snapshot("UNPAID"), policy, end) is not None
    assert release_blocker(snapshot("ON_HOLD", paid=PAID), policy, end) is not None
    pending = snapshot("AWAITING_SHIPMENT", paid=PAID, request_cancel=True)
    assert "cancellation request" in (release_blocker(pending, policy, end) or "")


def test_rule4_unpaid_order_is_never_released_even_after_holdback_time() -> None:
    """Rule 4: an order TikTok reports unpaid gets no release command, whatever the time."""
    run = Run()
    run.reserved()
    run.feed(ev.DeadlineReached("holdback"), T0 + timedelta(hours=5))
    assert run.last is not None
    assert not any(isinstance(c, ReleaseShopifyOrder) for c in run.last.commands)


def test_holdback_is_configurable_upward_only() -> None:
    """A 3 h auto-approval window moves the release to P+3h; below 60 minutes is refused."""
    run = Run(policy=Policy.from_minutes(holdback_minutes=180))
    run.reserved()
    decision = run.observe("AWAITING_SHIPMENT", PAID, paid=PAID, on_hold=False)
    assert dict(decision.set_deadlines)["holdback"] == PAID + minutes(180)
    run.feed(ev.DeadlineReached("holdback"), PAID + minutes(60))
    assert run.last is not None and run.last.commands == ()
    with pytest.raises(PolicyError, match="at least 60 minutes"):
        Policy.from_minutes(holdback_minutes=59)
    with pytest.raises(PolicyError, match="24 hours"):
        Policy.from_minutes(unpaid_window_minutes=60)


def request(status: str = "CANCELLATION_REQUEST_PENDING", at: datetime | None = None) -> ev.Event:
    when = at or PAID + minutes(90)
    return ev.CancellationObserved(
        "4035318504086604100", status, "BUYER", when, when + timedelta(hours=48)
    )


def test_row5_request_after_release_is_recorded_with_deadline() -> None:
    """Row 5: a buyer request after release is kept with its answer deadline; Shopify unchanged."""
    run = Run()
    run.released()
    decision = run.feed(request(), PAID + minutes(90))
    assert decision.commands == ()
    pending = run.mirror.pending_cancel_request
    assert pending is not None
    assert pending.deadline == PAID + minutes(90) + timedelta(hours=48)
    assert dict(decision.set_deadlines)["cancel_request"] == pending.deadline


def test_rule6_approval_cancels_shopify_first_then_tiktok() -> None:
    """Row 5a, rule 6: approval cancels Shopify first and approves on TikTok only after."""
    run = Run()
    run.released()
    now = PAID + minutes(95)
    run.feed(request(), now)
    decision = run.feed(ev.MerchantApprovedCancellation("4035318504086604100"), now)
    assert decision.refusal is None
    cancel = run.command()
    assert isinstance(cancel, CancelShopifyOrder)
    assert cancel.reason == "CUSTOMER"
    run.feed(ev.ShopifyOrderCancelled(cancel.key), now)
    approve = run.command()
    assert isinstance(approve, AnswerTikTokCancellation)
    assert approve.decision == "approve"
    run.feed(ev.TikTokCancellationAnswered(approve.key, approve.cancel_id, "approve"), now)
    assert isinstance(run.command(), SyncTikTokInventory)


def test_row5a_approval_refused_when_already_fulfilled() -> None:
    """Row 5a: approving after the Shopify order was fulfilled is refused with the reason."""
    run = Run()
    run.released()
    now = PAID + minutes(95)
    run.feed(ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "UPS", "1Z999"), now)
    run.feed(request(), now)
    decision = run.feed(ev.MerchantApprovedCancellation("4035318504086604100"), now)
    assert decision.refusal is not None
    assert "already fulfilled" in decision.refusal
    assert not any(isinstance(c, CancelShopifyOrder) for c in decision.commands)


def test_row5b_reject_outside_the_us_goes_to_tiktok() -> None:
    """Row 5b: a rejection in a market that allows it is sent to TikTok with the reason."""
    run = Run(policy=Policy.from_minutes(region="GB"))
    run.released()
    now = PAID + minutes(95)
    run.feed(request(), now)
    run.feed(
        ev.MerchantRejectedCancellation(
            "4035318504086604100", "seller_reject_apply_product_has_been_packed"
        ),
        now,
    )
    reject = run.command()
    assert isinstance(reject, AnswerTikTokCancellation)
    assert reject.decision == "reject"
    assert reject.reject_reason == "seller_reject_apply_product_has_been_packed"


def test_row5b_reject_in_the_us_is_refused_with_shipping_advice() -> None:
    """Row 5b: in the US the core refuses an API rejection and says shipping rejects the request."""
    run = Run()
    run.released()
    run.feed(request(), PAID + minutes(95))
    decision = run.feed(
        ev.MerchantRejectedCancellation("4035318504086604100", "x"), PAID + minutes(95)
    )
    assert decision.refusal is not None
    assert "shipping the package rejects" in decision.refusal
    assert decision.commands == ()


def test_row6_fulfilment_sends_tracking_and_carrier_errors_are_flagged() -> None:
    """Row 6: a fulfilment sends tracking; an unsupported carrier is flagged, then retried."""
    run = Run()
    run.released()
    now = PAID + minutes(120)
    run.feed(ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "Bonshaw", "B123"), now)
    ship = run.command()
    assert isinstance(ship, ShipOnTikTok)
    assert (ship.company, ship.number) == ("Bonshaw", "B123")
    run.feed(
        ev.ActionFailed(
            ship.key, ship.kind, "Carrier 'Bonshaw' ... TikTok accepts: USPS", "unsupported_carrier"
        ),
        now,
    )
    assert run.mirror.has_flag(FlagCode.UNSUPPORTED_CARRIER)
    assert run.mirror.needs_attention
    assert run.feed(ev.DeadlineReached("holdback"), now).commands == ()
    run.feed(ev.MerchantRetried(ship.kind), now)
    retry = run.command()
    assert isinstance(retry, ShipOnTikTok)
    assert not run.mirror.has_flag(FlagCode.UNSUPPORTED_CARRIER)
    run.feed(ev.TrackingSent(retry.key, retry.fulfillment_id, "USPS"), now)
    assert run.mirror.fulfilments[0].sent_to_tiktok


def test_row7_cancel_after_release_is_mirrored() -> None:
    """Row 7: a cancellation after release still cancels Shopify with restock."""
    run = Run()
    run.released()
    run.observe(
        "CANCELLED",
        PAID + minutes(200),
        paid=PAID,
        initiator="SELLER",
        reason="seller_cancel_reason_out_of_stock",
    )
    cancel = run.command()
    assert isinstance(cancel, CancelShopifyOrder)
    assert cancel.reason == "INVENTORY"


def test_row7_cancel_after_fulfilment_is_flagged_not_cancelled() -> None:
    """Row 7: a cancellation after fulfilment flags the order, cancels nothing in Shopify and
    brings TikTok's stock back in line with Shopify's (TikTok returned the units to sale)."""
    run = Run()
    run.released()
    now = PAID + minutes(200)
    run.feed(ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "UPS", "1Z9"), now)
    ship = run.command()
    run.feed(ev.TrackingSent(ship.key, ship.fulfillment_id, "UPS"), now)
    decision = run.observe(
        "CANCELLED", now + minutes(1), paid=PAID, initiator="SYSTEM", reason="package_lost"
    )
    assert [type(c) for c in decision.commands] == [SyncTikTokInventory]
    assert run.mirror.has_flag(FlagCode.CANCELLED_AFTER_FULFILMENT)


def test_cancelled_before_mirroring_creates_nothing() -> None:
    """An order first seen already cancelled is never created in Shopify."""
    run = Run()
    decision = run.observe("CANCELLED", T0 + minutes(3), initiator="BUYER")
    assert decision.commands == ()
    assert run.mirror.phase is Phase.CANCELLED
    assert run.mirror.shopify_order_id is None


def test_unknown_sku_is_flagged_never_dropped() -> None:
    """An unknown SKU still gets its Shopify order, and the order is flagged with what to do."""
    run = Run()
    run.observe("UNPAID", T0)
    create = run.command()
    run.feed(
        ev.ShopifyOrderCreated(
            create.key, "gid://shopify/Order/1", "#1001", ("h1",), ("MYSTERY-1",)
        ),
        T0,
    )
    assert run.mirror.phase is Phase.HELD
    flag = run.mirror.flags[0]
    assert flag.code is FlagCode.UNKNOWN_SKU
    assert "MYSTERY-1" in flag.message


def test_rule9_stale_and_duplicate_snapshots_change_nothing() -> None:
    """Rule 9: an older snapshot after a newer one, or the same one twice, is ignored."""
    run = Run()
    run.reserved()
    run.observe("ON_HOLD", PAID, paid=PAID)
    before = run.mirror
    assert run.observe("UNPAID", T0 + minutes(1)).mirror == before
    assert run.observe("ON_HOLD", PAID, paid=PAID).mirror == before


def test_rule9_same_second_ties_go_to_the_later_status() -> None:
    """Rule 9: two snapshots of one second apply in status order, whatever their arrival."""
    run = Run()
    run.reserved()
    run.observe("CANCELLED", PAID, initiator="BUYER")
    run.observe("ON_HOLD", PAID, paid=PAID)
    assert run.mirror.tiktok_cancelled


def test_cancel_while_reservation_in_flight_waits_for_it() -> None:
    """One command at a time: a cancel seen while the create is in flight follows its outcome."""
    run = Run()
    run.observe("UNPAID", T0)
    create = run.command()
    assert run.observe("CANCELLED", T0 + minutes(1), initiator="BUYER").commands == ()
    run.feed(
        ev.ShopifyOrderCreated(create.key, "gid://shopify/Order/1", "#1001", ("h1",)),
        T0 + minutes(1),
    )
    assert isinstance(run.command(), CancelShopifyOrder)


def test_stale_outcome_is_ignored() -> None:
    """An outcome for a command that is not in flight (a duplicate completion) changes nothing."""
    run = Run()
    run.reserved()
    before = run.mirror
    decision = run.feed(
        ev.ShopifyOrderCreated("other/1/key", "gid://shopify/Order/9", "#9", ()), T0
    )
    assert decision.mirror == before


def test_mirror_round_trips_through_json() -> None:
    """A mirror with every kind of field encodes to JSON and decodes to an equal mirror."""
    run = Run()
    run.released()
    run.feed(request(), PAID + minutes(95))
    run.feed(
        ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "UPS", "1Z9"),
        PAID + minutes(96),
    )
    import json

    data = json.loads(json.dumps(encode_mirror(run.mirror)))
    assert decode_mirror(data) == run.mirror


def test_fulfilment_seen_while_our_release_finishes_is_not_flagged() -> None:
    """kill -9 after Shopify released but before the outcome was recorded: the merchant fulfils
    what our release freed. That is not "fulfilled before release", and the release's late
    outcome does not move the order back from fulfilled."""
    run = Run()
    run.reserved()
    run.observe("AWAITING_SHIPMENT", PAID + minutes(1), paid=PAID, on_hold=False)
    run.feed(ev.DeadlineReached("holdback"), PAID + minutes(60))
    release = run.command()
    assert isinstance(release, ReleaseShopifyOrder)
    run.feed(ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "UPS", "1Z9"), PAID)
    assert not run.mirror.has_flag(FlagCode.FULFILLED_BEFORE_RELEASE)
    order = snapshot("AWAITING_SHIPMENT", at=PAID + minutes(1), paid=PAID, on_hold=False)
    run.feed(ev.ShopifyOrderReleased(release.key, order), PAID + minutes(61))
    assert run.mirror.phase is Phase.FULFILLED
    assert isinstance(run.command(), ShipOnTikTok)


def test_fulfilment_before_any_release_is_flagged() -> None:
    run = Run()
    run.reserved()
    run.feed(ev.ShopifyFulfilmentObserved("gid://shopify/Fulfillment/1", "UPS", "1Z9"), PAID)
    assert run.mirror.has_flag(FlagCode.FULFILLED_BEFORE_RELEASE)
