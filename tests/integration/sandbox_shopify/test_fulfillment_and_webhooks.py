"""Fulfilment consumes stock; webhooks are signed, REST-shaped and retried like Shopify's."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .operations import FULFILL, HOLD, ORDER_CREATE, RELEASE, decrement, order_input
from .shopify_http import Admin, WebhookSink

USPS_URL = "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899223100000000"


def create_order(admin: Admin, variant_id: str, quantity: int = 2) -> dict[str, Any]:
    created = admin.data(
        ORDER_CREATE, {"order": order_input(variant_id, quantity), "options": decrement()}
    )["orderCreate"]
    order: dict[str, Any] = created["order"]
    return {"order_id": order["id"], "fo_id": order["fulfillmentOrders"]["nodes"][0]["id"]}


def ship(admin: Admin, fo_id: str) -> dict[str, Any]:
    shipped: dict[str, Any] = admin.data(
        FULFILL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}],
                "notifyCustomer": False,
                "trackingInfo": {"company": "USPS", "number": "9400111899223100000000"},
            }
        },
    )["fulfillmentCreate"]
    return shipped


def hmac_of(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_fulfilment_with_tracking_consumes_stock_and_emits_a_signed_webhook(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """fulfillmentCreate drops committed and on_hand and sends fulfillments/create, HMAC-signed."""
    sandbox.subscribe_webhook(store.name, "fulfillments/create", sink.url)
    ids = create_order(admin, tee["id"], quantity=2)

    shipped = ship(admin, ids["fo_id"])
    await sandbox.tick()

    assert shipped["userErrors"] == []
    assert shipped["fulfillment"]["trackingInfo"] == [
        {"company": "USPS", "number": "9400111899223100000000", "url": USPS_URL}
    ]
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (8, 0, 8)
    [hook] = sink.topic("fulfillments/create")
    assert hook.headers["x-shopify-hmac-sha256"] == hmac_of(hook.body, store.client_secret)
    assert hook.headers["x-shopify-shop-domain"] == "demo.myshopify.com"
    assert hook.headers["x-shopify-api-version"] == "2026-07"
    assert hook.headers["x-shopify-event-id"]
    assert hook.headers["x-shopify-triggered-at"] == "2026-11-02T09:00:00Z"
    payload = hook.json
    assert payload["admin_graphql_api_id"] == shipped["fulfillment"]["id"]
    assert payload["order_id"] == int(ids["order_id"].rsplit("/", 1)[1])
    assert (payload["tracking_company"], payload["tracking_number"]) == (
        "USPS",
        "9400111899223100000000",
    )
    assert payload["status"] == "success"


def test_a_fulfillment_order_on_hold_cannot_be_fulfilled(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """fulfillmentCreate on an ON_HOLD fulfillment order is refused and moves no stock."""
    ids = create_order(admin, tee["id"])
    admin.data(HOLD, {"id": ids["fo_id"], "hold": {"reason": "AWAITING_PAYMENT", "handle": "h"}})

    shipped = ship(admin, ids["fo_id"])

    assert shipped["fulfillment"] is None
    assert "ON_HOLD" in shipped["userErrors"][0]["message"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["committed"] == 2


def test_fulfilling_everything_makes_the_order_fulfilled(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """After the merchant fulfils all units the order reads FULFILLED and its FO CLOSED."""
    ids = create_order(admin, tee["id"])
    admin.data(HOLD, {"id": ids["fo_id"], "hold": {"reason": "AWAITING_PAYMENT", "handle": "h"}})
    admin.data(RELEASE, {"id": ids["fo_id"]})

    sandbox.fulfill_order("demo", ids["order_id"], company="UPS", number="1Z999AA10123456784")

    snapshot = sandbox.order("demo", ids["order_id"])
    assert snapshot["fulfillment_status"] == "FULFILLED"
    assert snapshot["fulfillment_orders"][0]["status"] == "CLOSED"
    assert snapshot["fulfillments"][0]["tracking"] == [
        {
            "company": "UPS",
            "number": "1Z999AA10123456784",
            "url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784",
        }
    ]


async def test_a_refused_webhook_is_retried_with_the_same_event_id(
    admin: Admin,
    sandbox: ShopifySandbox,
    clock: ManualClock,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """A 500 answer is retried about a minute later, same body and X-Shopify-Event-Id."""
    sandbox.subscribe_webhook(store.name, "orders/create", sink.url)
    sink.status = 500
    create_order(admin, tee["id"])
    await sandbox.tick()
    sink.status = 200
    clock.advance(timedelta(seconds=57))
    await sandbox.tick()

    first, retry = sink.topic("orders/create")
    assert retry.body == first.body
    assert retry.headers["x-shopify-event-id"] == first.headers["x-shopify-event-id"]
    assert first.json["source_identifier"] == "577000111222333"
    assert first.json["financial_status"] == "pending"


async def test_a_subscription_made_over_graphql_receives_inventory_updates(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """webhookSubscriptionCreate(INVENTORY_LEVELS_UPDATE) gets the level's new `available`."""
    created = admin.data(
        """mutation S($uri: String!) {
             webhookSubscriptionCreate(topic: INVENTORY_LEVELS_UPDATE,
                                       webhookSubscription: {uri: $uri, format: JSON}) {
               webhookSubscription { id topic uri } userErrors { message } } }""",
        {"uri": sink.url},
    )["webhookSubscriptionCreate"]

    sandbox.adjust_stock(store.name, "TEE-RED-L", -3)
    await sandbox.tick()

    assert created["webhookSubscription"]["topic"] == "INVENTORY_LEVELS_UPDATE"
    [hook] = sink.topic("inventory_levels/update")
    assert hook.json["available"] == 7
    assert hook.json["inventory_item_id"] == int(tee["inventory_item_id"].rsplit("/", 1)[1])


