"""Orders as they really are: several SKUs, one TikTok line item per unit, partial cancels,
boxes, tracking corrections and returns, decided by the core and carried out by the real
executors against the in-memory platforms."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror, encode_mirror
from shopbridge.domain.commands import (
    CancelOnTikTok,
    CancelShopifyOrder,
    Command,
    CorrectTikTokTracking,
    CreateShopifyOrder,
    RecordShopifyReturn,
    ReleaseShopifyOrder,
    RemoveShopifyUnits,
    RestockReturn,
    ShipOnTikTok,
)
from shopbridge.domain.mirror import FlagCode, OrderMirror, Phase
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus
from shopbridge.domain.transition import transition
from shopbridge.engine.executors import ConnectionContext, execute
from shopbridge_sandbox.fakes import FakeShopify, FakeTikTok
from support.orders import ORDER_ID, T0, minutes, snapshot, unit_id

SKUS = {"TEE-RED-L": 2, "MUG-BLUE": 1}
RED = [unit_id(ORDER_ID, 0, k) for k in range(2)]
MUG = unit_id(ORDER_ID, 1, 0)
STOCK = {"TEE-RED-L": 10, "MUG-BLUE": 5}


class Shop:
    """One multi-item order, its mirror, both platforms in memory, and a worker that runs
    every command the core issues until nothing is left."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.clock = ManualClock(T0)
        self.policy = policy or Policy()
        self.tiktok = FakeTikTok()
        self.shopify = FakeShopify(dict(STOCK))
        self.ctx = ConnectionContext(1, self.tiktok, self.shopify, self.policy, self.clock)
        self.mirror = OrderMirror(ORDER_ID)
        self.ran: list[Command] = []
        self.refusals: list[str] = []

    @property
    def order(self) -> TikTokOrder:
        return self.tiktok.orders[ORDER_ID]

    def feed(self, event: ev.Event) -> None:
        decision = transition(self.mirror, event, self.clock.now(), self.policy)
        # Every decision survives the store's round trip.
        self.mirror = decode_mirror(encode_mirror(decision.mirror))
        if decision.refusal:
            self.refusals.append(decision.refusal)
        for command in decision.commands:
            self.ran.append(command)
            self.feed(asyncio.run(execute(command, self.ctx)))

    def tiktok_says(self, order: TikTokOrder) -> None:
        self.tiktok.put(order)
        self.feed(ev.TikTokOrderObserved(order))

    def at(self, minute: float) -> datetime:
        self.clock.set(T0 + minutes(minute))
        return self.clock.now()

    def paid(self) -> None:
        """Created unpaid, paid at T0+5, seen after the holdback and released."""
        self.tiktok_says(snapshot("UNPAID", at=T0, skus=SKUS))
        self.tiktok_says(
            snapshot("AWAITING_SHIPMENT", at=self.at(5), paid=T0 + minutes(5), skus=SKUS)
        )

    def released(self) -> None:
        self.paid()
        self.at(66)
        self.feed(ev.DeadlineReached("holdback"))
        assert self.mirror.phase is Phase.RELEASED

    def cancel_units(self, *ids: str, by: str = "SELLER") -> None:
        """TikTok cancels these units (the order lives on while any unit does)."""
        now = self.clock.now()
        units = tuple(
            replace(u, status="CANCELLED", cancel_user=by) if u.line_item_id in ids else u
            for u in self.order.units
        )
        self.tiktok_says(replace(self.order, units=units, update_time=now))

    def shopify_line(self, sku: str) -> tuple[int, int]:
        """(current, fulfilled) of the Shopify order's line for this SKU."""
        (shopify_order,) = self.shopify.orders.values()
        line = next(x for x in shopify_order.lines if x.sku == sku)
        return line.current, line.fulfilled

    def kinds(self) -> list[type[Command]]:
        return [type(c) for c in self.ran]


def test_the_mirror_knows_each_unit_and_its_shopify_line() -> None:
    shop = Shop()
    shop.tiktok_says(snapshot("UNPAID", at=T0, skus=SKUS))
    links = {link.seller_sku: link.unit_ids for link in shop.mirror.lines}
    assert links == {"TEE-RED-L": tuple(RED), "MUG-BLUE": (MUG,)}
    for link in shop.mirror.lines:  # and the fulfillment-order line of each Shopify line
        assert link.fulfillment_line_id == link.shopify_line_id.replace(
            "LineItem", "FulfillmentOrderLineItem"
        )
    assert shop.shopify_line("TEE-RED-L") == (2, 0)  # one Shopify line per SKU, as today
    assert shop.shopify.committed == {"TEE-RED-L": 2, "MUG-BLUE": 1}


