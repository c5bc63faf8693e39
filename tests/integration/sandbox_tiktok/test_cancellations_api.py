"""Seller answers to cancellations and seller-initiated cancels over the API (§4.2)."""

from __future__ import annotations

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient

CANCELLATIONS = "/return_refund/202309/cancellations"


def pending_request(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> tuple[str, str]:
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2}, paid=True)
    clock.advance(7200)
    return order_id, sandbox.request_cancellation(order_id)


def test_approve_cancels_the_order_and_returns_the_units(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Approving a pending request cancels the order and puts its units back on sale."""
    order_id, cancel_id = pending_request(sandbox, shop, clock)
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 8
    assert api.ok("POST", f"{CANCELLATIONS}/{cancel_id}/approve") == {}
    order = sandbox.order(order_id)
    assert (order["status"], order["cancellation_initiator"]) == ("CANCELLED", "BUYER")
    assert sandbox.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10


def test_approving_twice_without_a_key_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A second approve of a settled request answers 25011012 (HTTP 200)."""
    _, cancel_id = pending_request(sandbox, shop, clock)
    api.ok("POST", f"{CANCELLATIONS}/{cancel_id}/approve")
    status, code, _ = api.error("POST", f"{CANCELLATIONS}/{cancel_id}/approve")
    assert (status, code) == (200, 25011012)


def test_approve_with_the_same_idempotency_key_answers_the_same_once(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A repeated approve with the same idempotency_key succeeds again with no second effect."""
    order_id, cancel_id = pending_request(sandbox, shop, clock)
    key = {"idempotency_key": "approve-1"}
    first = api.ok("POST", f"{CANCELLATIONS}/{cancel_id}/approve", key)
    notified = len(sandbox.notifications)
    second = api.ok("POST", f"{CANCELLATIONS}/{cancel_id}/approve", key)
    assert first == second == {}
    assert len(sandbox.notifications) == notified
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10
    assert sandbox.order(order_id)["status"] == "CANCELLED"


def test_reject_on_a_us_shop_says_to_ship_instead(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """US shops can no longer reject by API: 25001060 (sandbox choice), request still pending."""
    _, cancel_id = pending_request(sandbox, shop, clock)
    body = {"reject_reason": "seller_reject_apply_product_has_been_packed"}
    status, code, message = api.error("POST", f"{CANCELLATIONS}/{cancel_id}/reject", body=body)
    assert (status, code) == (200, 25001060)
    assert "ship" in message
    assert sandbox.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_PENDING"


def test_reject_on_a_uk_shop_closes_the_request_and_keeps_the_order(
    sandbox: TikTokSandbox,
    uk_shop: ShopCredentials,
    clock: ManualClock,
    api: SignedClient,
) -> None:
    """Outside the US a rejected request is closed and the order stays live."""
    order_id, cancel_id = pending_request(sandbox, uk_shop, clock)
    body = {"reject_reason": "seller_reject_apply_product_has_been_packed", "comment": "packed"}
    api.ok("POST", f"{CANCELLATIONS}/{cancel_id}/reject", body=body, shop=uk_shop)
    order = sandbox.order(order_id)
    assert (order["status"], order["is_buyer_request_cancel"]) == ("AWAITING_SHIPMENT", False)
    assert sandbox.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_CANCELLED"


def test_seller_cancel_cancels_the_order(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A seller cancel with a reason matching the status cancels the order as SELLER."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    data = api.ok("POST", CANCELLATIONS, body=body)
    assert data["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    order = sandbox.order(order_id)
    assert (order["status"], order["cancellation_initiator"]) == ("CANCELLED", "SELLER")
    assert order["cancel_reason"] == "seller_cancel_reason_out_of_stock"


def test_seller_cancel_with_a_reason_for_another_status_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """An UNPAID-only reason on a paid order answers 25001021."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_unpaid_reason_out_of_stock"}
    assert api.error("POST", CANCELLATIONS, body=body)[1] == 25001021


def test_seller_cancel_with_the_same_key_returns_the_same_cancel_id(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """Retrying a seller cancel with its idempotency_key returns the first cancel_id."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    key = {"idempotency_key": "cancel-1"}
    first = api.ok("POST", CANCELLATIONS, key, body)
    second = api.ok("POST", CANCELLATIONS, key, body)
    assert first == second
    assert api.error("POST", CANCELLATIONS, body=body)[1] == 25001051


def test_seller_cancel_of_someone_elses_order_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """An order of another shop answers 21008111."""
    other = sandbox.add_shop(name="Other", region="US")
    sandbox.add_product(other.shop_id, "Mug", [SkuSpec("MUG", "9.00", 3)])
    foreign = sandbox.create_order(other.shop_id, {"MUG": 1}, paid=True)
    body = {"order_id": foreign, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    assert api.error("POST", CANCELLATIONS, body=body)[1] == 21008111


def test_cancellation_search_filters_by_status_and_type(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Search returns only records matching cancel_types and cancel_status."""
    direct = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    sandbox.buyer_cancel(direct)
    _, cancel_id = pending_request(sandbox, shop, clock)
    body = {"cancel_types": ["BUYER_CANCEL"], "cancel_status": ["CANCELLATION_REQUEST_PENDING"]}
    found = api.ok("POST", f"{CANCELLATIONS}/search", body=body)
    assert [c["cancel_id"] for c in found["cancellations"]] == [cancel_id]
    assert found["total_count"] == 1
    everything = api.ok("POST", f"{CANCELLATIONS}/search", body={})
    assert {c["cancel_type"] for c in everything["cancellations"]} == {"CANCEL", "BUYER_CANCEL"}
