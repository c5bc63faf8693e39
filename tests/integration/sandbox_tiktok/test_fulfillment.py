"""Mark Package As Shipped and the logistics reads it depends on (§4.3)."""

from __future__ import annotations

from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient

UPS = "7117858858072016686"
UPS_TRACKING = "1Z999AA10123456784"


def ship(api: SignedClient, order_id: str, **body: object) -> tuple[int, int, str]:
    payload = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS, **body}
    return api.error("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=payload)


def ready_order(sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock) -> str:
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2}, paid=True)
    clock.advance(3600)
    return order_id


def test_shipping_providers_are_realistic_carriers_with_19_digit_ids(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """The delivery option lists USPS, UPS, FedEx and DHL eCommerce, ids as 19-digit strings."""
    option = sandbox.delivery_option_id(shop.shop_id)
    providers = api.ok("GET", f"/logistics/202309/delivery_options/{option}/shipping_providers")
    names = {p["name"] for p in providers["shipping_providers"]}
    assert {"USPS", "UPS", "FedEx", "DHL eCommerce"} <= names
    assert all(len(p["id"]) == 19 and p["id"].isdigit() for p in providers["shipping_providers"])


def test_warehouses_list_the_shops_sales_warehouse(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """Get Warehouses returns the shop's enabled default sales warehouse."""
    warehouses = api.ok("GET", "/logistics/202309/warehouses")["warehouses"]
    assert [w["id"] for w in warehouses] == sandbox.warehouse_ids(shop.shop_id)
    assert warehouses[0]["is_default"] is True
    assert warehouses[0]["effect_status"] == "ENABLED"


def test_marking_shipped_moves_the_order_to_awaiting_collection(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A valid tracking number and provider ship every line item in one package."""
    order_id = ready_order(sandbox, shop, clock)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    data = api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    order = sandbox.order(order_id)
    assert data["order_id"] == order_id
    assert data["order_line_item_ids"] == [li["id"] for li in order["line_items"]]
    assert order["status"] == "AWAITING_COLLECTION"
    assert order["tracking_number"] == UPS_TRACKING
    assert order["packages"] == [{"id": data["package_id"]}]
    assert {li["shipping_provider_name"] for li in order["line_items"]} == {"UPS"}


def test_shipping_some_line_items_is_partially_shipping(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Listing a subset of line items ships only those: PARTIALLY_SHIPPING."""
    order_id = ready_order(sandbox, shop, clock)
    first = sandbox.order(order_id)["line_items"][0]["id"]
    body = {
        "tracking_number": UPS_TRACKING,
        "shipping_provider_id": UPS,
        "order_line_item_ids": [first],
    }
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    assert sandbox.order(order_id)["status"] == "PARTIALLY_SHIPPING"


def test_shipping_an_on_hold_order_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """ON_HOLD orders cannot ship: 21011044."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    assert ship(api, order_id)[1] == 21011044


def test_shipping_a_cancelled_order_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A cancelled order cannot ship (21011001, sandbox choice) and stays cancelled."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    sandbox.buyer_cancel(order_id)
    assert ship(api, order_id)[1] == 21011001
    assert sandbox.order(order_id)["status"] == "CANCELLED"


def test_shipping_twice_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A second Mark As Shipped for a shipped order answers 21011006."""
    order_id = ready_order(sandbox, shop, clock)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    assert ship(api, order_id)[1] == 21011006


def test_provider_outside_the_delivery_option_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A shipping_provider_id not offered for the order's delivery option is refused."""
    order_id = ready_order(sandbox, shop, clock)
    assert ship(api, order_id, shipping_provider_id="7208502187360519982")[1] == 21011021
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"


def test_tracking_number_must_fit_the_provider(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A USPS-style number sent as UPS answers 21004015."""
    order_id = ready_order(sandbox, shop, clock)
    assert ship(api, order_id, tracking_number="9400111899223856000000")[1] == 21004015


def test_shipping_with_a_pending_us_request_auto_rejects_it(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """In the US, shipping while a buyer request is pending succeeds and rejects the request."""
    order_id = ready_order(sandbox, shop, clock)
    clock.advance(60)
    cancel_id = sandbox.request_cancellation(order_id)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    order = sandbox.order(order_id)
    assert (order["status"], order["is_buyer_request_cancel"]) == ("AWAITING_COLLECTION", False)
    assert sandbox.cancellation(cancel_id)["cancel_status"] == "CANCELLATION_REQUEST_CANCELLED"


def test_shipping_with_a_pending_uk_request_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, uk_shop: ShopCredentials, clock: ManualClock
) -> None:
    """Outside the US a pending request blocks shipping: 21011007."""
    order_id = ready_order(sandbox, uk_shop, clock)
    clock.advance(60)
    sandbox.request_cancellation(order_id)
    royal_mail = {"tracking_number": "AB123456789GB", "shipping_provider_id": "7208502187360519982"}
    path = f"/fulfillment/202309/orders/{order_id}/packages"
    assert api.error("POST", path, body=royal_mail, shop=uk_shop)[1] == 21011007


def test_shipping_the_rest_completes_a_partial_shipment(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """After a partial package, shipping the remaining line items reaches AWAITING_COLLECTION."""
    order_id = ready_order(sandbox, shop, clock)
    first, second = (li["id"] for li in sandbox.order(order_id)["line_items"])
    path = f"/fulfillment/202309/orders/{order_id}/packages"
    for line_item, tracking in ((first, UPS_TRACKING), (second, "1Z999AA10123456785")):
        body = {
            "tracking_number": tracking,
            "shipping_provider_id": UPS,
            "order_line_item_ids": [line_item],
        }
        api.ok("POST", path, body=body)
    order = sandbox.order(order_id)
    assert order["status"] == "AWAITING_COLLECTION"
    assert len(order["packages"]) == 2


def test_carrier_scans_and_delivers_a_shipped_order(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Collection moves the order to IN_TRANSIT, delivery to DELIVERED, each time stamped."""
    order_id = ready_order(sandbox, shop, clock)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    clock.advance(3600)
    sandbox.carrier_collect(order_id)
    clock.advance(86400)
    sandbox.deliver(order_id)
    order = sandbox.order(order_id)
    assert order["status"] == "DELIVERED"
    assert order["delivery_time"] - order["collection_time"] == 86400


def test_us_seller_may_cancel_awaiting_collection(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Only US sellers may cancel an order that waits for the carrier (§7)."""
    order_id = ready_order(sandbox, shop, clock)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    cancel = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    api.ok("POST", "/return_refund/202309/cancellations", body=cancel)
    assert sandbox.order(order_id)["status"] == "CANCELLED"
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10


def test_uk_seller_cannot_cancel_a_shipped_order(
    api: SignedClient, sandbox: TikTokSandbox, uk_shop: ShopCredentials, clock: ManualClock
) -> None:
    """Outside the US a shipped order cannot be cancelled by the seller: 25001045."""
    order_id = ready_order(sandbox, uk_shop, clock)
    royal_mail = {"tracking_number": "AB123456789GB", "shipping_provider_id": "7208502187360519982"}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=royal_mail, shop=uk_shop)
    cancel = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock_uk"}
    path = "/return_refund/202309/cancellations"
    assert api.error("POST", path, body=cancel, shop=uk_shop)[1] == 25001045


def shipped_order(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> str:
    order_id = ready_order(sandbox, shop, clock)
    body = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    return order_id


def fix_tracking(api: SignedClient, order_id: str, tracking: str) -> dict[str, object]:
    path = f"/fulfillment/202309/orders/{order_id}/shipping_info/update"
    response = api.request(
        "POST", path, body={"tracking_number": tracking, "shipping_provider_id": UPS}
    )
    return response.json()  # type: ignore[no-any-return]


def test_tracking_can_be_fixed_once_within_72_hours(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A wrong tracking number is replaced once; a second fix answers 21011051."""
    order_id = shipped_order(api, sandbox, shop, clock)
    clock.advance(timedelta(hours=71))
    assert fix_tracking(api, order_id, "1Z999AA10123456799")["code"] == 0
    assert sandbox.order(order_id)["tracking_number"] == "1Z999AA10123456799"
    assert fix_tracking(api, order_id, "1Z999AA10123456700")["code"] == 21011051


def test_tracking_fix_after_72_hours_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """72 h after shipping the tracking number can no longer change: 21011049 (wave2 §5.5)."""
    order_id = shipped_order(api, sandbox, shop, clock)
    clock.advance(timedelta(hours=72, seconds=1))
    assert fix_tracking(api, order_id, "1Z999AA10123456799")["code"] == 21011049
    assert sandbox.order(order_id)["tracking_number"] == UPS_TRACKING
