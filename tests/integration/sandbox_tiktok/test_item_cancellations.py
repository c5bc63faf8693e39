"""Item-level cancellations over the API and the control API (wave2 §4, §4.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient, WebhookReceiver, loopback_client

CANCELLATIONS = "/return_refund/202309/cancellations"
OUT_OF_STOCK = "seller_cancel_reason_out_of_stock"
UPS = "7117858858072016686"


def ready_order(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock, items: dict[str, int]
) -> str:
    """A paid order past its hold hour: AWAITING_SHIPMENT."""
    order_id = sandbox.create_order(shop.shop_id, items, paid=True)
    clock.advance(3600)
    sandbox.apply_timers()
    return order_id


def line_ids(sandbox: TikTokSandbox, order_id: str, seller_sku: str | None = None) -> list[str]:
    lines = sandbox.order(order_id)["line_items"]
    return [li["id"] for li in lines if seller_sku in (None, li["seller_sku"])]


def units(sandbox: TikTokSandbox, order_id: str) -> dict[str, dict[str, Any]]:
    return {li["id"]: li for li in sandbox.order(order_id)["line_items"]}


def cancel(order_id: str, **body: Any) -> dict[str, Any]:
    return {"order_id": order_id, "cancel_reason": OUT_OF_STOCK, **body}


def types_of(sandbox: TikTokSandbox, topic: int) -> list[dict[str, Any]]:
    return [n["data"] for n in sandbox.notifications if n["type"] == topic]


def test_us_seller_cancels_one_unit_and_the_order_lives_on(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """An out-of-stock cancel of one unit: that unit CANCELLED by SELLER, the rest live."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    red_1, red_2 = line_ids(sandbox, order_id, "TEE-RED-L")
    before = sandbox.order(order_id)["update_time"]
    clock.advance(60)
    data = api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red_1]))
    assert data["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    order = sandbox.order(order_id)
    assert order["status"] == "AWAITING_SHIPMENT"
    assert order["update_time"] == before + 60
    by_id = units(sandbox, order_id)
    assert (by_id[red_1]["display_status"], by_id[red_1]["cancel_user"]) == ("CANCELLED", "SELLER")
    assert by_id[red_1]["cancel_reason"] == OUT_OF_STOCK
    assert {by_id[i]["display_status"] for i in by_id if i != red_1} == {"AWAITING_SHIPMENT"}
    assert "cancel_user" not in by_id[red_2]


def test_item_cancel_returns_the_stock_of_exactly_those_units(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Only the cancelled unit goes back on sale; the others stay committed."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    red = line_ids(sandbox, order_id, "TEE-RED-L")[0]
    api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red]))
    red_stock = sandbox.stock(shop.shop_id, "TEE-RED-L")
    assert (red_stock["available"], red_stock["committed"]) == (9, 1)
    blue_stock = sandbox.stock(shop.shop_id, "TEE-BLU-M")
    assert (blue_stock["available"], blue_stock["committed"]) == (4, 1)


