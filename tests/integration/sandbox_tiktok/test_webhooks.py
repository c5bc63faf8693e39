"""Webhook pushes: envelope, signature, topics 1 and 11, retry schedule, fault knobs (§2)."""

from __future__ import annotations

import time
from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge.tiktok.signing import verify_webhook
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import WebhookReceiver


async def test_order_webhook_is_signed_over_its_raw_body(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """The Authorization header verifies with verify_webhook(app_key, app_secret, body)."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    [hook] = receiver.received
    assert verify_webhook(shop.app_key, shop.app_secret, hook.body, hook.headers["authorization"])
    assert not verify_webhook(shop.app_key, "other", hook.body, hook.headers["authorization"])
    assert hook.headers["content-type"] == "application/json"


async def test_order_webhook_envelope_and_data(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """Type 1 carries type, tts_notification_id, shop_id, timestamp and the order's status."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    [envelope] = receiver.of_type(1)
    now = int(clock.now().timestamp())
    assert envelope["shop_id"] == shop.shop_id
    assert envelope["timestamp"] == now
    assert isinstance(envelope["tts_notification_id"], str)
    assert envelope["data"] == {
        "order_id": order_id,
        "order_status": "UNPAID",
        "is_on_hold_order": True,
        "update_time": now,
    }


async def test_every_status_change_is_pushed_in_order(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """Creation, payment and the end of the hold each push one type 1 webhook, in order."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    clock.advance(3600)
    await sandbox.tick()
    pushed = [n["data"]["order_status"] for n in sandbox.notifications if n["type"] == 1]
    assert pushed == ["UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"]
    # Due deliveries go out in parallel (as TikTok's may), so arrival order is not asserted.
    statuses = [h["data"]["order_status"] for h in receiver.of_type(1)]
    assert sorted(statuses) == sorted(pushed)
    assert {h["data"]["order_id"] for h in receiver.of_type(1)} == {order_id}
    ids = [h["tts_notification_id"] for h in receiver.of_type(1)]
    assert len(set(ids)) == 3


async def test_cancelled_order_is_spelled_cancel_in_webhooks_by_default(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """The webhook says CANCEL (as TikTok's topic page) while the API says CANCELLED."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    sandbox.buyer_cancel(order_id)
    await sandbox.tick()
    # Pushed several at once, the notifications may arrive in any order (as TikTok's may).
    assert "CANCEL" in {e["data"]["order_status"] for e in receiver.of_type(1)}
    assert sandbox.order(order_id)["status"] == "CANCELLED"


async def test_webhook_cancel_spelling_is_a_setting(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """With webhook_cancel_spelling=CANCELLED the webhook matches the API's spelling."""
    sandbox.webhook_cancel_spelling = "CANCELLED"
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    sandbox.fraud_cancel(order_id)
    await sandbox.tick()
    # Webhooks are pushed several at once, so they may arrive in any order (as TikTok's may).
    statuses = [e["data"]["order_status"] for e in receiver.of_type(1)]
    assert "CANCELLED" in statuses and "CANCEL" not in statuses


async def test_cancellation_request_pushes_a_type_11_webhook(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """Opening a buyer request pushes type 11 with PENDING, the cancel_id and its create_time."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    clock.advance(7200)
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    cancel_id = sandbox.request_cancellation(order_id)
    await sandbox.tick()
    [envelope] = receiver.of_type(11)
    assert envelope["data"] == {
        "order_id": order_id,
        "cancellations_role": "BUYER",
        "cancel_status": "CANCELLATION_REQUEST_PENDING",
        "cancel_id": cancel_id,
        "create_time": int(clock.now().timestamp()),
    }


async def test_failed_webhook_is_retried_at_2m_30m_3h_12h_then_dropped(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """A receiver answering 500 gets retries 2 min, 30 min, 3 h and 12 h apart, then none."""
    receiver.status = 500
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    assert len(receiver.received) == 1
    for gap in (
        timedelta(minutes=2),
        timedelta(minutes=30),
        timedelta(hours=3),
        timedelta(hours=12),
    ):
        clock.advance(gap - timedelta(seconds=1))
        await sandbox.tick()
        attempts = len(receiver.received)
        clock.advance(timedelta(seconds=1))
        await sandbox.tick()
        assert len(receiver.received) == attempts + 1
    clock.advance(timedelta(hours=6))
    await sandbox.tick()
    assert len(receiver.received) == 5
    [delivery] = sandbox.deliveries()
    assert (delivery.status, delivery.attempts) == ("given_up", 5)
    assert len({r.body for r in receiver.received}) == 1


async def test_a_retry_that_succeeds_ends_the_schedule(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """Once the receiver answers 200 the webhook is delivered and never sent again."""
    receiver.status = 503
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    receiver.status = 200
    clock.advance(timedelta(minutes=2))
    await sandbox.tick()
    clock.advance(timedelta(hours=16))
    await sandbox.tick()
    assert len(receiver.received) == 2
    assert sandbox.deliveries()[0].status == "delivered"


async def test_drop_fault_sends_nothing(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """With webhook_drop_rate=1 the notification never reaches the receiver."""
    sandbox.faults.settings.update({"webhook_drop_rate": 1.0})
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    assert receiver.received == []
    assert len(sandbox.notifications) == 1


async def test_duplicate_fault_sends_the_same_notification_twice(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """With webhook_duplicate_rate=1 the receiver gets two identical, identically signed copies."""
    sandbox.faults.settings.update({"webhook_duplicate_rate": 1.0})
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    first, second = receiver.received
    assert first.body == second.body
    assert first.json["tts_notification_id"] == second.json["tts_notification_id"]
    assert first.headers["authorization"] == second.headers["authorization"]


def test_the_apps_own_lifespan_pushes_webhooks_without_a_tick(receiver: WebhookReceiver) -> None:
    """Served directly, TikTokSandbox.app delivers webhooks and fires timers by itself."""
    clock = ManualClock()
    sandbox = TikTokSandbox(clock=clock, faults=Faults(seed=2))
    shop = sandbox.add_shop(webhook_url=receiver.url)
    sandbox.add_product(shop.shop_id, "Tee", [SkuSpec("TEE", "10.00", 1)])
    with BackgroundServer(sandbox.app):
        sandbox.create_order(shop.shop_id, {"TEE": 1}, paid=True)
        clock.advance(3600)
        deadline = time.monotonic() + 3
        while len(receiver.of_type(1)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    pushed = [n["data"]["order_status"] for n in sandbox.notifications if n["type"] == 1]
    assert pushed == ["UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"]
    # Due deliveries go out in parallel (as TikTok's may), so arrival order is not asserted.
    statuses = [h["data"]["order_status"] for h in receiver.of_type(1)]
    assert sorted(statuses) == sorted(pushed)


async def test_delay_fault_holds_a_webhook_back_in_clock_time(
    sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    """With webhook_delay_rate=1 a notification goes out webhook_delay_seconds late."""
    sandbox.faults.settings.update({"webhook_delay_rate": 1.0, "webhook_delay_seconds": 30})
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(29)
    await sandbox.tick()
    assert receiver.received == []
    clock.advance(1)
    await sandbox.tick()
    assert len(receiver.received) == 1
