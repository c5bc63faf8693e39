"""Returns and refunds after shipping: control, Search Returns, webhook 12 (wave2 §6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import SandboxError, ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient, WebhookReceiver, loopback_client

SEARCH = "/return_refund/202309/returns/search"
SHIPPED = {"tracking_number": "1Z999AA10123456784", "shipping_provider_id": "7117858858072016686"}


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(f"{server.base_url}/_sandbox") as client:
        yield client


def shipped_order(
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
    items: dict[str, int] | None = None,
) -> str:
    """An order (2 red tees and a blue one unless told), shipped whole: AWAITING_COLLECTION."""
    items = items or {"TEE-RED-L": 2, "TEE-BLU-M": 1}
    order_id = sandbox.create_order(shop.shop_id, items, paid=True)
    clock.advance(3600)
    api.ok("POST", f"/fulfillment/202309/orders/{order_id}/packages", body=SHIPPED)
    return order_id


def delivered_order(
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
    items: dict[str, int] | None = None,
) -> str:
    order_id = shipped_order(api, sandbox, shop, clock, items)
    sandbox.carrier_collect(order_id)
    sandbox.deliver(order_id)
    return order_id


def line_ids(sandbox: TikTokSandbox, order_id: str) -> list[str]:
    return [li["id"] for li in sandbox.order(order_id)["line_items"]]


def return_hooks(sandbox: TikTokSandbox) -> list[dict[str, Any]]:
    return [n["data"] for n in sandbox.notifications if n["type"] == 12]


async def test_a_buyer_return_is_listed_and_notified(
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
    receiver: WebhookReceiver,
) -> None:
    """A RETURN_AND_REFUND on a delivered order: PENDING, its own id, a type 12 webhook."""
    order_id = delivered_order(api, sandbox, shop, clock)
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    red = line_ids(sandbox, order_id)[0]
    return_id = sandbox.create_return(order_id, [red], "RETURN_AND_REFUND", "wrong_size")
    created = sandbox.return_record(return_id)
    assert created["return_id"] != order_id
    assert (created["return_status"], created["role"]) == (
        "RETURN_OR_REFUND_REQUEST_PENDING",
        "BUYER",
    )
    found = api.ok("POST", SEARCH, body={"order_ids": [order_id]})
    assert found["total_count"] == 1
    [listed] = found["return_orders"]
    assert listed == created
    assert listed["return_reason"] == "wrong_size"
    [item] = listed["return_line_items"]
    assert item["order_line_item_id"] == red
    assert item["seller_sku"] == "TEE-RED-L"
    assert item["sku_id"] == sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    assert item["return_line_item_id"] and item["sku_name"] and item["product_name"]
    assert item["refund_amount"] == {"currency": "USD", "refund_total": "19.99"}
    assert listed["refund_amount"] == {
        "currency": "USD",
        "refund_total": "21.59",
        "refund_subtotal": "19.99",
        "refund_shipping_fee": "0.00",
        "refund_tax": "1.60",
    }
    assert listed["seller_next_action_response"][0]["action"] == "SELLER_RESPOND_RETURN"
    await sandbox.tick()
    [hook] = receiver.of_type(12)
    assert hook["data"] == {
        "order_id": order_id,
        "return_role": "BUYER",
        "return_type": "RETURN_AND_REFUND",
        "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
        "return_id": created["return_id"],
        "create_time": created["create_time"],
        "update_time": created["update_time"],
    }


def test_a_return_walks_its_path_one_step_at_a_time(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """PENDING -> AWAITING_BUYER_SHIP -> BUYER_SHIPPED_ITEM -> SUCCESS -> COMPLETE, each
    step notified with a later update_time."""
    order_id = delivered_order(api, sandbox, shop, clock)
    return_id = sandbox.create_return(order_id, line_ids(sandbox, order_id)[:2])
    path = (
        "AWAITING_BUYER_SHIP",
        "BUYER_SHIPPED_ITEM",
        "RETURN_OR_REFUND_REQUEST_SUCCESS",
        "RETURN_OR_REFUND_REQUEST_COMPLETE",
    )
    for status in path:
        clock.advance(60)
        sandbox.advance_return(return_id, status)
        record = sandbox.return_record(return_id)
        assert record["return_status"] == status
        assert record["update_time"] == int(clock.now().timestamp())
    assert [h["return_status"] for h in return_hooks(sandbox)][1:] == list(path)
    with pytest.raises(SandboxError, match="cannot move"):
        sandbox.advance_return(return_id, "RETURN_OR_REFUND_REQUEST_CANCEL")


def test_complete_walks_every_step_left(
    control: httpx.Client,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """`COMPLETE` over control takes a REFUND through SUCCESS to COMPLETE, both notified."""
    order_id = shipped_order(api, sandbox, shop, clock)
    body = {"line_item_ids": line_ids(sandbox, order_id)[2:], "return_type": "REFUND"}
    return_id = control.post(f"/orders/{order_id}/returns", json=body).json()["return_id"]
    done = control.post(f"/returns/{return_id}/advance", json={"status": "COMPLETE"}).json()
    assert done["return_status"] == "RETURN_OR_REFUND_REQUEST_COMPLETE"
    assert [h["return_status"] for h in return_hooks(sandbox)] == [
        "RETURN_OR_REFUND_REQUEST_PENDING",
        "RETURN_OR_REFUND_REQUEST_SUCCESS",
        "RETURN_OR_REFUND_REQUEST_COMPLETE",
    ]
    refused = control.post(f"/returns/{return_id}/advance", json={"status": "COMPLETE"})
    assert refused.status_code == 409
    assert control.get(f"/returns/{return_id}").json() == done


def test_impossible_moves_are_refused(
    control: httpx.Client,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """A REFUND has no buyer shipment; a cancelled return goes nowhere; unknown ids 404."""
    order_id = shipped_order(api, sandbox, shop, clock)
    return_id = sandbox.create_return(order_id, line_ids(sandbox, order_id)[:1], "REFUND")
    advance = f"/returns/{return_id}/advance"
    refused = control.post(advance, json={"status": "AWAITING_BUYER_SHIP"})
    assert refused.status_code == 409
    assert "RETURN_OR_REFUND_REQUEST_SUCCESS" in refused.json()["error"]
    cancelled = control.post(advance, json={"status": "RETURN_OR_REFUND_REQUEST_CANCEL"})
    assert cancelled.json()["return_status"] == "RETURN_OR_REFUND_REQUEST_CANCEL"
    assert control.post(advance, json={"status": "COMPLETE"}).status_code == 409
    assert control.post("/returns/1/advance", json={"status": "COMPLETE"}).status_code == 404


def test_which_units_and_when_a_buyer_may_ask(
    control: httpx.Client,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """Returns need a delivered order; refunds may start at collection; units must have
    shipped, be live and not already in a return."""
    order_id = shipped_order(api, sandbox, shop, clock)
    red, red_2, blue = line_ids(sandbox, order_id)
    path = f"/orders/{order_id}/returns"
    early = control.post(path, json={"line_item_ids": [red], "return_type": "RETURN_AND_REFUND"})
    assert early.status_code == 409
    assert "DELIVERED" in early.json()["error"]
    assert control.post(path, json={"line_item_ids": [red], "return_type": "REFUND"}).is_success
    again = control.post(path, json={"line_item_ids": [red], "return_type": "REFUND"})
    assert again.status_code == 409
    assert "already in return" in again.json()["error"]
    odd_type = {"line_item_ids": [red_2], "return_type": "X"}
    assert control.post(path, json=odd_type).status_code == 400
    unshipped_order = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    unshipped = line_ids(sandbox, unshipped_order)
    body = {"line_item_ids": unshipped, "return_type": "REFUND"}
    assert control.post(f"/orders/{unshipped_order}/returns", json=body).status_code == 409
    sandbox.cancel_items(order_id, [blue], role="OPERATOR")
    with pytest.raises(SandboxError, match="cancelled"):
        sandbox.create_return(order_id, [blue], "REFUND")


def test_a_return_leaves_tiktoks_stock_alone(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Even a completed return restocks nothing on TikTok: the seller restocks."""
    order_id = delivered_order(api, sandbox, shop, clock)
    before = sandbox.stock(shop.shop_id, "TEE-RED-L")
    return_id = sandbox.create_return(order_id, line_ids(sandbox, order_id)[:2])
    sandbox.advance_return(return_id, "COMPLETE")
    assert sandbox.stock(shop.shop_id, "TEE-RED-L") == before