async def test_item_cancel_is_recorded_and_notified(
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
    receiver: WebhookReceiver,
) -> None:
    """One CANCEL record lists the cancelled unit; a type 11 webhook goes out, no type 1."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    red = line_ids(sandbox, order_id)[0]
    cancel_id = api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red]))[
        "cancel_id"
    ]
    found = api.ok("POST", f"{CANCELLATIONS}/search", body={"order_ids": [order_id]})
    [record] = found["cancellations"]
    assert (record["cancel_id"], record["cancel_type"], record["role"]) == (
        cancel_id,
        "CANCEL",
        "SELLER",
    )
    [item] = record["cancel_line_items"]
    assert item["order_line_item_id"] == red
    assert (item["seller_sku"], item["sku_id"]) == (
        "TEE-RED-L",
        sandbox.sku_id(shop.shop_id, "TEE-RED-L"),
    )
    assert item["cancel_line_item_id"] and item["sku_name"] and item["product_name"]
    assert record["refund_amount"]["refund_subtotal"] == "19.99"
    await sandbox.tick()
    [hook] = receiver.of_type(11)
    assert hook["data"]["cancel_id"] == cancel_id
    assert hook["data"]["cancellations_role"] == "SELLER"
    assert hook["data"]["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    assert receiver.of_type(1) == []


def test_skus_name_units_by_sku_and_quantity(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """skus [{sku_id, quantity: 2}] cancels two units of that SKU."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 3, "TEE-BLU-M": 1})
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    api.ok("POST", CANCELLATIONS, body=cancel(order_id, skus=[{"sku_id": sku_id, "quantity": 2}]))
    statuses = [
        (li["seller_sku"], li["display_status"]) for li in units(sandbox, order_id).values()
    ]
    assert sorted(statuses) == [
        ("TEE-BLU-M", "AWAITING_SHIPMENT"),
        ("TEE-RED-L", "AWAITING_SHIPMENT"),
        ("TEE-RED-L", "CANCELLED"),
        ("TEE-RED-L", "CANCELLED"),
    ]
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 9


def test_line_item_ids_win_over_skus(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Given both, the order_line_item_ids name the units (wave2 §4 leaves it open)."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    blue = line_ids(sandbox, order_id, "TEE-BLU-M")[0]
    red_sku = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    body = cancel(order_id, order_line_item_ids=[blue], skus=[{"sku_id": red_sku, "quantity": 2}])
    api.ok("POST", CANCELLATIONS, body=body)
    cancelled = [
        i for i, li in units(sandbox, order_id).items() if li["display_status"] == "CANCELLED"
    ]
    assert cancelled == [blue]


def test_uk_shop_cancels_items_with_the_uk_reason(
    api: SignedClient, sandbox: TikTokSandbox, uk_shop: ShopCredentials, clock: ManualClock
) -> None:
    """UK shops may cancel single items too, with the `_uk` out-of-stock key."""
    order_id = ready_order(sandbox, uk_shop, clock, {"TEE-RED-L": 2})
    red = line_ids(sandbox, order_id)[0]
    body = cancel(order_id, order_line_item_ids=[red], cancel_reason=OUT_OF_STOCK + "_uk")
    api.ok("POST", CANCELLATIONS, body=body, shop=uk_shop)
    assert units(sandbox, order_id)[red]["display_status"] == "CANCELLED"


def test_item_cancel_outside_us_and_uk_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, clock: ManualClock
) -> None:
    """A German shop cannot cancel single items: 25005010; nothing changes."""
    de_shop = sandbox.add_shop(name="Demo DE", region="DE")
    sandbox.add_product(de_shop.shop_id, "Tee", [SkuSpec("TEE-RED-L", "19.99", 5)])
    order_id = sandbox.create_order(de_shop.shop_id, {"TEE-RED-L": 2}, paid=True)
    red = line_ids(sandbox, order_id)[0]
    body = cancel(order_id, order_line_item_ids=[red])
    status, code, message = api.error("POST", CANCELLATIONS, body=body, shop=de_shop)
    assert (status, code) == (200, 25005010)
    assert "Unable to cancel individual line items" in message
    assert sandbox.inventory(de_shop.shop_id, "TEE-RED-L") == 3


