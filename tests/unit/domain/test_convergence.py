"""Random interleavings of TikTok events, webhook faults and worker crashes never break the rules.

A Hypothesis state machine drives TikTok (create, pay, fail payment, cancel, request cancel,
time passing), delivers webhooks late, twice, out of order or never, runs commands through the
real executors against in-memory platforms, and crashes workers between executing a command and
recording its outcome. After every step the workflow's rules must hold; at the end, once
everything has settled (reconciliation included), every cancellation must be mirrored.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.commands import Command
from shopbridge.domain.mirror import FlagCode, OrderMirror, Phase
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus
from shopbridge.domain.transition import transition
from shopbridge.engine.executors import ConnectionContext, execute
from shopbridge.engine.ports import PermanentError
from shopbridge_sandbox.fakes import FakeShopify, FakeTikTok
from support.orders import T0, snapshot

ORDERS = ("1001", "1002")
HOUR = timedelta(hours=1)
# Two SKUs, one TikTok line item per unit: partial cancels take any subset of them.
ITEMS = {"TEE-RED-L": 2, "MUG-BLUE": 1}


class RecordingShopify(FakeShopify):
    """Remembers when each order was marked paid or released, to check rules 3 and 4."""

    def __init__(self, clock: ManualClock, tiktok: FakeTikTok) -> None:
        super().__init__({"TEE-RED-L": 50, "MUG-BLUE": 50})
        self.clock, self.tiktok = clock, tiktok
        self.paid_at: dict[str, tuple[datetime, TikTokOrder]] = {}

    async def mark_paid(self, order_id: str) -> None:
        await super().mark_paid(order_id)
        tiktok_id = self.orders[order_id].tiktok_order_id
        self.paid_at.setdefault(order_id, (self.clock.now(), self.tiktok.orders[tiktok_id]))


class Mirroring(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.policy = Policy()
        self.tiktok = FakeTikTok()
        self.shopify = RecordingShopify(self.clock, self.tiktok)
        self.ctx = ConnectionContext(1, self.tiktok, self.shopify, self.policy, self.clock)
        self.mirrors = {o: OrderMirror(o) for o in ORDERS}
        self.outbox: list[tuple[str, Command]] = []
        self.deadlines: dict[tuple[str, str], datetime] = {}
        self.in_transit: list[TikTokOrder] = []  # webhooks sent, not yet delivered
        self.updates = 0
        self.boxes = 0

    # --- the bridge, as the worker runs it --------------------------------------------------

    def apply(self, order_id: str, event: ev.Event) -> None:
        decision = transition(self.mirrors[order_id], event, self.clock.now(), self.policy)
        self.mirrors[order_id] = decision.mirror
        self.outbox.extend((order_id, c) for c in decision.commands)
        for kind, due in decision.set_deadlines:
            self.deadlines[(order_id, kind)] = due
        for kind in decision.cleared_deadlines:
            self.deadlines.pop((order_id, kind), None)

    def run(self, order_id: str, command: Command) -> ev.Event:
        return asyncio.run(execute(command, self.ctx))

    # --- TikTok, as the buyer and the platform act ------------------------------------------

    def tiktok_change(self, order_id: str, **changes: object) -> None:
        self.updates += 1
        now = self.clock.now()
        current = self.tiktok.orders[order_id]
        stamped = replace(current, update_time=max(now, current.update_time), **changes)  # type: ignore[arg-type]
        self.tiktok.put(stamped)
        self.in_transit.append(stamped)

    def status(self, order_id: str) -> TikTokStatus | None:
        order = self.tiktok.orders.get(order_id)
        return None if order is None else order.status

    @initialize(order_id=st.sampled_from(ORDERS))
    def buyer_places_order(self, order_id: str) -> None:
        order = snapshot("UNPAID", at=self.clock.now(), order_id=order_id, skus=ITEMS)
        order = replace(order, create_time=self.clock.now())
        self.tiktok.put(order)
        self.in_transit.append(order)

    @rule(order_id=st.sampled_from(ORDERS), on_hold=st.booleans())
    def buyer_pays(self, order_id: str, on_hold: bool) -> None:
        if self.status(order_id) is TikTokStatus.UNPAID:
            status = TikTokStatus.ON_HOLD if on_hold else TikTokStatus.AWAITING_SHIPMENT
            self.tiktok_change(
                order_id, status=status, paid_time=self.clock.now(), is_on_hold_order=on_hold
            )

    @rule(order_id=st.sampled_from(ORDERS))
    def payment_fails(self, order_id: str) -> None:
        if self.status(order_id) is TikTokStatus.UNPAID:
            self.tiktok_change(order_id)

    @rule(order_id=st.sampled_from(ORDERS), fraud=st.booleans())
    def cancel_freely(self, order_id: str, fraud: bool) -> None:
        """A buyer (or TikTok for fraud) cancels while no approval is needed."""
        order = self.tiktok.orders.get(order_id)
        if order is None or order.status is TikTokStatus.CANCELLED:
            return
        free = order.paid_time is None or self.clock.now() < order.paid_time + HOUR
        if free or fraud:
            reason = "system_cancel_anti_span_block" if fraud else "buyer_changed_mind"
            initiator = "SYSTEM" if fraud else "BUYER"
            self.tiktok_change(
                order_id,
                status=TikTokStatus.CANCELLED,
                cancel_reason=reason,
                cancellation_initiator=initiator,
            )

    @rule(order_id=st.sampled_from(ORDERS), pick=st.integers(min_value=0, max_value=2))
    def tiktok_cancels_one_unit(self, order_id: str, pick: int) -> None:
        """A seller (out of stock) or TikTok cancels one unit; the order lives on while any
        unit does, and is CANCELLED when the last one goes."""
        order = self.tiktok.orders.get(order_id)
        if order is None or order.status not in (
            TikTokStatus.UNPAID,
            TikTokStatus.ON_HOLD,
            TikTokStatus.AWAITING_SHIPMENT,
        ):
            return
        target = order.units[pick].line_item_id
        units = tuple(
            replace(u, status="CANCELLED", cancel_user="SELLER") if u.line_item_id == target else u
            for u in order.units
        )
        if all(u.cancelled for u in units):
            self.tiktok_change(
                order_id,
                units=units,
                status=TikTokStatus.CANCELLED,
                cancellation_initiator="SELLER",
                cancel_reason="seller_cancel_reason_out_of_stock",
            )
        else:
            self.tiktok_change(order_id, units=units)

    @rule(order_id=st.sampled_from(ORDERS), sku=st.sampled_from(sorted(ITEMS)))
    def merchant_ships_a_box(self, order_id: str, sku: str) -> None:
        """The merchant fulfils every remaining unit of one SKU in Shopify: one box."""
        mirror = self.mirrors[order_id]
        if mirror.phase not in (Phase.RELEASED, Phase.FULFILLED) or not mirror.shopify_order_id:
            return
        self.boxes += 1
        try:
            box = self.shopify.fulfil(
                mirror.shopify_order_id, "USPS", f"94001118992231974{self.boxes:05d}", {sku: 99}
            )
        except PermanentError:
            return  # on hold, cancelled, or nothing of that SKU left
        self.apply(
            order_id,
            ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines),
        )

    @rule(order_id=st.sampled_from(ORDERS))
    def buyer_requests_cancel_then_tiktok_approves(self, order_id: str) -> None:
        order = self.tiktok.orders.get(order_id)
        if order is not None and order.status is TikTokStatus.AWAITING_SHIPMENT:
            self.tiktok_change(order_id, is_buyer_request_cancel=True)
            self.tiktok_change(
                order_id,
                status=TikTokStatus.CANCELLED,
                is_buyer_request_cancel=False,
                cancellation_initiator="BUYER",
                cancel_reason="buyer_request_auto_approved",
            )

    @rule(minutes=st.sampled_from([1, 10, 30, 59, 61, 120, 60 * 25]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        now = self.clock.now()
        for order_id, order in list(self.tiktok.orders.items()):
            if (
                order.status is TikTokStatus.ON_HOLD
                and order.paid_time
                and now >= order.paid_time + HOUR
            ):
                self.tiktok_change(order_id, status=TikTokStatus.AWAITING_SHIPMENT)
            elif order.status is TikTokStatus.UNPAID and now >= order.create_time + 24 * HOUR:
                self.tiktok_change(
                    order_id,
                    status=TikTokStatus.CANCELLED,
                    cancellation_initiator="SYSTEM",
                    cancel_reason="system_cancel_unpaid_time_out",
                )

    # --- webhooks: late, twice, out of order, or never --------------------------------------

    @precondition(lambda self: self.in_transit)
    @rule(pick=st.integers(min_value=0), duplicate=st.booleans())
    def webhook_arrives(self, pick: int, duplicate: bool) -> None:
        sent = self.in_transit[pick % len(self.in_transit)]
        if not duplicate:
            self.in_transit.remove(sent)
        # The receiver re-reads the order, but the read may be stale; apply what was sent.
        self.apply(sent.order_id, ev.TikTokOrderObserved(sent))

    @precondition(lambda self: self.in_transit)
    @rule(pick=st.integers(min_value=0))
    def webhook_lost(self, pick: int) -> None:
        self.in_transit.pop(pick % len(self.in_transit))

    @rule()
    def reconciliation(self) -> None:
        for order_id, order in self.tiktok.orders.items():
            self.apply(order_id, ev.TikTokOrderObserved(order, "reconcile"))

    # --- the worker -------------------------------------------------------------------------

    @precondition(lambda self: self.outbox)
    @rule(crash=st.booleans())
    def worker_runs_next_command(self, crash: bool) -> None:
        self.outbox.sort(key=lambda item: item[1].priority)
        order_id, command = self.outbox[0]
        outcome = self.run(order_id, command)
        if crash:
            return  # the effects happened, the outcome was never recorded; the lease brings it back
        self.outbox.pop(0)
        self.apply(order_id, outcome)

    @rule()
    def bridge_catches_up(self) -> None:
        """The worker drains everything that is due, with no crash."""
        for _ in range(20):
            self.deadlines_fire()
            if not self.outbox:
                return
            self.worker_runs_next_command(crash=False)

    @rule()
    def deadlines_fire(self) -> None:
        now = self.clock.now()
        for (order_id, kind), due in sorted(self.deadlines.items(), key=lambda kv: kv[1]):
            if due <= now and self.deadlines.get((order_id, kind)) == due:
                del self.deadlines[(order_id, kind)]
                self.apply(order_id, ev.DeadlineReached(kind))

    # --- the rules ----------------------------------------------------------------------------

    @invariant()
    def one_shopify_order_per_tiktok_order(self) -> None:
        for order_id in ORDERS:
            assert len(self.shopify.orders_for(order_id)) <= 1

    @invariant()
    def never_released_early_or_unpaid(self) -> None:
        for shopify_id, (marked_at, seen) in self.shopify.paid_at.items():
            assert seen.paid_time is not None, "marked paid while TikTok had no payment"
            assert seen.status not in (
                TikTokStatus.UNPAID,
                TikTokStatus.CANCELLED,
                TikTokStatus.ON_HOLD,
            )
            assert marked_at >= seen.paid_time + self.policy.holdback, "released before P+60"
            order = self.shopify.orders[shopify_id]
            assert order.marked_paid_at_holds >= 0

    def teardown(self) -> None:
        """Once webhooks stop and time runs on, reconciliation and deadlines settle everything."""
        self.in_transit.clear()
        for _ in range(6):
            self.time_passes(60 * 25)
            self.reconciliation()
            self.bridge_catches_up()
        assert not self.outbox
        for order_id, order in self.tiktok.orders.items():
            mirrored = self.shopify.orders_for(order_id)
            mirror = self.mirrors[order_id]
            if order.status is TikTokStatus.CANCELLED:
                # Cancelled in Shopify, or, where a box had already left, flagged for the
                # merchant with every unfulfilled unit taken off the order.
                shipped = [o for o in mirrored if o.fulfilments]
                assert all(o.cancelled for o in mirrored if not o.fulfilments), (
                    f"cancellation of {order_id} not mirrored"
                )
                if shipped:
                    assert mirror.has_flag(FlagCode.CANCELLED_AFTER_FULFILMENT)
                    assert all(x.current == x.fulfilled for o in shipped for x in o.lines)
                else:
                    assert mirror.phase is Phase.CANCELLED
                if mirrored:
                    assert mirror.inventory_synced
            else:
                assert len(mirrored) == 1
                assert mirror.phase in (Phase.RELEASED, Phase.FULFILLED)
                assert all(f.sent_to_tiktok for f in mirror.fulfilments)
        self.one_shopify_order_per_tiktok_order()
        self.never_released_early_or_unpaid()
        # Stock on Shopify moved by exactly the cancelled units: each order holds the units
        # TikTok still has live (or had shipped before TikTok cancelled them, flagged), and
        # what it holds unfulfilled is what Shopify commits.
        committed = dict.fromkeys(ITEMS, 0)
        for order_id, order in self.tiktok.orders.items():
            for shopify_order in self.shopify.orders_for(order_id):
                if shopify_order.cancelled:
                    continue
                for line in shopify_order.lines:
                    live = sum(1 for u in order.live_units if u.seller_sku == line.sku)
                    assert line.current >= live, (order_id, line)
                    if line.current > live:
                        assert line.current == line.fulfilled, (order_id, line)
                        assert self.mirrors[order_id].needs_attention
                    committed[line.sku] += line.current - line.fulfilled
        for sku in ITEMS:
            assert self.shopify.committed[sku] == committed[sku], sku
        self.no_cancelled_unit_ever_shipped()

    @invariant()
    def no_cancelled_unit_ever_shipped(self) -> None:
        for order in self.tiktok.orders.values():
            gone = order.cancelled_unit_ids
            for _tracking, units in self.tiktok.packages.values():
                assert not (gone & set(units)) or order.status is TikTokStatus.CANCELLED


TestMirroring = Mirroring.TestCase
TestMirroring.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
