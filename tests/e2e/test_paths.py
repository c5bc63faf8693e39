"""One end-to-end test per workflow path (workflow.md timeline rows), over both sandboxes.

Row 1 (an unpaid order reserved in Shopify) lives in test_smoke.py. Every test ends with the
invariant checker finding nothing wrong across TikTok, Shopify and the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.transition import Decision
from shopbridge.engine.runtime import VERSION_CHECK_SECONDS
from shopbridge.store import Store
from shopbridge_sandbox.tiktok import SkuSpec
from support.stack import SHOP, Stack, running_stack

HOLDBACK = timedelta(minutes=60)
UPS_TRACKING = "1Z999AA10123456784"
GB_REJECT_REASON = (
    "order_manage_list_action_respond_popup_reject_reason_invalid_cancellation_reason"
)


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


async def released_order(stack: Stack, items: dict[str, int]) -> str:
    """A TikTok order created paid and released in Shopify after the holdback."""
    order_id = stack.tiktok.create_order(stack.shop_id, items, paid=True)
    await stack.advance(HOLDBACK + timedelta(minutes=1))
    assert stack.shopify_order(order_id)["fulfillment_status"] == "UNFULFILLED"
    return order_id


def merchant(stack: Stack, order_id: str, event: ev.Event) -> Decision:
    """A merchant's answer, applied through the bridge as the UI would."""
    return stack.worker.bridge.apply(stack.connection_id, order_id, event)


async def handle_webhooks_until(stack: Stack, done: Callable[[], bool]) -> None:
    """Deliver webhooks and handle the inbox only (no command runs) until `done()`."""
    for _ in range(100):
        await stack.shopify.tick()
        await stack.worker.process_inbox()
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the webhooks never brought the expected change")


def stock_on_both(stack: Stack, sku: str) -> tuple[int, int]:
    """(TikTok sellable units, Shopify available) of a SKU: TikTok follows Shopify, less the
    default buffer of 2 units."""
    return stack.tiktok.inventory(stack.shop_id, sku), stack.shopify.inventory(SHOP, sku)[
        "available"
    ]


def assert_cancelled_with_restock(order: dict[str, Any], reason: str) -> None:
    assert order["cancelled_at"] is not None
    assert order["cancel_reason"] == reason
    assert all(line["committed"] == 0 for line in order["line_items"])


def index_of(timeline: list[str], words: str) -> int:
    return next(i for i, summary in enumerate(timeline) if words in summary)


async def test_unpaid_order_cancelled_by_tiktok_after_24h_is_cancelled_in_shopify(
    stack: Stack,
) -> None:
    """Row 3a: TikTok's 24 h unpaid cancel reaches Shopify as a DECLINED cancel with restock."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 2})
    await stack.settle()
    stack.tiktok.fail_payment(order_id)
    await stack.advance(timedelta(hours=23, minutes=59))
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    await stack.advance(timedelta(minutes=2))
    assert stack.tiktok.order(order_id)["status"] == "CANCELLED"
    assert_cancelled_with_restock(stack.shopify_order(order_id), "DECLINED")
    assert stock_on_both(stack, "TEE-RED-L") == (18, 20)
    assert stack.mirror(order_id).phase == "cancelled"
    assert await stack.breaches() == []


@pytest.mark.parametrize("on_hold_flow", [True, False], ids=["via-on-hold", "straight-to-awaiting"])
async def test_paid_order_unchanged_during_holdback_then_released(
    stack: Stack, on_hold_flow: bool
) -> None:
    """Rows 3b/4b: nothing changes in Shopify until paid + 60 min, then address, paid, released."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1}, on_hold_flow=on_hold_flow)
    await stack.settle()
    held = stack.shopify_order(order_id)
    stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=59, seconds=59))
    assert stack.shopify_order(order_id) == held
    await stack.advance(timedelta(seconds=2))
    order = stack.shopify_order(order_id)
    assert order["shipping_address"] is not None
    assert order["financial_status"] == "PAID"
    assert order["fulfillment_status"] == "UNFULFILLED"
    assert all(not fo["holds"] for fo in order["fulfillment_orders"])
    assert stack.mirror(order_id).phase == "released"
    assert await stack.breaches() == []


