"""The order lifecycle of §3.1, read back through Get Order Detail over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok import SandboxError, ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient


def detail(api: SignedClient, order_id: str) -> dict[str, Any]:
    orders = api.ok("GET", "/order/202309/orders", {"ids": order_id})["orders"]
    assert len(orders) == 1
    return orders[0]  # type: ignore[no-any-return]


def test_new_order_is_unpaid_without_address_one_line_item_per_unit(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A new order is UNPAID, hides the address, and lists each unit as its own line item."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    order = detail(api, order_id)
    assert order["status"] == "UNPAID"
    assert order["recipient_address"] == {}
    assert [li["seller_sku"] for li in order["line_items"]] == [
        "TEE-RED-L",
        "TEE-RED-L",
        "TEE-BLU-M",
    ]
    assert all("quantity" not in li for li in order["line_items"])
    assert len({li["id"] for li in order["line_items"]}) == 3
    assert order["payment"]["sub_total"] == "61.48"
    assert order["payment"]["total_amount"] == "66.40"  # 8% sandbox US tax
    assert order["delivery_option_id"] == sandbox.delivery_option_id(shop.shop_id)


def test_paid_on_hold_order_is_released_one_hour_after_payment(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """UNPAID -> ON_HOLD at payment, -> AWAITING_SHIPMENT exactly 1 h after paid_time."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(600)
    sandbox.pay(order_id)
    on_hold = detail(api, order_id)
    assert (on_hold["status"], on_hold["is_on_hold_order"]) == ("ON_HOLD", True)
    assert on_hold["paid_time"] == int(clock.now().timestamp())
    assert on_hold["recipient_address"] == {}
    clock.advance(timedelta(hours=1) - timedelta(seconds=1))
    assert detail(api, order_id)["status"] == "ON_HOLD"
    clock.advance(1)
    released = detail(api, order_id)
    assert released["status"] == "AWAITING_SHIPMENT"
    assert released["update_time"] == on_hold["paid_time"] + 3600
    assert released["recipient_address"]["postal_code"] == "95110"


