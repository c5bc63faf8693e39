"""Webhook receivers over real HTTP: verify the raw bytes, store before answering, dedupe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest

from shopbridge.bootstrap import bootstrap
from shopbridge.store import Store
from shopbridge.tiktok.signing import webhook_signature
from shopbridge_sandbox.serving import BackgroundServer

APP_KEY, APP_SECRET = "6a1b2c3d4e5f", "tiktok-app-secret"
SHOP_ID = "7494049642642441621"
DOMAIN = "demo.myshopify.com"
SECRET, OLD_SECRET = "shopify-client-secret", "shopify-previous-secret"


@pytest.fixture
def base_url(store: Store) -> Iterator[str]:
    store.add_connection(
        name="Demo",
        tiktok_app_key=APP_KEY,
        tiktok_app_secret=APP_SECRET,
        tiktok_shop_id=SHOP_ID,
        shopify_domain=DOMAIN,
        shopify_client_secret=SECRET,
        shopify_previous_client_secret=OLD_SECRET,
    )
    with BackgroundServer(bootstrap(store=store).web()) as server:
        yield server.base_url


def tiktok_body(notification_id: str = "7400000000000000001", **data: object) -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": SHOP_ID,
        "timestamp": 1700000100,
        "data": {
            "order_id": "576486316948490001",
            "order_status": "UNPAID",
            "update_time": 1700000095,
            **data,
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def post_tiktok(base_url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["authorization"] = signature
    return httpx.post(f"{base_url}/webhooks/tiktok", content=body, headers=headers)


def test_tiktok_valid_webhook_is_stored_and_answered_with_empty_200(
    base_url: str, store: Store
) -> None:
    """A correctly signed notification is stored in the inbox, then answered 200 with no body."""
    body = tiktok_body()
    response = post_tiktok(base_url, body, webhook_signature(APP_KEY, APP_SECRET, body))
    assert response.status_code == 200
    assert response.content == b""
    [item] = store.inbox_items()
    # Keys are per connection: one tenant's deliveries never suppress another's.
    assert (item.source, item.delivery_key, item.topic, item.status) == (
        "tiktok",
        f"{item.connection_id}:7400000000000000001",
        "ORDER_STATUS_CHANGE",
        "pending",
    )
    assert item.body == body


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
        pytest.param("0" * 64, id="wrong"),
    ],
)
def test_tiktok_bad_signature_is_401_and_stores_nothing(
    base_url: str, store: Store, signature: str | None
) -> None:
    """A missing, empty or wrong Authorization header gets an empty 401; nothing is kept."""
    response = post_tiktok(base_url, tiktok_body(), signature)
    assert response.status_code == 401
    assert response.content == b""
    assert store.inbox_items() == []


def test_tiktok_tampered_or_reserialised_body_fails(base_url: str, store: Store) -> None:
    """The signature covers the exact bytes: tampering or re-serialising with spaces fails."""
    body = tiktok_body()
    signature = webhook_signature(APP_KEY, APP_SECRET, body)
    tampered = body.replace(b"UNPAID", b"CANCEL")
    spaced = json.dumps(json.loads(body)).encode()
    assert spaced != body
    assert post_tiktok(base_url, tampered, signature).status_code == 401
    assert post_tiktok(base_url, spaced, signature).status_code == 401
    assert store.inbox_items() == []


def test_tiktok_duplicate_delivery_is_stored_once(base_url: str, store: Store) -> None:
    """TikTok's retry of one notification is answered 200 again and stored once."""
    body = tiktok_body()
    signature = webhook_signature(APP_KEY, APP_SECRET, body)
    assert post_tiktok(base_url, body, signature).status_code == 200
    assert post_tiktok(base_url, body, signature).status_code == 200
    assert len(store.inbox_items()) == 1


def test_tiktok_malformed_json_with_valid_signature_is_recorded_as_malformed(
    base_url: str, store: Store
) -> None:
    """Signed bytes that are not a notification are kept, marked malformed with the reason."""
    body = b'{"type": 1, "shop_id": '
    response = post_tiktok(base_url, body, webhook_signature(APP_KEY, APP_SECRET, body))
    assert response.status_code == 200
    [item] = store.inbox_items()
    assert item.status == "malformed"
    assert "JSON" in (item.last_error or "")


def test_tiktok_unknown_topic_is_stored(base_url: str, store: Store) -> None:
    """A topic we do not use is still stored (and later ignored by the worker)."""
    body = json.dumps(
        {"type": 99, "tts_notification_id": "n-99", "shop_id": SHOP_ID, "data": {}}
    ).encode()
    assert (
        post_tiktok(base_url, body, webhook_signature(APP_KEY, APP_SECRET, body)).status_code == 200
    )
    [item] = store.inbox_items()
    assert item.topic == "UNKNOWN_99"


def shopify_headers(body: bytes, secret: str | None, event_id: str = "evt-1") -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "x-shopify-topic": "fulfillments/create",
        "x-shopify-shop-domain": DOMAIN,
        "x-shopify-event-id": event_id,
        "x-shopify-webhook-id": "wh-1",
        "x-shopify-api-version": "2026-07",
    }
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        headers["x-shopify-hmac-sha256"] = base64.b64encode(digest).decode()
    return headers


SHOPIFY_BODY = json.dumps(
    {"id": 5001, "order_id": 1001, "tracking_company": "UPS", "tracking_number": "1Z999"}
).encode()


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET], ids=["current", "previous"])
def test_shopify_valid_webhook_is_stored(base_url: str, store: Store, secret: str) -> None:
    """A webhook signed with the current secret, or the previous one during a rotation, is kept."""
    response = httpx.post(
        f"{base_url}/webhooks/shopify",
        content=SHOPIFY_BODY,
        headers=shopify_headers(SHOPIFY_BODY, secret),
    )
    assert response.status_code == 200
    [item] = store.inbox_items()
    assert (item.source, item.delivery_key, item.topic) == (
        "shopify",
        f"{item.connection_id}:evt-1",
        "fulfillments/create",
    )


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        pytest.param(SHOPIFY_BODY + b" ", SECRET, id="tampered"),
        pytest.param(SHOPIFY_BODY, "not-the-secret", id="wrong-secret"),
        pytest.param(SHOPIFY_BODY, None, id="missing-header"),
    ],
)
def test_shopify_bad_hmac_is_401_and_stores_nothing(
    base_url: str, store: Store, body: bytes, secret: str | None
) -> None:
    """A tampered body, a wrong secret or a missing HMAC header gets 401 and nothing is stored."""
    headers = shopify_headers(SHOPIFY_BODY, secret)
    response = httpx.post(f"{base_url}/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 401
    assert store.inbox_items() == []


def test_shopify_duplicate_event_is_stored_once(base_url: str, store: Store) -> None:
    """Shopify's at-least-once delivery of one event (same X-Shopify-Event-Id) is stored once."""
    for _ in range(2):
        response = httpx.post(
            f"{base_url}/webhooks/shopify",
            content=SHOPIFY_BODY,
            headers=shopify_headers(SHOPIFY_BODY, SECRET),
        )
        assert response.status_code == 200
    assert len(store.inbox_items()) == 1


def test_healthz(base_url: str) -> None:
    """The health endpoint answers with the version."""
    response = httpx.get(f"{base_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