async def test_longer_holdback_on_the_connection_keeps_the_order_held(
    store: Store, manual_clock: ManualClock
) -> None:
    """A 180 min holdback keeps a paid order held at +61 min and releases it at +180 min."""
    async with running_stack(store, manual_clock, holdback_minutes=180) as stack:
        order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1})
        await stack.settle()
        stack.tiktok.pay(order_id)
        await stack.advance(timedelta(minutes=61))
        assert stack.tiktok.order(order_id)["status"] == "AWAITING_SHIPMENT"
        order = stack.shopify_order(order_id)
        assert order["financial_status"] == "PENDING"
        assert order["fulfillment_status"] == "ON_HOLD"
        await stack.advance(timedelta(minutes=119))
        assert stack.shopify_order(order_id)["financial_status"] == "PAID"
        assert await stack.breaches() == []


@pytest.mark.parametrize(
    ("cancel", "reason"), [("buyer_cancel", "CUSTOMER"), ("fraud_cancel", "FRAUD")]
)
async def test_cancel_inside_holdback_cancels_shopify_with_mapped_reason(
    stack: Stack, cancel: str, reason: str
) -> None:
    """Row 4a: a buyer or fraud cancel before paid + 60 min cancels Shopify with its reason."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1, "MUG-BLUE": 2})
    await stack.settle()
    stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=20))
    getattr(stack.tiktok, cancel)(order_id)
    await stack.settle()
    order = stack.shopify_order(order_id)
    assert_cancelled_with_restock(order, reason)
    assert order["financial_status"] == "PENDING"
    assert stock_on_both(stack, "TEE-RED-L") == (18, 20)
    assert stock_on_both(stack, "MUG-BLUE") == (18, 20)
    await stack.advance(HOLDBACK)
    assert stack.shopify_order(order_id)["financial_status"] == "PENDING"
    assert await stack.breaches() == []


async def test_cancellation_request_is_recorded_then_approval_cancels_shopify_first(
    stack: Stack,
) -> None:
    """Rows 5/5a: a request is shown with its deadline; approving cancels Shopify, then TikTok."""
    order_id = await released_order(stack, {"TEE-RED-L": 1})
    requested_at = stack.clock.now()
    cancel_id = stack.tiktok.request_cancellation(order_id)
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.cancel_request_deadline == requested_at + timedelta(hours=48)
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    decision = merchant(stack, order_id, ev.MerchantApprovedCancellation(cancel_id))
    assert decision.refusal is None
    await stack.settle()
    assert_cancelled_with_restock(stack.shopify_order(order_id), "CUSTOMER")
    assert stack.tiktok.order(order_id)["status"] == "CANCELLED"
    assert stack.tiktok.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    timeline = stack.timeline(order_id)
    shopify_cancelled = index_of(timeline, "Cancelled in Shopify with restock")
    tiktok_approved = index_of(timeline, "TikTok accepted our approval")
    assert shopify_cancelled < tiktok_approved
    assert stock_on_both(stack, "TEE-RED-L") == (18, 20)
    assert await stack.breaches() == []


async def test_approval_refused_when_shopify_order_already_fulfilled(stack: Stack) -> None:
    """Row 5a: approving a request for an order fulfilled in Shopify is refused, saying why."""
    order_id = await released_order(stack, {"TEE-RED-L": 1})
    cancel_id = stack.tiktok.request_cancellation(order_id)
    await stack.settle()
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, company="UPS", number=UPS_TRACKING)
    # Only the fulfilment webhook is handled, so the request is still pending on TikTok when
    # the merchant answers (shipping on TikTok would close it).
    await handle_webhooks_until(stack, lambda: stack.mirror(order_id).phase == "fulfilled")
    decision = merchant(stack, order_id, ev.MerchantApprovedCancellation(cancel_id))
    assert decision.refusal is not None
    assert "already fulfilled" in decision.refusal
    await stack.settle()
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    assert stack.tiktok.order(order_id)["status"] != "CANCELLED"
    assert await stack.breaches() == []


async def test_rejection_on_a_gb_connection_goes_to_tiktok(
    store: Store, manual_clock: ManualClock
) -> None:
    """Row 5b: on a GB shop the merchant's rejection is sent to TikTok and the order stays live."""
    async with running_stack(store, manual_clock, region="GB") as stack:
        order_id = await released_order(stack, {"MUG-BLUE": 1})
        cancel_id = stack.tiktok.request_cancellation(order_id)
        await stack.settle()
        rejection = ev.MerchantRejectedCancellation(cancel_id, GB_REJECT_REASON)
        assert merchant(stack, order_id, rejection).refusal is None
        await stack.settle()
        request = stack.tiktok.cancellation(cancel_id)
        assert request["cancel_status"] == "CANCELLATION_REQUEST_CANCELLED"
        assert stack.tiktok.order(order_id)["status"] == "AWAITING_SHIPMENT"
        assert stack.shopify_order(order_id)["cancelled_at"] is None
        assert stack.mirror(order_id).cancel_request_deadline is None
        assert await stack.breaches() == []


