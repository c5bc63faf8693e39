"""Per-shop webhook addresses through the Event API, and the /seller/ reads (§2.1, §4.5)."""

from __future__ import annotations

from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient, WebhookReceiver

WEBHOOKS = "/event/202309/webhooks"


async def test_an_event_address_routes_its_topic_there(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """After PUT ORDER_STATUS_CHANGE, order webhooks go to that address, and GET lists it."""
    body = {"address": receiver.url, "event_type": "ORDER_STATUS_CHANGE"}
    assert api.ok("PUT", WEBHOOKS, body=body) == {}
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    assert [h["data"]["order_status"] for h in receiver.of_type(1)] == ["UNPAID"]
    listed = api.ok("GET", WEBHOOKS)["webhooks"]
    assert [(w["event_type"], w["address"]) for w in listed] == [
        ("ORDER_STATUS_CHANGE", receiver.url)
    ]


async def test_deleting_an_event_address_stops_its_topic(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, receiver: WebhookReceiver
) -> None:
    """DELETE removes the address: nothing more is pushed for that topic."""
    api.ok("PUT", WEBHOOKS, body={"address": receiver.url, "event_type": "ORDER_STATUS_CHANGE"})
    api.ok("DELETE", WEBHOOKS, body={"event_type": "ORDER_STATUS_CHANGE"})
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()
    assert receiver.received == []
    assert api.ok("GET", WEBHOOKS)["webhooks"] == []


def test_unknown_event_type_is_refused(api: SignedClient, receiver: WebhookReceiver) -> None:
    """An event_type outside TikTok's enum answers 36009004."""
    body = {"address": receiver.url, "event_type": "ORDER_CHANGED"}
    assert api.error("PUT", WEBHOOKS, body=body)[1] == 36009004


def test_event_api_needs_the_shop_cipher(api: SignedClient, receiver: WebhookReceiver) -> None:
    """The Event API is shop-scoped: no shop_cipher, 106013."""
    body = {"address": receiver.url, "event_type": "ORDER_STATUS_CHANGE"}
    assert api.error("PUT", WEBHOOKS, body=body, cipher=None)[1] == 106013


def test_seller_shops_refuse_a_cipher_and_list_without_one(
    api: SignedClient, shop: ShopCredentials
) -> None:
    """/seller/ paths list the token's shop without shop_cipher and refuse one with 36009004."""
    assert api.ok("GET", "/seller/202309/shops", cipher=None)["shops"][0]["id"] == shop.shop_id
    _, code, message = api.error("GET", "/seller/202309/shops")
    assert code == 36009004
    assert message.startswith("Unexpected identifier")
