"""The receivers under concurrency and across processes, over real HTTP, on both databases.

Concurrent webhooks are each answered 200 only once their row is committed (visible to another
connection) and stored exactly once; a secret rotated by another process verifies, and the old
one stops verifying, within the connection cache's check interval.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import ManualClock
from shopbridge.store import SecretBox, Store, create_db_engine
from shopbridge.store.tables import inbox
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok.signing import webhook_authorization

APP_KEY = "6a1b2c3d4e5f"
SHOP_ID = "7494049642642441621"
DOMAIN = "demo.myshopify.com"
CHECK_EVERY = 0.2  # the cache's interval in these tests (1 s in production)


@pytest.fixture
def connection_id(store: Store) -> int:
    return store.add_connection(
        name="Demo",
        tiktok_app_key=APP_KEY,
        tiktok_app_secret="tiktok-secret-1",
        tiktok_shop_id=SHOP_ID,
        shopify_domain=DOMAIN,
        shopify_client_secret="shopify-secret-1",
    )


@pytest.fixture
def base_url(store: Store, connection_id: int) -> Iterator[str]:
    store.connection_cache.check_every = CHECK_EVERY
    with BackgroundServer(bootstrap(store=store).web()) as server:
        yield server.base_url


@pytest.fixture
def other_process(db_url: str, manual_clock: ManualClock, secret_box: SecretBox) -> Iterator[Store]:
    """The same database through another engine: what the CLI or another `serve` would do."""
    engine = create_db_engine(db_url)
    yield Store(engine, manual_clock, secret_box)
    engine.dispose()


def tiktok_webhook(notification_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "type": 1,
            "tts_notification_id": notification_id,
            "shop_id": SHOP_ID,
            "timestamp": 1700000100,
            "data": {"order_id": "576486316948490001", "order_status": "AWAITING_SHIPMENT"},
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "content-type": "application/json",
        "authorization": webhook_authorization(APP_KEY, secret, body),
    }
    return body, headers


def shopify_webhook(event_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": 5001, "order_id": 1001}).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "x-shopify-topic": "fulfillments/create",
        "x-shopify-shop-domain": DOMAIN,
        "x-shopify-event-id": event_id,
        "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
    }
    return body, headers


async def test_concurrent_webhooks_are_answered_after_commit_and_stored_once(
    base_url: str, db_url: str, connection_id: int
) -> None:
    """60 deliveries at once, 10 of them sent twice: every answer is 200, each row is visible
    from another connection by the time its answer arrives, and each delivery is stored once."""
    observer = create_db_engine(db_url)
    unique = [f"74000000000000{n:05d}" for n in range(50)]
    sends = [*unique, *unique[:10]]
    visible_at_answer: list[bool] = []

    def stored(notification_id: str) -> bool:
        key = f"{connection_id}:{notification_id}"
        with observer.connect() as db:
            query = sa.select(sa.func.count()).where(inbox.c.delivery_key == key)
            return db.execute(query).scalar_one() == 1

    async def send(client: httpx.AsyncClient, notification_id: str) -> int:
        body, headers = tiktok_webhook(notification_id, "tiktok-secret-1")
        response = await client.post("/webhooks/tiktok", content=body, headers=headers)
        visible_at_answer.append(stored(notification_id))
        return response.status_code

    limits = httpx.Limits(max_connections=60)
    try:
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            statuses = await asyncio.gather(*(send(client, n) for n in sends))
        assert statuses == [200] * len(sends)
        assert visible_at_answer == [True] * len(sends)
        with observer.connect() as db:
            count = db.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one()
        assert count == len(unique)
    finally:
        observer.dispose()


def test_tiktok_secret_rotated_by_another_process_verifies_within_the_interval(
    base_url: str, other_process: Store, connection_id: int
) -> None:
    """After another process rotates the TikTok app secret, the new one verifies and the old
    one is refused (401) once the cache's interval has passed."""
    post = f"{base_url}/webhooks/tiktok"
    body, old_headers = tiktok_webhook("7400000000000000001", "tiktok-secret-1")
    assert httpx.post(post, content=body, headers=old_headers).status_code == 200
    other_process.update_connection(connection_id, tiktok_app_secret="tiktok-secret-2")
    time.sleep(CHECK_EVERY)
    body, old_headers = tiktok_webhook("7400000000000000002", "tiktok-secret-1")
    assert httpx.post(post, content=body, headers=old_headers).status_code == 401
    body, new_headers = tiktok_webhook("7400000000000000003", "tiktok-secret-2")
    assert httpx.post(post, content=body, headers=new_headers).status_code == 200


def test_shopify_reconnect_by_another_process_verifies_within_the_interval(
    base_url: str, other_process: Store, connection_id: int
) -> None:
    """A Shopify client secret replaced by another process (no previous secret kept): the new
    one verifies and the old one is refused once the cache's interval has passed."""
    post = f"{base_url}/webhooks/shopify"
    body, headers = shopify_webhook("evt-1", "shopify-secret-1")
    assert httpx.post(post, content=body, headers=headers).status_code == 200
    other_process.update_connection(connection_id, shopify_client_secret="shopify-secret-2")
    time.sleep(CHECK_EVERY)
    body, headers = shopify_webhook("evt-2", "shopify-secret-1")
    assert httpx.post(post, content=body, headers=headers).status_code == 401
    body, headers = shopify_webhook("evt-3", "shopify-secret-2")
    assert httpx.post(post, content=body, headers=headers).status_code == 200