async def test_rejected_request_no_longer_holds_back_the_release(
    store: Store, manual_clock: ManualClock
) -> None:
    """Row 5b: a request rejected within the second it opened does not keep the order held.

    TikTok's update_time has one-second resolution, so the order read after the rejection
    looks no newer than the one that showed the request open.
    """
    async with running_stack(store, manual_clock, region="GB", holdback_minutes=180) as stack:
        order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1}, paid=True)
        await stack.advance(timedelta(minutes=90))
        cancel_id = stack.tiktok.request_cancellation(order_id)
        await stack.settle()
        rejection = ev.MerchantRejectedCancellation(cancel_id, GB_REJECT_REASON)
        assert merchant(stack, order_id, rejection).refusal is None
        await stack.settle()
        assert stack.tiktok.order(order_id)["is_buyer_request_cancel"] is False
        await stack.advance(timedelta(minutes=91))
        order = stack.shopify_order(order_id)
        assert order["financial_status"] == "PAID"
        assert order["fulfillment_status"] == "UNFULFILLED"
        assert await stack.breaches() == []


async def test_rejection_on_a_us_connection_is_refused_saying_shipping_rejects(
    stack: Stack,
) -> None:
    """Row 5b: in the US the rejection is refused, telling the merchant to ship instead."""
    order_id = await released_order(stack, {"MUG-BLUE": 1})
    cancel_id = stack.tiktok.request_cancellation(order_id)
    await stack.settle()
    rejection = ev.MerchantRejectedCancellation(cancel_id, GB_REJECT_REASON)
    decision = merchant(stack, order_id, rejection)
    assert decision.refusal is not None
    assert "shipping the package rejects the request" in decision.refusal
    await stack.settle()
    request = stack.tiktok.cancellation(cancel_id)
    assert request["cancel_status"] == "CANCELLATION_REQUEST_PENDING"
    assert stack.mirror(order_id).cancel_request_deadline is not None
    assert await stack.breaches() == []


async def test_fulfilment_with_ups_tracking_ships_the_tiktok_order(stack: Stack) -> None:
    """Row 6: a Shopify fulfilment's UPS tracking reaches TikTok with the UPS provider."""
    order_id = await released_order(stack, {"TEE-RED-L": 1})
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, company="UPS", number=UPS_TRACKING)
    await stack.settle()
    tiktok_order = stack.tiktok.order(order_id)
    assert tiktok_order["status"] == "AWAITING_COLLECTION"
    assert tiktok_order["shipping_provider"] == "UPS"
    assert tiktok_order["tracking_number"] == UPS_TRACKING
    assert not stack.mirror(order_id).needs_attention
    assert await stack.breaches() == []


async def test_unsupported_carrier_is_flagged_then_shipped_after_mapping_and_retry(
    stack: Stack,
) -> None:
    """Row 6: an unknown carrier names itself and TikTok's providers; a mapping plus retry ships."""
    order_id = await released_order(stack, {"TEE-RED-L": 1})
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, company="Bonshaw", number=UPS_TRACKING)
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.needs_attention
    assert row.attention_reason is not None
    assert "Bonshaw" in row.attention_reason
    assert "UPS" in row.attention_reason and "USPS" in row.attention_reason
    assert stack.tiktok.order(order_id)["status"] == "AWAITING_SHIPMENT"
    # Saved as another process would: the worker notices the settings version on its next use.
    stack.store.update_connection(stack.connection_id, carrier_mapping={"Bonshaw": "UPS"})
    await asyncio.sleep(VERSION_CHECK_SECONDS)
    assert merchant(stack, order_id, ev.MerchantRetried("ship_on_tiktok")).refusal is None
    await stack.settle()
    tiktok_order = stack.tiktok.order(order_id)
    assert tiktok_order["shipping_provider"] == "UPS"
    assert tiktok_order["tracking_number"] == UPS_TRACKING
    assert not stack.mirror(order_id).needs_attention
    assert await stack.breaches() == []