def test_partial_cancel_inside_the_holdback_removes_just_those_units_and_keeps_the_hold() -> None:
    shop = Shop()
    shop.paid()
    shop.at(20)
    shop.cancel_units(RED[1], by="SYSTEM")
    assert shop.kinds()[-1] is RemoveShopifyUnits
    assert shop.shopify_line("TEE-RED-L") == (1, 0)
    assert shop.shopify.available_stock == {"TEE-RED-L": 9, "MUG-BLUE": 4}  # one unit back
    assert shop.mirror.phase is Phase.HELD and shop.mirror.hold_ids
    assert shop.mirror.removed_units == (RED[1],)
    # The holdback still holds for what remains: no release before P+60.
    shop.feed(ev.DeadlineReached("holdback"))
    assert shop.mirror.phase is Phase.HELD
    shop.at(66)
    shop.feed(ev.DeadlineReached("holdback"))
    assert shop.mirror.phase is Phase.RELEASED
    # A repeated TikTok update changes nothing more.
    shop.feed(ev.TikTokOrderObserved(shop.order))
    assert shop.kinds().count(RemoveShopifyUnits) == 1


def test_partial_cancel_after_release_and_after_a_first_box() -> None:
    shop = Shop()
    shop.released()
    box = shop.shopify.fulfil(
        shop.mirror.shopify_order_id or "", "USPS", "9400111899223197428490", {"TEE-RED-L": 1}
    )
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    assert shop.mirror.fulfilments[0].unit_ids == (RED[0],)
    assert shop.tiktok.packages  # the box went to TikTok with its one unit
    shop.cancel_units(MUG)
    assert shop.shopify_line("MUG-BLUE") == (0, 0)
    assert shop.shopify_line("TEE-RED-L") == (2, 1)
    assert not shop.mirror.needs_attention


def test_tiktok_cancelling_a_unit_shopify_already_fulfilled_is_flagged_not_lost() -> None:
    shop = Shop()
    shop.released()
    # The merchant fulfilled everything; TikTok cancels the mug before that news arrives.
    shop.shopify.fulfil(shop.mirror.shopify_order_id or "", "USPS", "9400111899223197428490")
    shop.cancel_units(MUG)
    assert shop.kinds()[-1] is RemoveShopifyUnits
    assert shop.shopify_line("MUG-BLUE") == (1, 1)  # fulfilled units cannot be edited away
    flag = next(f for f in shop.mirror.flags if f.code is FlagCode.SHIPPED_CANCELLED_UNITS)
    assert "1 × MUG-BLUE" in flag.message
    assert shop.mirror.removed_units == (MUG,)  # handled once, not retried forever


def test_a_box_with_a_cancelled_unit_ships_only_what_tiktok_still_has() -> None:
    shop = Shop()
    shop.released()
    # TikTok cancels the mug after Shopify fulfilled everything but before we heard of it.
    box = shop.shopify.fulfil(shop.mirror.shopify_order_id or "", "USPS", "9400111899223197428490")
    units = tuple(
        replace(u, status="CANCELLED", cancel_user="SELLER") if u.line_item_id == MUG else u
        for u in shop.order.units
    )
    shop.tiktok.put(replace(shop.order, units=units, update_time=shop.clock.now()))
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    ship = next(c for c in shop.ran if isinstance(c, ShipOnTikTok))
    assert set(ship.unit_ids) == {*RED, MUG}
    ((_, shipped),) = shop.tiktok.packages.values()
    assert set(shipped) == set(RED)  # the cancelled mug never shipped on TikTok
    sent = shop.mirror.fulfilments[0]
    assert sent.sent_to_tiktok and MUG not in sent.unit_ids


def test_split_shipment_two_boxes_two_tiktok_packages() -> None:
    shop = Shop()
    shop.released()
    order_id = shop.mirror.shopify_order_id or ""
    first = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490", {"TEE-RED-L": 2})
    shop.feed(ev.ShopifyFulfilmentObserved(first.fulfillment_id, "USPS", first.number, first.lines))
    assert shop.order.status is TikTokStatus.PARTIALLY_SHIPPING
    second = shop.shopify.fulfil(order_id, "UPS", "1Z999AA10123456784")
    shop.feed(
        ev.ShopifyFulfilmentObserved(second.fulfillment_id, "UPS", second.number, second.lines)
    )
    boxes = sorted(units for _, units in shop.tiktok.packages.values())
    assert boxes == sorted([tuple(sorted(RED)), (MUG,)])
    assert shop.order.status is TikTokStatus.AWAITING_COLLECTION
    assert all(f.sent_to_tiktok and f.package_id for f in shop.mirror.fulfilments)


