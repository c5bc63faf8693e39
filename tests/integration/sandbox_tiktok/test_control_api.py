"""The unsigned control API under /_sandbox/ drives the sandbox the way tests and demos need."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock, SystemClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox
from shopbridge_sandbox.tiktok.cli import seeded_sandbox

from .tiktok_http import SignedClient, WebhookReceiver, loopback_client


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(f"{server.base_url}/_sandbox") as client:
        yield client


def created_shop(control: httpx.Client, **extra: Any) -> dict[str, Any]:
    shop = control.post("/shops", json={"name": "Ctl", "region": "US", **extra}).json()
    products = {"title": "Tee", "skus": [{"seller_sku": "TEE", "price": "10.00", "quantity": 4}]}
    assert control.post(f"/shops/{shop['shop_id']}/products", json=products).status_code == 200
    return shop  # type: ignore[no-any-return]


def test_a_shop_made_over_control_answers_signed_api_calls(
    control: httpx.Client, server: BackgroundServer, clock: ManualClock
) -> None:
    """POST /shops returns credentials that the signed API accepts."""
    shop = created_shop(control)
    credentials = ShopCredentials(**{k: shop[k] for k in ShopCredentials.__dataclass_fields__})
    api = SignedClient(server.base_url, credentials, clock)
    try:
        data = api.ok("GET", "/logistics/202309/warehouses")
    finally:
        api.close()
    assert [w["id"] for w in data["warehouses"]] == shop["warehouse_ids"]


def test_order_actions_walk_the_lifecycle(control: httpx.Client) -> None:
    """Create, pay, advance the clock an hour: the order is AWAITING_SHIPMENT."""
    shop = created_shop(control)
    order = control.post("/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 2}}).json()
    assert order["status"] == "UNPAID"
    assert control.post(f"/orders/{order['id']}/fail_payment").json()["status"] == "UNPAID"
    assert control.post(f"/orders/{order['id']}/pay").json()["status"] == "ON_HOLD"
    control.post("/clock/advance", json={"seconds": 3600})
    assert control.get(f"/orders/{order['id']}").json()["status"] == "AWAITING_SHIPMENT"
    stock = control.get(f"/shops/{shop['shop_id']}/inventory/TEE").json()
    assert (stock["seller_sku"], stock["available"], stock["committed"]) == ("TEE", 2, 2)


def test_request_cancellation_returns_the_pending_record(control: httpx.Client) -> None:
    """A late buyer cancel over control returns the cancellation with its cancel_id."""
    shop = created_shop(control)
    order = control.post(
        "/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 1}, "paid": True}
    ).json()
    control.post("/clock/advance", json={"seconds": 7200})
    request = control.post(f"/orders/{order['id']}/request_cancellation").json()
    assert request["cancel_status"] == "CANCELLATION_REQUEST_PENDING"
    assert control.get(f"/cancellations/{request['cancel_id']}").json() == request


def test_forbidden_transition_is_a_conflict(control: httpx.Client) -> None:
    """Paying an order twice answers 409 with the reason."""
    shop = created_shop(control)
    order = control.post(
        "/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 1}, "paid": True}
    ).json()
    response = control.post(f"/orders/{order['id']}/pay")
    assert response.status_code == 409
    assert "not UNPAID" in response.json()["error"]


def test_unknown_order_is_not_found(control: httpx.Client) -> None:
    """An order id the sandbox never issued answers 404."""
    assert control.get("/orders/123").status_code == 404


def test_fault_knobs_are_read_and_set(control: httpx.Client, sandbox: TikTokSandbox) -> None:
    """PUT /faults changes FaultSettings; an unknown knob is a 400."""
    assert control.put("/faults", json={"webhook_drop_rate": 0.5}).status_code == 200
    assert sandbox.faults.settings.webhook_drop_rate == 0.5
    assert control.get("/faults").json()["webhook_drop_rate"] == 0.5
    assert control.put("/faults", json={"nonsense": 1}).status_code == 400


def test_webhook_deliveries_are_listed(control: httpx.Client, receiver: WebhookReceiver) -> None:
    """GET /webhooks lists every delivery with its body, status and attempts."""
    shop = created_shop(control, webhook_url=receiver.url)
    control.post("/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 1}})
    control.post("/tick")
    [delivery] = control.get("/webhooks").json()["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
    assert '"order_status":"UNPAID"' in delivery["body"]


def test_clock_advance_needs_a_manual_clock() -> None:
    """On a system clock, POST /clock/advance answers 409."""
    sandbox = TikTokSandbox(clock=SystemClock())
    with BackgroundServer(sandbox.app) as running, loopback_client(running.base_url) as http:
        response = http.post("/_sandbox/clock/advance", json={"seconds": 60})
    assert response.status_code == 409


def test_the_demo_seed_has_a_shop_with_stock() -> None:
    """serve()'s seeded sandbox holds one US shop whose SKUs are in stock."""
    sandbox = seeded_sandbox()
    [shop_id] = sandbox.shop_ids()
    assert sandbox.inventory(shop_id, "TEE-RED-L") == 25
    assert sandbox.credentials(shop_id).region == "US"


def test_a_shops_orders_are_listed_by_update_time_then_id(
    control: httpx.Client, clock: ManualClock
) -> None:
    """GET /shops/{id}/orders lists that shop's orders as GET /orders/{id} shows them, by
    update_time then id."""
    shop = created_shop(control)
    other = created_shop(control)

    def order(shop_id: str) -> str:
        created = control.post("/orders", json={"shop_id": shop_id, "items": {"TEE": 1}})
        return str(created.json()["id"])

    first, second, third = (order(shop["shop_id"]) for _ in range(3))
    order(other["shop_id"])
    clock.advance(60)
    later = order(shop["shop_id"])
    clock.advance(60)
    control.post(f"/orders/{second}/pay")

    listed = control.get(f"/shops/{shop['shop_id']}/orders").json()["orders"]

    assert first > third  # the seeded ids run against creation order, so the id tie-break shows
    assert [o["id"] for o in listed] == [third, first, later, second]
    assert listed[-1] == control.get(f"/orders/{second}").json()
    assert listed[-1]["status"] == "ON_HOLD"


def test_a_shops_orders_are_filtered_by_update_time(
    control: httpx.Client, clock: ManualClock
) -> None:
    """updated_since (Unix seconds) keeps only orders whose update_time is at or after it."""
    shop = created_shop(control)
    orders = f"/shops/{shop['shop_id']}/orders"
    start = int(clock.now().timestamp())
    early = control.post("/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 1}})
    clock.advance(60)
    late = control.post("/orders", json={"shop_id": shop["shop_id"], "items": {"TEE": 1}})

    def ids(since: int) -> list[str]:
        return [
            o["id"] for o in control.get(orders, params={"updated_since": since}).json()["orders"]
        ]

    assert ids(start) == [early.json()["id"], late.json()["id"]]
    assert ids(start + 60) == [late.json()["id"]]
    assert ids(start + 61) == []


def test_listing_the_orders_of_an_unknown_shop_is_not_found(control: httpx.Client) -> None:
    """GET /shops/{id}/orders for a shop the sandbox never made answers 404."""
    assert control.get("/shops/123/orders").status_code == 404