async def test_cancellation_after_release_cancels_shopify_with_restock(stack: Stack) -> None:
    """Row 7: a request TikTok approves itself after 48 h cancels the released Shopify order."""
    order_id = await released_order(stack, {"TEE-RED-L": 2})
    stack.tiktok.request_cancellation(order_id)
    await stack.settle()
    await stack.advance(timedelta(hours=48, minutes=1))
    assert stack.tiktok.order(order_id)["status"] == "CANCELLED"
    assert_cancelled_with_restock(stack.shopify_order(order_id), "CUSTOMER")
    assert stack.mirror(order_id).phase == "cancelled"
    assert stock_on_both(stack, "TEE-RED-L") == (18, 20)
    assert await stack.breaches() == []


async def test_cancellation_after_fulfilment_is_flagged_for_the_merchant(stack: Stack) -> None:
    """Row 7: TikTok auto-approving a request for an order fulfilled in Shopify flags it."""
    order_id = await released_order(stack, {"TEE-RED-L": 1})
    stack.tiktok.request_cancellation(order_id)
    await stack.settle()
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    # The carrier matches no TikTok provider, so TikTok never hears of the shipment and
    # approves the unanswered request on its own after 48 h.
    stack.shopify.fulfill_order(SHOP, gid, company="Bonshaw", number=UPS_TRACKING)
    await stack.settle()
    await stack.advance(timedelta(hours=48, minutes=1))
    assert stack.tiktok.order(order_id)["status"] == "CANCELLED"
    row = stack.mirror(order_id)
    assert row.phase == "fulfilled"
    assert row.needs_attention
    assert row.attention_reason is not None
    assert "after it was fulfilled" in row.attention_reason
    assert stack.shopify_order(order_id)["cancelled_at"] is None
    assert await stack.breaches() == []


async def test_stock_returned_on_both_platforms_after_every_cancellation(stack: Stack) -> None:
    """Rows 3a/4a/5a: after each kind of cancellation TikTok's stock equals Shopify's available."""
    unpaid = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})
    by_buyer = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 2, "MUG-BLUE": 1})
    by_fraud = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 3})
    requested = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1, "MUG-BLUE": 1})
    await stack.settle()
    # Another sales channel sells 3 tees in Shopify: TikTok must follow Shopify, not its own count.
    stack.shopify.adjust_stock(SHOP, "TEE-RED-L", -3)
    for order_id in (by_buyer, by_fraud, requested):
        stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=10))
    stack.tiktok.buyer_cancel(by_buyer)
    stack.tiktok.fraud_cancel(by_fraud)
    await stack.advance(HOLDBACK)
    cancel_id = stack.tiktok.request_cancellation(requested)
    await stack.settle()
    assert merchant(stack, requested, ev.MerchantApprovedCancellation(cancel_id)).refusal is None
    await stack.advance(timedelta(hours=24))
    for order_id in (unpaid, by_buyer, by_fraud, requested):
        assert stack.tiktok.order(order_id)["status"] == "CANCELLED"
        assert stack.shopify_order(order_id)["cancelled_at"] is not None
    assert stock_on_both(stack, "TEE-RED-L") == (15, 17)
    assert stock_on_both(stack, "MUG-BLUE") == (18, 20)
    assert await stack.breaches() == []


async def test_unknown_sku_becomes_a_custom_line_and_a_flag(stack: Stack) -> None:
    """Row 1: a SKU Shopify lacks is mirrored as a custom line and flagged, never lost."""
    stack.tiktok.add_product(
        stack.shop_id, title="Gift wrap", skus=[SkuSpec("GIFT-WRAP", "3.00", 5)]
    )
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1, "GIFT-WRAP": 1})
    await stack.settle()
    orders = stack.shopify_orders_for(order_id)
    assert len(orders) == 1
    lines = {line["sku"]: line for line in orders[0]["line_items"]}
    assert lines["TEE-RED-L"]["committed"] == 1
    assert lines["GIFT-WRAP"]["quantity"] == 1
    assert lines["GIFT-WRAP"]["committed"] == 0
    row = stack.mirror(order_id)
    assert row.phase == "held"
    assert row.needs_attention
    assert row.attention_reason is not None
    assert "GIFT-WRAP" in row.attention_reason
    assert await stack.breaches() == []