def test_item_cancel_needs_the_out_of_stock_reason(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Any other reason refuses an item-level cancel with 25005010."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    red = line_ids(sandbox, order_id)[0]
    body = cancel(
        order_id, order_line_item_ids=[red], cancel_reason="seller_cancel_reason_wrong_price"
    )
    assert api.error("POST", CANCELLATIONS, body=body)[1] == 25005010
    assert sandbox.order(order_id)["line_items"][0]["display_status"] == "AWAITING_SHIPMENT"


@pytest.mark.parametrize("case", ["too_many", "unknown", "cancelled", "shipped"])
def test_units_beyond_what_remains_exceed_the_limit(
    case: str,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """More units of a SKU than remain, or a unit unknown, cancelled or shipped: 25005011."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    red_1, red_2 = line_ids(sandbox, order_id, "TEE-RED-L")
    if case == "too_many":
        sku_id = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
        body = cancel(order_id, skus=[{"sku_id": sku_id, "quantity": 3}])
    elif case == "unknown":
        body = cancel(order_id, order_line_item_ids=["5770000000000000000"])
    elif case == "cancelled":
        api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red_1]))
        body = cancel(order_id, order_line_item_ids=[red_1])
    else:
        shipped = {"tracking_number": "1Z999AA10123456784", "shipping_provider_id": UPS}
        path = f"/fulfillment/202309/orders/{order_id}/packages"
        api.ok("POST", path, body={**shipped, "order_line_item_ids": [red_1]})
        body = cancel(order_id, order_line_item_ids=[red_1])
    stock = sandbox.stock(shop.shop_id, "TEE-RED-L")
    status, code, message = api.error("POST", CANCELLATIONS, body=body)
    assert (status, code) == (200, 25005011)
    assert "exceeds the allowable limit" in message
    assert sandbox.stock(shop.shop_id, "TEE-RED-L") == stock
    assert units(sandbox, order_id)[red_2]["display_status"] != "CANCELLED"


def test_cancelling_the_last_live_units_cancels_the_order(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """The order turns CANCELLED only once every unit is; all stock is back, type 1 sent."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    red_1, red_2 = line_ids(sandbox, order_id, "TEE-RED-L")
    blue = line_ids(sandbox, order_id, "TEE-BLU-M")[0]
    api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red_1]))
    api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[red_2]))
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"
    last = api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[blue]))
    order = sandbox.order(order_id)
    assert (order["status"], order["cancellation_initiator"]) == ("CANCELLED", "SELLER")
    assert {(li["display_status"], li["cancel_user"]) for li in order["line_items"]} == {
        ("CANCELLED", "SELLER")
    }
    assert sandbox.stock(shop.shop_id, "TEE-RED-L")["available"] == 10
    assert sandbox.stock(shop.shop_id, "TEE-BLU-M")["available"] == 5
    assert sandbox.stock(shop.shop_id, "TEE-RED-L")["committed"] == 0
    assert types_of(sandbox, 1)[-1]["order_status"] == "CANCEL"
    record = sandbox.cancellation(last["cancel_id"])
    assert [i["order_line_item_id"] for i in record["cancel_line_items"]] == [blue]