def test_order_outside_the_on_hold_flow_goes_straight_to_awaiting_shipment(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """With is_on_hold_order=false payment moves UNPAID straight to AWAITING_SHIPMENT."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=False)
    order = detail(api, order_id)
    assert (order["status"], order["is_on_hold_order"]) == ("AWAITING_SHIPMENT", False)


def test_on_hold_flow_is_refused_outside_us_and_uk(sandbox: TikTokSandbox) -> None:
    """ON_HOLD exists only in the US and UK."""
    de = sandbox.add_shop(name="DE", region="DE")
    with pytest.raises(SandboxError, match="ON_HOLD"):
        sandbox.create_order(de.shop_id, {"X": 1}, on_hold_flow=True)


def test_failed_payment_leaves_the_order_unpaid(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A declined payment changes nothing: still UNPAID, still payable."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    before = detail(api, order_id)
    sandbox.fail_payment(order_id)
    sandbox.fail_payment(order_id)
    assert detail(api, order_id) == before
    sandbox.pay(order_id)
    assert detail(api, order_id)["status"] == "ON_HOLD"


def test_unpaid_order_is_cancelled_by_the_system_after_24_hours(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """24 h after create_time an unpaid order is CANCELLED by SYSTEM for the payment time-out."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    created = detail(api, order_id)["create_time"]
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert detail(api, order_id)["status"] == "UNPAID"
    clock.advance(1)
    order = detail(api, order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancel_reason"] == "system_cancel_unpaid_time_out"
    assert order["cancellation_initiator"] == "SYSTEM"
    assert order["cancel_time"] == order["update_time"] == created + 86400


@pytest.mark.parametrize("paid", [False, True], ids=["unpaid", "on_hold"])
def test_buyer_cancels_freely_while_unpaid_or_on_hold(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, paid: bool
) -> None:
    """A buyer cancel while UNPAID or ON_HOLD cancels at once, initiated by BUYER."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=paid)
    sandbox.buyer_cancel(order_id)
    order = detail(api, order_id)
    assert (order["status"], order["cancellation_initiator"]) == ("CANCELLED", "BUYER")


def test_buyer_cancels_freely_in_the_remorse_hour_outside_the_on_hold_flow(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """With is_on_hold_order=false the free cancel lasts 1 h into AWAITING_SHIPMENT."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=False)
    clock.advance(3599)
    sandbox.buyer_cancel(order_id)
    assert detail(api, order_id)["status"] == "CANCELLED"


@pytest.mark.parametrize("on_hold_flow", [True, False], ids=["on_hold", "direct"])
def test_buyer_cancel_after_the_remorse_hour_is_refused(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock, on_hold_flow: bool
) -> None:
    """Past the remorse hour, in either flow, a buyer can only request a cancellation."""
    order_id = sandbox.create_order(
        shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=on_hold_flow
    )
    clock.advance(3600)
    with pytest.raises(SandboxError, match="request"):
        sandbox.buyer_cancel(order_id)


def test_fraud_cancel_uses_the_risk_reason(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A risk-review cancel is SYSTEM's, with reason system_cancel_anti_span_block."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    sandbox.fraud_cancel(order_id)
    order = detail(api, order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancel_reason"] == "system_cancel_anti_span_block"
    assert order["cancellation_initiator"] == "SYSTEM"


def test_late_buyer_cancel_is_a_pending_request_with_a_48_hour_deadline(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """After the remorse hour a buyer cancel opens a request; the order flags it."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    clock.advance(7200)
    cancel_id = sandbox.request_cancellation(order_id)
    order = detail(api, order_id)
    assert (order["status"], order["is_buyer_request_cancel"]) == ("AWAITING_SHIPMENT", True)
    assert order["request_cancel_time"] == int(clock.now().timestamp())
    found = api.ok(
        "POST", "/return_refund/202309/cancellations/search", body={"order_ids": [order_id]}
    )["cancellations"]
    assert len(found) == 1
    request = found[0]
    assert request["cancel_id"] == cancel_id
    assert (request["cancel_type"], request["cancel_status"], request["role"]) == (
        "BUYER_CANCEL",
        "CANCELLATION_REQUEST_PENDING",
        "BUYER",
    )
    deadline = int(clock.now().timestamp()) + 48 * 3600
    assert request["seller_next_action_response"] == [
        {"action": "SELLER_RESPOND_CANCEL", "deadline": deadline}
    ]


def test_unanswered_request_is_approved_at_its_deadline(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A request the seller ignores for 48 h is approved by TikTok: the order is CANCELLED."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    clock.advance(7200)
    cancel_id = sandbox.request_cancellation(order_id)
    clock.advance(timedelta(hours=48) - timedelta(seconds=1))
    assert detail(api, order_id)["status"] == "AWAITING_SHIPMENT"
    clock.advance(1)
    order = detail(api, order_id)
    assert (order["status"], order["is_buyer_request_cancel"]) == ("CANCELLED", False)
    assert sandbox.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"


def test_update_time_moves_on_every_status_change(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Each transition stamps update_time with its own moment."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    stamps = [detail(api, order_id)["update_time"]]
    clock.advance(60)
    sandbox.pay(order_id)
    stamps.append(detail(api, order_id)["update_time"])
    clock.advance(7200)
    stamps.append(detail(api, order_id)["update_time"])
    assert stamps == [stamps[0], stamps[0] + 60, stamps[0] + 60 + 3600]


def test_request_inside_the_free_window_is_refused(
    sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """While the buyer may still cancel freely there is nothing to request."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    with pytest.raises(SandboxError, match="free-cancel window"):
        sandbox.request_cancellation(order_id)


def test_order_ids_lists_a_shops_orders_oldest_first(
    sandbox: TikTokSandbox, shop: ShopCredentials, uk_shop: ShopCredentials, clock: ManualClock
) -> None:
    """order_ids(shop_id) names that shop's orders in creation order, and no other shop's."""
    first = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(1)
    sandbox.create_order(uk_shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(1)
    second = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    assert sandbox.order_ids(shop.shop_id) == [first, second]
    assert len(sandbox.order_ids()) == 3