def test_a_tracking_correction_updates_the_package_once() -> None:
    shop = Shop()
    shop.released()
    order_id = shop.mirror.shopify_order_id or ""
    box = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490")
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    fixed = shop.shopify.retrack(order_id, box.fulfillment_id, "9400111899223197428491")
    shop.feed(ev.ShopifyFulfilmentObserved(fixed.fulfillment_id, "USPS", fixed.number, fixed.lines))
    assert CorrectTikTokTracking in shop.kinds()
    ((tracking, _),) = shop.tiktok.packages.values()
    assert tracking == "9400111899223197428491"
    assert not shop.mirror.fulfilments[0].needs_correction
    shop.feed(ev.ShopifyFulfilmentObserved(fixed.fulfillment_id, "USPS", fixed.number, fixed.lines))
    assert shop.kinds().count(CorrectTikTokTracking) == 1


def test_the_merchant_cancels_an_out_of_stock_item_on_tiktok_then_shopify_follows() -> None:
    shop = Shop()
    shop.paid()
    shop.feed(ev.MerchantCancelledItems((MUG,)))
    assert not shop.refusals
    assert CancelOnTikTok in shop.kinds() and RemoveShopifyUnits in shop.kinds()
    assert shop.order.unit(MUG) is not None and shop.order.unit(MUG).cancelled  # type: ignore[union-attr]
    assert shop.shopify_line("MUG-BLUE") == (0, 0)
    assert shop.mirror.cancel_units == ()
    assert shop.mirror.phase is Phase.HELD


def test_item_cancels_are_refused_in_plain_words_where_tiktok_does_not_allow_them() -> None:
    shop = Shop(Policy(region="DE"))
    shop.paid()
    shop.feed(ev.MerchantCancelledItems((MUG,)))
    assert "only in the US and the UK" in shop.refusals[-1]
    shop.feed(ev.MerchantCancelledItems(("nope",)))
    assert "not in this order" in shop.refusals[-1]
    # The whole order may go anywhere.
    shop.feed(ev.MerchantCancelledItems((*RED, MUG)))
    assert shop.order.status is TikTokStatus.CANCELLED
    assert CancelShopifyOrder in shop.kinds()
    assert shop.mirror.phase is Phase.CANCELLED


def test_a_shipped_item_cannot_be_cancelled() -> None:
    shop = Shop()
    shop.released()
    order_id = shop.mirror.shopify_order_id or ""
    box = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490", {"MUG-BLUE": 1})
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    shop.feed(ev.MerchantCancelledItems((MUG,)))
    assert "already shipped" in shop.refusals[-1]


def test_a_completed_return_is_recorded_and_restocked_on_request() -> None:
    shop = Shop()
    shop.released()
    order_id = shop.mirror.shopify_order_id or ""
    box = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490")
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    before = dict(shop.shopify.available_stock)
    shop.feed(ev.ReturnObserved("R1", "AWAITING_BUYER_SHIP", "RETURN_AND_REFUND", (MUG,), T0))
    assert RecordShopifyReturn not in shop.kinds()
    shop.feed(ev.MerchantRestockedReturn("R1"))
    assert "not complete yet" in shop.refusals[-1]
    later = T0 + minutes(600)
    done = ev.ReturnObserved(
        "R1", "RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_AND_REFUND", (MUG,), later
    )
    shop.feed(done)
    assert shop.kinds()[-1] is RecordShopifyReturn
    assert shop.shopify_line("MUG-BLUE")[0] == 0
    assert shop.shopify.available_stock == before  # default: no automatic restock
    shop.feed(ev.MerchantRestockedReturn("R1"))
    assert shop.kinds()[-1] is RestockReturn
    assert shop.shopify.available_stock["MUG-BLUE"] == before["MUG-BLUE"] + 1
    shop.feed(ev.MerchantRestockedReturn("R1"))
    assert "already back in stock" in shop.refusals[-1]


