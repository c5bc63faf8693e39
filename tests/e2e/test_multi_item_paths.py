"""Orders as they really are, end to end over both sandboxes: several SKUs, one TikTok line item
per unit, partial cancels before and after release, the merchant's item cancel, boxes shipped
apart, packages TikTok combines, tracking corrections and returns. Each test ends with the
invariant checker finding nothing wrong (SQLite and PostgreSQL: the `store` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror
from shopbridge.store import Store
from support.stack import SHOP, Stack, running_stack

HOLDBACK = timedelta(minutes=61)
ITEMS = {"TEE-RED-L": 2, "MUG-BLUE": 1}
USPS = "9400111899223197428490"
UPS = "1Z999AA10123456784"


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    async with running_stack(store, manual_clock) as running:
        yield running


def units(stack: Stack, order_id: str, sku: str) -> list[dict[str, Any]]:
    return [li for li in stack.tiktok.order(order_id)["line_items"] if li["seller_sku"] == sku]


def shopify_line(stack: Stack, order_id: str, sku: str) -> dict[str, Any]:
    return next(li for li in stack.shopify_order(order_id)["line_items"] if li["sku"] == sku)


def available(stack: Stack, sku: str) -> tuple[int, int]:
    """(TikTok, Shopify available): TikTok follows Shopify less the default buffer of 2."""
    return stack.tiktok.inventory(stack.shop_id, sku), stack.shopify.inventory(SHOP, sku)[
        "available"
    ]


async def paid_order(stack: Stack) -> str:
    order_id = stack.tiktok.create_order(stack.shop_id, ITEMS, paid=True)
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.phase == "held" and row.state is not None
    # Each TikTok unit is linked to its Shopify line item and that line's fulfillment-order
    # line, as orderCreate answered.
    links = decode_mirror(dict(row.state)).lines
    shopify = stack.shopify_order(order_id)
    fo_lines = {
        fo_line["line_item_id"]: fo_line["id"]
        for fo in shopify["fulfillment_orders"]
        for fo_line in fo["line_items"]
    }
    assert {link.shopify_line_id: link.fulfillment_line_id for link in links} == fo_lines
    tiktok_units = {li["id"]: li["seller_sku"] for li in stack.tiktok.order(order_id)["line_items"]}
    assert {u: link.seller_sku for link in links for u in link.unit_ids} == tiktok_units
    return order_id


async def released_order(stack: Stack) -> str:
    order_id = await paid_order(stack)
    await stack.advance(HOLDBACK)
    assert stack.mirror(order_id).phase == "released"
    return order_id


async def test_partial_cancel_inside_the_holdback_removes_the_units_and_keeps_the_hold(
    stack: Stack,
) -> None:
    order_id = await paid_order(stack)
    before = available(stack, "MUG-BLUE")
    await stack.advance(timedelta(minutes=20))
    (mug,) = units(stack, order_id, "MUG-BLUE")
    stack.tiktok.cancel_items(order_id, [mug["id"]], role="SELLER")
    await stack.settle()
    assert stack.tiktok.order(order_id)["status"] != "CANCELLED"
    assert shopify_line(stack, order_id, "MUG-BLUE")["current_quantity"] == 0
    assert shopify_line(stack, order_id, "TEE-RED-L")["current_quantity"] == 2
    order = stack.shopify_order(order_id)
    assert order["fulfillment_status"] == "ON_HOLD"  # the rest keeps its hold
    # Stock returned on both platforms for exactly the cancelled unit.
    assert available(stack, "MUG-BLUE") == (before[0] + 1, before[1] + 1)
    await stack.advance(timedelta(minutes=40))
    assert stack.mirror(order_id).phase == "released"
    assert stack.shopify_order(order_id)["financial_status"] == "PAID"
    assert await stack.breaches() == []


async def test_partial_cancel_after_release_keeps_the_release(stack: Stack) -> None:
    order_id = await released_order(stack)
    tee = units(stack, order_id, "TEE-RED-L")[0]
    stack.tiktok.cancel_items(order_id, [tee["id"]], role="SYSTEM")
    await stack.settle()
    assert shopify_line(stack, order_id, "TEE-RED-L")["current_quantity"] == 1
    order = stack.shopify_order(order_id)
    assert order["fulfillment_status"] == "UNFULFILLED"
    assert all(not fo["holds"] for fo in order["fulfillment_orders"])
    assert "Removed 1 × TEE-RED-L" in " ".join(stack.timeline(order_id))
    assert await stack.breaches() == []


async def test_the_merchant_cancels_an_out_of_stock_item_then_shopify_follows_tiktok(
    stack: Stack,
) -> None:
    order_id = await paid_order(stack)
    (mug,) = units(stack, order_id, "MUG-BLUE")
    decision = stack.worker.bridge.apply(
        stack.connection_id, order_id, ev.MerchantCancelledItems((mug["id"],), user="m@x.com")
    )
    assert decision.refusal is None
    await stack.settle()
    (mug,) = units(stack, order_id, "MUG-BLUE")
    assert mug["display_status"] == "CANCELLED" and mug["cancel_user"] == "SELLER"
    assert shopify_line(stack, order_id, "MUG-BLUE")["current_quantity"] == 0
    assert stack.mirror(order_id).phase == "held"
    # A shipped or cancelled item cannot be cancelled again: refused in words.
    again = stack.worker.bridge.apply(
        stack.connection_id, order_id, ev.MerchantCancelledItems((mug["id"],))
    )
    assert again.refusal is not None and "already cancelled" in again.refusal
    assert await stack.breaches() == []


async def test_split_shipment_in_two_boxes_is_two_tiktok_packages(stack: Stack) -> None:
    order_id = await released_order(stack)
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, "USPS", USPS, units={"TEE-RED-L": 2})
    await stack.settle()
    order = stack.tiktok.order(order_id)
    assert order["status"] == "PARTIALLY_SHIPPING"
    tees = units(stack, order_id, "TEE-RED-L")
    assert {u["tracking_number"] for u in tees} == {USPS}
    assert units(stack, order_id, "MUG-BLUE")[0].get("package_id") is None
    stack.shopify.fulfill_order(SHOP, gid, "UPS", UPS)
    await stack.settle()
    assert stack.tiktok.order(order_id)["status"] == "AWAITING_COLLECTION"
    (mug,) = units(stack, order_id, "MUG-BLUE")
    assert mug["tracking_number"] == UPS and mug["package_id"] != tees[0]["package_id"]
    row = stack.mirror(order_id)
    assert not row.needs_attention
    assert await stack.breaches() == []


async def test_a_package_tiktok_combined_ships_once_for_both_orders(stack: Stack) -> None:
    first = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    second = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1}, paid=True)
    await stack.advance(HOLDBACK)
    package = stack.tiktok.combine_packages(stack.shop_id, [first, second])
    await stack.settle()
    assert "package" in " ".join(stack.timeline(first)).lower()
    for order_id in (first, second):
        gid = stack.mirror(order_id).shopify_order_id
        assert gid is not None
        stack.shopify.fulfill_order(SHOP, gid, "USPS", USPS)
    await stack.settle()
    for order_id in (first, second):
        order = stack.tiktok.order(order_id)
        assert order["status"] == "AWAITING_COLLECTION", order_id
        assert {li["package_id"] for li in order["line_items"]} == {package}
        assert not stack.mirror(order_id).needs_attention
    assert await stack.breaches() == []


async def test_a_tracking_correction_reaches_tiktok_once_then_is_refused_visibly(
    stack: Stack,
) -> None:
    order_id = await released_order(stack)
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    fulfillment = stack.shopify.fulfill_order(SHOP, gid, "USPS", USPS)
    await stack.settle()
    stack.shopify.update_tracking(SHOP, fulfillment, "USPS", "9400111899223197428491")
    await stack.settle()
    (tee, _) = units(stack, order_id, "TEE-RED-L")
    assert stack.tiktok.package(tee["package_id"])["tracking_number"] == "9400111899223197428491"
    stack.shopify.update_tracking(SHOP, fulfillment, "USPS", "9400111899223197428492")
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.needs_attention
    assert row.attention_reason is not None and "one correction" in row.attention_reason
    assert await stack.breaches() == []


async def test_a_completed_return_is_recorded_in_shopify_and_restocked_on_request(
    stack: Stack,
) -> None:
    order_id = await released_order(stack)
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, "USPS", USPS)
    await stack.settle()
    stack.tiktok.carrier_collect(order_id)
    stack.tiktok.deliver(order_id)
    (mug,) = units(stack, order_id, "MUG-BLUE")
    return_id = stack.tiktok.create_return(order_id, [mug["id"]])
    await stack.settle()
    assert "return and refund" in " ".join(stack.timeline(order_id))
    before = available(stack, "MUG-BLUE")
    stack.tiktok.advance_return(return_id, "COMPLETE")
    await stack.settle()
    assert shopify_line(stack, order_id, "MUG-BLUE")["current_quantity"] == 0
    assert available(stack, "MUG-BLUE") == before  # not restocked by default
    decision = stack.worker.bridge.apply(
        stack.connection_id, order_id, ev.MerchantRestockedReturn(return_id)
    )
    assert decision.refusal is None
    await stack.settle()
    assert available(stack, "MUG-BLUE") == (before[0] + 1, before[1] + 1)
    assert await stack.breaches() == []


async def test_sync_after_holdback_creates_the_shopify_order_only_when_it_ends(
    stack: Stack,
) -> None:
    stack.store.update_connection(stack.connection_id, create_after_holdback=True)
    stack.worker.contexts.forget(stack.connection_id)
    tiktok_before, shopify_before = available(stack, "MUG-BLUE")
    order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1}, paid=True)
    await stack.settle()
    assert stack.shopify_orders_for(order_id) == []
    # Meanwhile TikTok's stock stays right: the unit is sold there, not yet in Shopify.
    assert available(stack, "MUG-BLUE") == (tiktok_before - 1, shopify_before)
    await stack.advance(HOLDBACK)
    assert stack.mirror(order_id).phase == "released"
    assert available(stack, "MUG-BLUE") == (tiktok_before - 1, shopify_before - 1)
    assert await stack.breaches() == []


async def test_packages_tiktok_split_before_shipping_are_shipped_box_by_box(stack: Stack) -> None:
    """TikTok splits an order into two packages (PACKAGE_UPDATE SPLIT): the mirror follows the
    package ids, and each Shopify box ships as the package TikTok made for its units."""
    order_id = await released_order(stack)
    tees = [u["id"] for u in units(stack, order_id, "TEE-RED-L")]
    (mug,) = [u["id"] for u in units(stack, order_id, "MUG-BLUE")]
    tee_package, mug_package = stack.tiktok.split_order(order_id, [tees, [mug]])
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.state is not None
    known = decode_mirror(dict(row.state)).tiktok
    assert known is not None
    assert {u.line_item_id: u.package_id for u in known.units} == {
        **dict.fromkeys(tees, tee_package),
        mug: mug_package,
    }
    gid = row.shopify_order_id
    assert gid is not None
    stack.shopify.fulfill_order(SHOP, gid, "USPS", USPS, units={"TEE-RED-L": 2})
    await stack.settle()
    assert {u["package_id"] for u in units(stack, order_id, "TEE-RED-L")} == {tee_package}
    assert stack.tiktok.package(tee_package)["tracking_number"] == USPS
    stack.shopify.fulfill_order(SHOP, gid, "UPS", UPS)
    await stack.settle()
    assert stack.tiktok.package(mug_package)["tracking_number"] == UPS
    assert stack.tiktok.order(order_id)["status"] == "AWAITING_COLLECTION"
    assert not stack.mirror(order_id).needs_attention
    assert await stack.breaches() == []


async def test_orders_tiktok_uncombined_again_ship_each_on_its_own(stack: Stack) -> None:
    """A combined package dissolved before shipping (CANCEL_COMBINE): each order ships alone."""
    first = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    second = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1}, paid=True)
    await stack.advance(HOLDBACK)
    package = stack.tiktok.combine_packages(stack.shop_id, [first, second])
    await stack.settle()
    stack.tiktok.uncombine_package(package)
    await stack.settle()
    for order_id, number in ((first, USPS), (second, "9400111899223197428491")):
        gid = stack.mirror(order_id).shopify_order_id
        assert gid is not None
        stack.shopify.fulfill_order(SHOP, gid, "USPS", number)
    await stack.settle()
    shipped = {}
    for order_id in (first, second):
        order = stack.tiktok.order(order_id)
        assert order["status"] == "AWAITING_COLLECTION", order_id
        (pkg,) = {li["package_id"] for li in order["line_items"]}
        shipped[order_id] = pkg
        assert not stack.mirror(order_id).needs_attention
    assert package not in shipped.values() and shipped[first] != shipped[second]
    assert await stack.breaches() == []


async def test_an_edit_shopify_refuses_is_flagged_with_a_retry_and_nothing_is_lost(
    stack: Stack,
) -> None:
    """The merchant archived the Shopify order; TikTok then cancels a unit. Shopify refuses the
    edit: the order says why and what to do, and Retry removes the unit once it is reopened."""
    order_id = await released_order(stack)
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    stack.shopify.close_order(SHOP, gid)
    (mug,) = units(stack, order_id, "MUG-BLUE")
    stack.tiktok.cancel_items(order_id, [mug["id"]], role="SYSTEM")
    await stack.settle()
    row = stack.mirror(order_id)
    assert row.needs_attention and row.attention_reason is not None
    assert "Closed orders can't be edited" in row.attention_reason
    assert "reopen it), then Retry" in row.attention_reason
    assert shopify_line(stack, order_id, "MUG-BLUE")["current_quantity"] == 1
    stack.shopify.close_order(SHOP, gid, closed=False)
    decision = stack.worker.bridge.apply(
        stack.connection_id, order_id, ev.MerchantRetried("remove_shopify_units")
    )
    assert decision.refusal is None
    await stack.settle()
    assert shopify_line(stack, order_id, "MUG-BLUE")["current_quantity"] == 0
    assert not stack.mirror(order_id).needs_attention
    assert await stack.breaches() == []
