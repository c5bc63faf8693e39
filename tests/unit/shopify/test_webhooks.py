"""Shopify webhook verification and parsing (shopify_api.md §7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shopbridge.shopify.webhooks import (
    MalformedWebhook,
    parse_webhook,
    shopify_hmac,
    verify_shopify_hmac,
)

SECRET = "hush-current"
OLD_SECRET = "hush-previous"
BODY = b'{"id":450789469,"order_id":1001,"tracking_company":"UPS"}'


def _headers(topic: str = "fulfillments/create", **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "demo.myshopify.com",
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Event-Id": "ev-1",
        "X-Shopify-Triggered-At": "2026-11-02T09:00:00.123Z",
        **extra,
    }


def _parse(topic: str, payload: dict[str, Any]) -> Any:
    return parse_webhook(_headers(topic), json.dumps(payload).encode())


def test_hmac_matches_shopifys_recipe() -> None:
    """The signature is base64 of HMAC-SHA256 over the raw body with the client secret."""
    expected = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
    assert shopify_hmac(BODY, SECRET) == expected


def test_valid_hmac_is_accepted() -> None:
    """A body signed with the current secret verifies."""
    assert verify_shopify_hmac(BODY, shopify_hmac(BODY, SECRET), [SECRET])


def test_tampered_body_is_rejected() -> None:
    """Changing one byte of the body after signing fails verification."""
    signature = shopify_hmac(BODY, SECRET)
    assert not verify_shopify_hmac(BODY.replace(b"UPS", b"USP"), signature, [SECRET])


def test_previous_secret_is_accepted_during_rotation() -> None:
    """A body signed with the previous secret verifies while both secrets are configured."""
    signature = shopify_hmac(BODY, OLD_SECRET)
    assert verify_shopify_hmac(BODY, signature, [SECRET, OLD_SECRET])
    assert not verify_shopify_hmac(BODY, signature, [SECRET])


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_hmac_header_is_rejected(header: str | None) -> None:
    """No signature header means not verified."""
    assert not verify_shopify_hmac(BODY, header, [SECRET])


def test_blank_secret_never_verifies() -> None:
    """An unconfigured (empty) secret cannot make an empty-key signature pass."""
    assert not verify_shopify_hmac(BODY, shopify_hmac(BODY, ""), [""])


def test_parse_reads_the_delivery_headers() -> None:
    """Topic, shop, ids, API version and Triggered-At (aware UTC) are read from the headers."""
    webhook = parse_webhook(_headers(), BODY)
    assert (webhook.topic, webhook.shop_domain, webhook.api_version) == (
        "fulfillments/create",
        "demo.myshopify.com",
        "2026-07",
    )
    assert (webhook.event_id, webhook.webhook_id) == ("ev-1", "wh-1")
    assert webhook.triggered_at == datetime(2026, 11, 2, 9, 0, 0, 123000, tzinfo=UTC)
    assert webhook.payload["tracking_company"] == "UPS"


def test_header_names_are_case_insensitive() -> None:
    """Lower-case header names, as ASGI servers deliver them, are read the same."""
    webhook = parse_webhook({k.lower(): v for k, v in _headers().items()}, BODY)
    assert webhook.topic == "fulfillments/create"


def test_missing_topic_is_malformed() -> None:
    """A delivery without X-Shopify-Topic raises MalformedWebhook naming the header."""
    headers = _headers()
    del headers["X-Shopify-Topic"]
    with pytest.raises(MalformedWebhook, match="X-Shopify-Topic"):
        parse_webhook(headers, BODY)


def test_non_json_body_is_malformed() -> None:
    """A body that is not JSON raises MalformedWebhook saying so."""
    with pytest.raises(MalformedWebhook, match="not JSON"):
        parse_webhook(_headers(), b"<xml/>")


def test_json_array_body_is_malformed() -> None:
    """A JSON body that is not an object raises MalformedWebhook."""
    with pytest.raises(MalformedWebhook, match="not a JSON object"):
        parse_webhook(_headers(), b"[1, 2]")


def test_delivery_key_prefers_event_id() -> None:
    """The dedupe key is the Event-Id when present."""
    assert parse_webhook(_headers(), BODY).delivery_key == "event:ev-1"


def test_delivery_key_falls_back_to_webhook_id() -> None:
    """Without Event-Id the dedupe key is the Webhook-Id."""
    headers = _headers()
    del headers["X-Shopify-Event-Id"]
    assert parse_webhook(headers, BODY).delivery_key == "webhook:wh-1"


def test_delivery_key_falls_back_to_body_hash() -> None:
    """Without either id the dedupe key is the SHA-256 of the raw body."""
    headers = _headers()
    del headers["X-Shopify-Event-Id"], headers["X-Shopify-Webhook-Id"]
    assert parse_webhook(headers, BODY).delivery_key == f"body:{hashlib.sha256(BODY).hexdigest()}"


def test_fulfillment_accessor_reads_order_carrier_and_numbers() -> None:
    """fulfillments/create yields the order GID, tracking company and numbers."""
    notice = _parse(
        "fulfillments/create",
        {
            "id": 255858046,
            "admin_graphql_api_id": "gid://shopify/Fulfillment/255858046",
            "order_id": 450789469,
            "status": "success",
            "tracking_company": "UPS",
            "tracking_number": "1Z2345",
            "tracking_numbers": ["1Z2345"],
            "tracking_url": "https://www.ups.com/track?tracknum=1Z2345",
            "tracking_urls": ["https://www.ups.com/track?tracknum=1Z2345"],
        },
    ).fulfillment()
    assert notice.order_id == "gid://shopify/Order/450789469"
    assert notice.fulfillment_id == "gid://shopify/Fulfillment/255858046"
    assert (notice.tracking_company, notice.tracking_numbers) == ("UPS", ("1Z2345",))


def test_fulfillment_accessor_falls_back_to_single_tracking_number() -> None:
    """A payload with only tracking_number still yields that number."""
    notice = _parse(
        "fulfillments/update", {"id": 1, "order_id": 2, "tracking_number": "9400"}
    ).fulfillment()
    assert notice.tracking_numbers == ("9400",)


def test_order_cancelled_accessor() -> None:
    """orders/cancelled yields the order GID, TikTok source id, time and reason."""
    notice = _parse(
        "orders/cancelled",
        {
            "id": 1001,
            "admin_graphql_api_id": "gid://shopify/Order/1001",
            "name": "#1001",
            "source_identifier": "577000111222333",
            "cancelled_at": "2026-11-02T10:00:00-05:00",
            "cancel_reason": "customer",
        },
    ).order_cancelled()
    assert notice.order_id == "gid://shopify/Order/1001"
    assert notice.source_identifier == "577000111222333"
    assert notice.cancelled_at == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert notice.cancel_reason == "customer"


def test_order_fulfilled_accessor_reads_each_fulfillment() -> None:
    """orders/fulfilled yields the order and the tracking of each of its fulfillments."""
    notice = _parse(
        "orders/fulfilled",
        {
            "id": 1001,
            "source_identifier": "577",
            "fulfillments": [{"id": 7, "tracking_company": "USPS", "tracking_numbers": ["94"]}],
        },
    ).order_fulfilled()
    assert notice.order_id == "gid://shopify/Order/1001"
    assert [(f.order_id, f.tracking_company) for f in notice.fulfillments] == [
        ("gid://shopify/Order/1001", "USPS")
    ]


def test_inventory_level_accessor() -> None:
    """inventory_levels/update yields item and location GIDs and the available quantity."""
    notice = _parse(
        "inventory_levels/update",
        {
            "inventory_item_id": 808950810,
            "location_id": 655441491,
            "available": 42,
            "updated_at": "2026-11-02T09:00:00Z",
        },
    ).inventory_level()
    assert notice.inventory_item_id == "gid://shopify/InventoryItem/808950810"
    assert notice.location_id == "gid://shopify/Location/655441491"
    assert notice.available == 42


def test_app_uninstalled_accessor() -> None:
    """app/uninstalled yields the shop's myshopify domain."""
    notice = _parse("app/uninstalled", {"myshopify_domain": "demo.myshopify.com"})
    assert notice.app_uninstalled().shop_domain == "demo.myshopify.com"


def test_accessor_of_another_topic_is_refused() -> None:
    """Reading an orders/cancelled delivery as a fulfillment raises MalformedWebhook."""
    with pytest.raises(MalformedWebhook, match="orders/cancelled"):
        _parse("orders/cancelled", {"id": 1}).fulfillment()