def test_returns_restock_by_themselves_when_the_merchant_says_so() -> None:
    shop = Shop(Policy(restock_returns=True))
    shop.released()
    order_id = shop.mirror.shopify_order_id or ""
    box = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490")
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    before = shop.shopify.available_stock["TEE-RED-L"]
    done = ev.ReturnObserved(
        "R2", "RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_AND_REFUND", tuple(RED), T0
    )
    shop.feed(done)
    assert shop.shopify.available_stock["TEE-RED-L"] == before + 2
    assert shop.mirror.returns[0].restocked


def test_sync_after_holdback_creates_the_shopify_order_only_when_the_holdback_ends() -> None:
    shop = Shop(Policy(create_after_holdback=True))
    shop.paid()
    assert CreateShopifyOrder not in shop.kinds()
    assert shop.mirror.phase is Phase.NEW
    assert "holdback" in shop.mirror.deadlines
    shop.at(66)
    shop.feed(ev.DeadlineReached("holdback"))
    assert shop.kinds()[-2:] == [CreateShopifyOrder, ReleaseShopifyOrder]
    assert shop.mirror.phase is Phase.RELEASED


def test_sync_after_holdback_never_creates_an_order_cancelled_inside_the_holdback() -> None:
    shop = Shop(Policy(create_after_holdback=True))
    shop.paid()
    shop.at(30)
    shop.tiktok_says(
        replace(
            shop.order,
            status=TikTokStatus.CANCELLED,
            cancellation_initiator="BUYER",
            update_time=shop.clock.now(),
        )
    )
    assert shop.mirror.phase is Phase.CANCELLED
    assert not shop.shopify.orders


def test_the_units_a_seller_may_still_cancel_are_live_and_in_no_box() -> None:
    shop = Shop()
    shop.released()
    assert shop.mirror.cancellable_units() == {*RED, MUG}
    order_id = shop.mirror.shopify_order_id or ""
    box = shop.shopify.fulfil(order_id, "USPS", "9400111899223197428490", {"TEE-RED-L": 2})
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    assert shop.mirror.cancellable_units() == {MUG}
    pending = replace(shop.mirror, cancel_units=(MUG,))
    assert pending.cancellable_units() == frozenset()
    # A box read without its lines ships everything the Shopify order held.
    whole = replace(shop.mirror, fulfilments=(replace(shop.mirror.fulfilments[0], unit_ids=()),))
    assert whole.cancellable_units() == frozenset()


def test_a_box_of_an_order_tiktok_cancelled_whole_is_flagged_once_as_such() -> None:
    """TikTok cancels the whole order while Shopify already shipped it: one flag says so (a
    cancel after fulfilment), not a second one per box."""
    shop = Shop()
    shop.released()
    box = shop.shopify.fulfil(shop.mirror.shopify_order_id or "", "USPS", "9400111899223197428490")
    shop.tiktok_says(
        replace(
            shop.order,
            status=TikTokStatus.CANCELLED,
            cancellation_initiator="SYSTEM",
            cancel_reason="system_cancel_anti_span_block",
            update_time=shop.clock.now(),
        )
    )
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number, box.lines))
    codes = [f.code for f in shop.mirror.flags]
    assert codes == [FlagCode.CANCELLED_AFTER_FULFILMENT]
    assert shop.mirror.fulfilments[0].sent_to_tiktok  # nothing TikTok still wants: no call
    assert not shop.tiktok.packages


def test_tiktok_asking_for_the_lines_of_a_box_is_answered_not_surfaced() -> None:
    """A box read without its lines ships the whole order; when TikTok answers 21011048
    (several packages could ship: name the lines), the same box is sent again naming every
    live unit not shipped yet, and the merchant sees nothing of it."""
    from shopbridge.engine.ports import PermanentError

    shop = Shop()
    shop.released()
    box = shop.shopify.fulfil(shop.mirror.shopify_order_id or "", "USPS", "9400111899223197428490")
    shop.tiktok.fail_next["mark_shipped"].append(
        PermanentError("several packages can be shipped", code="specify_lines")
    )
    shop.feed(ev.ShopifyFulfilmentObserved(box.fulfillment_id, "USPS", box.number))
    assert shop.tiktok.calls["mark_shipped"] == 2
    ((_, shipped),) = shop.tiktok.packages.values()
    assert set(shipped) == {*RED, MUG}
    assert shop.mirror.fulfilments[0].sent_to_tiktok and not shop.mirror.needs_attention