def test_a_whole_cancel_lists_every_unit(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Without line items the whole order goes and its record lists every unit."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2, "TEE-BLU-M": 1})
    cancel_id = api.ok("POST", CANCELLATIONS, body=cancel(order_id))["cancel_id"]
    found = api.ok("POST", f"{CANCELLATIONS}/search", body={"cancel_ids": [cancel_id]})
    listed = [i["order_line_item_id"] for i in found["cancellations"][0]["cancel_line_items"]]
    assert listed == line_ids(sandbox, order_id)
    assert {li["display_status"] for li in sandbox.order(order_id)["line_items"]} == {"CANCELLED"}


def test_repeated_item_cancel_with_its_key_acts_once(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """The same idempotency_key returns the first cancel_id; no second record, stock once."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 3})
    red = line_ids(sandbox, order_id)[0]
    key = {"idempotency_key": "item-cancel-1"}
    body = cancel(order_id, order_line_item_ids=[red])
    first = api.ok("POST", CANCELLATIONS, key, body)
    notified = len(sandbox.notifications)
    assert api.ok("POST", CANCELLATIONS, key, body) == first
    assert len(sandbox.notifications) == notified
    found = api.ok("POST", f"{CANCELLATIONS}/search", body={"order_ids": [order_id]})
    assert found["total_count"] == 1
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 8


def test_cancelling_the_unshipped_rest_of_a_partial_shipment_awaits_collection(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """PARTIALLY_SHIPPING -> AWAITING_COLLECTION once the units left unshipped are cancelled."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    shipped, rest = line_ids(sandbox, order_id)
    body = {
        "tracking_number": "1Z999AA10123456784",
        "shipping_provider_id": UPS,
        "order_line_item_ids": [shipped],
    }
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=body)
    assert sandbox.order(order_id)["status"] == "PARTIALLY_SHIPPING"
    api.ok("POST", CANCELLATIONS, body=cancel(order_id, order_line_item_ids=[rest]))
    order = sandbox.order(order_id)
    assert order["status"] == "AWAITING_COLLECTION"
    assert types_of(sandbox, 1)[-1]["order_status"] == "AWAITING_COLLECTION"
    by_id = units(sandbox, order_id)
    assert by_id[shipped]["display_status"] == "AWAITING_COLLECTION"
    assert by_id[rest]["display_status"] == "CANCELLED"
    assert sandbox.stock(shop.shop_id, "TEE-RED-L") == {
        "seller_sku": "TEE-RED-L",
        "available": 9,
        "warehouses": {sandbox.warehouse_ids(shop.shop_id)[0]: 9},
        "committed": 0,
        "promotion_locked": False,
    }


# -- the platform's item cancels (control API) ---------------------------------------------


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(f"{server.base_url}/_sandbox") as client:
        yield client


def test_operator_cancels_a_shipped_unit_over_control(
    control: httpx.Client,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """TikTok may cancel a shipped unit (a lost parcel): OPERATOR record, stock back."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    lost, kept = line_ids(sandbox, order_id)
    shipped = {"tracking_number": "1Z999AA10123456784", "shipping_provider_id": UPS}
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=shipped)
    body = {"line_item_ids": [lost], "role": "OPERATOR", "reason": "package_lost"}
    response = control.post(f"/orders/{order_id}/cancel_items", json=body)
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["role"], record["cancel_type"], record["cancel_status"]) == (
        "OPERATOR",
        "CANCEL",
        "CANCELLATION_REQUEST_COMPLETE",
    )
    assert [i["order_line_item_id"] for i in record["cancel_line_items"]] == [lost]
    order = sandbox.order(order_id)
    assert order["status"] == "AWAITING_COLLECTION"
    by_id = units(sandbox, order_id)
    assert (by_id[lost]["cancel_user"], by_id[lost]["cancel_reason"]) == (
        "OPERATOR",
        "package_lost",
    )
    assert by_id[kept]["display_status"] == "AWAITING_COLLECTION"
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 9


def test_system_cancel_of_every_unit_cancels_the_order(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """The Python API: naming every live unit is a whole cancel by SYSTEM."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    cancel_id = sandbox.cancel_items(order_id, line_ids(sandbox, order_id))
    order = sandbox.order(order_id)
    assert (order["status"], order["cancellation_initiator"]) == ("CANCELLED", "SYSTEM")
    assert sandbox.cancellation(cancel_id)["role"] == "SYSTEM"
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10


def test_control_item_cancel_refuses_buyers_and_strangers(
    control: httpx.Client, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Buyers cannot cancel single items (400); an unknown line item is a conflict (409)."""
    order_id = ready_order(sandbox, shop, clock, {"TEE-RED-L": 2})
    red = line_ids(sandbox, order_id)[0]
    path = f"/orders/{order_id}/cancel_items"
    assert control.post(path, json={"line_item_ids": [red], "role": "BUYER"}).status_code == 400
    assert control.post(path, json={"line_item_ids": red}).status_code == 400
    unknown = control.post(path, json={"line_item_ids": ["1"]})
    assert unknown.status_code == 409
    assert "not in order" in unknown.json()["error"]
    assert control.post("/orders/1/cancel_items", json={"line_item_ids": [red]}).status_code == 404