def test_search_returns_filters_and_pages(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Filters by return id, update window and status; pages of 10 follow the token."""
    order_id = delivered_order(api, sandbox, shop, clock)
    other = delivered_order(api, sandbox, shop, clock)
    first = sandbox.create_return(order_id, line_ids(sandbox, order_id)[:1])
    clock.advance(10)
    second = sandbox.create_return(other, line_ids(sandbox, other)[:1], "REFUND")
    later = int(clock.now().timestamp())
    by_id = api.ok("POST", SEARCH, body={"return_ids": [second]})
    assert [r["return_id"] for r in by_id["return_orders"]] == [second]
    recent = api.ok("POST", SEARCH, body={"update_time_ge": later})
    assert [r["return_id"] for r in recent["return_orders"]] == [second]
    older = api.ok("POST", SEARCH, body={"update_time_lt": later})
    assert [r["return_id"] for r in older["return_orders"]] == [first]
    refunds = api.ok("POST", SEARCH, body={"return_types": ["REFUND"]})
    assert [r["return_id"] for r in refunds["return_orders"]] == [second]
    made = [first, second]
    sandbox.add_product(shop.shop_id, "Sticker", [SkuSpec("STICKER", "1.00", 20)])
    for _ in range(10):
        extra = shipped_order(api, sandbox, shop, clock, {"STICKER": 1})
        made.append(sandbox.create_return(extra, line_ids(sandbox, extra)[:1], "REFUND"))
    page = api.ok("POST", SEARCH, {"page_size": "10", "sort_field": "create_time"}, {})
    assert [r["return_id"] for r in page["return_orders"]] == made[:10]
    assert page["total_count"] == 12
    rest = api.ok("POST", SEARCH, {"page_size": "10", "page_token": page["next_page_token"]}, {})
    assert [r["return_id"] for r in rest["return_orders"]] == made[10:]
    assert rest["next_page_token"] == ""


@pytest.mark.parametrize("size", ["9", "51", "ten"])
def test_search_returns_page_size_is_10_to_50(size: str, api: SignedClient) -> None:
    """page_size below 10 or above 50 is the invalid-parameter error 36009004 (HTTP 400)."""
    status, code, message = api.error("POST", SEARCH, {"page_size": size}, {})
    assert (status, code) == (400, 36009004)
    assert "page_size" in message