async def test_uninstalling_the_app_revokes_the_token_and_says_so(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, sink: WebhookSink
) -> None:
    """After uninstall the token gets 401 and app/uninstalled has been sent."""
    sandbox.subscribe_webhook(store.name, "app/uninstalled", sink.url)

    sandbox.uninstall_app(store.name)
    await sandbox.tick()

    assert admin.post("{ shop { name } }").status_code == 401
    [hook] = sink.topic("app/uninstalled")
    assert hook.json["myshopify_domain"] == "demo.myshopify.com"


def test_fulfilling_a_bypass_order_moves_no_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """An order created with BYPASS claimed nothing, so its fulfilment leaves stock as it was."""
    created = admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 2)})["orderCreate"]
    fo_id = created["order"]["fulfillmentOrders"]["nodes"][0]["id"]

    shipped = ship(admin, fo_id)

    assert shipped["userErrors"] == []
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (10, 0, 10)


async def test_the_served_app_delivers_webhooks_without_a_tick(
    sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any], sink: WebhookSink
) -> None:
    """Served on its own, the app's lifespan delivers due webhooks in the background."""
    sandbox.subscribe_webhook(store.name, "inventory_levels/update", sink.url)

    with BackgroundServer(sandbox.app):
        sandbox.adjust_stock(store.name, "TEE-RED-L", 5)
        for _ in range(200):
            if sink.topic("inventory_levels/update"):
                break
            await asyncio.sleep(0.01)

    [hook] = sink.topic("inventory_levels/update")
    assert hook.json["available"] == 15


async def test_a_duplicated_webhook_carries_one_event_id(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """With the duplicate knob on, both copies of orders/create share X-Shopify-Event-Id."""
    sandbox.faults.settings.update({"webhook_duplicate_rate": 1})
    sandbox.subscribe_webhook(store.name, "orders/create", sink.url)

    create_order(admin, tee["id"])
    await sandbox.tick()

    first, second = sink.topic("orders/create")
    assert first.headers["x-shopify-event-id"] == second.headers["x-shopify-event-id"]
    assert first.body == second.body


async def test_a_merchant_cancellation_emits_orders_cancelled(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """Cancelling in the admin sends orders/cancelled with the reason and cancel time."""
    sandbox.subscribe_webhook(store.name, "orders/cancelled", sink.url)
    ids = create_order(admin, tee["id"])

    sandbox.cancel_order_as_merchant(store.name, ids["order_id"], reason="FRAUD")
    await sandbox.tick()

    [hook] = sink.topic("orders/cancelled")
    assert hook.json["admin_graphql_api_id"] == ids["order_id"]
    assert hook.json["cancel_reason"] == "fraud"
    assert hook.json["cancelled_at"] == "2026-11-02T09:00:00+00:00"


async def test_a_tracking_update_emits_fulfillments_update(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """fulfillmentTrackingInfoUpdate replaces the tracking and sends fulfillments/update."""
    sandbox.subscribe_webhook(store.name, "fulfillments/update", sink.url)
    ids = create_order(admin, tee["id"])
    fulfillment_id = ship(admin, ids["fo_id"])["fulfillment"]["id"]

    updated = admin.data(
        """mutation T($id: ID!, $t: FulfillmentTrackingInput!) {
             fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t) {
               fulfillment { trackingInfo { company number } } userErrors { message } } }""",
        {"id": fulfillment_id, "t": {"company": "UPS", "number": "1Z999AA10123456784"}},
    )["fulfillmentTrackingInfoUpdate"]
    await sandbox.tick()

    assert updated["fulfillment"]["trackingInfo"] == [
        {"company": "UPS", "number": "1Z999AA10123456784"}
    ]
    [hook] = sink.topic("fulfillments/update")
    assert hook.json["tracking_number"] == "1Z999AA10123456784"
