"""Validly signed but hostile webhooks: never a 5xx, every verified body stored (or refused with a
4xx that says why), and the worker brings every stored item to a final state.

A signature proves who sent the bytes, not that they make sense: a leaked secret, a platform bug
or a fuzzer can sign anything. Hypothesis generates bodies and headers; a fixed corpus adds the
classics (nesting 2,000 deep, 5,000-digit integers, 1e400, -Infinity, lone surrogates, NUL, ids
longer than any column).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbridge.bootstrap import Shopbridge, bootstrap
from shopbridge.config import Settings
from shopbridge.domain.policy import Policy
from shopbridge.engine.worker import RetryPolicy
from shopbridge.store import Store
from shopbridge.tiktok.signing import webhook_signature
from shopbridge_sandbox.fakes import FakeContexts, FakeShopify, FakeTikTok
from shopbridge_sandbox.serving import BackgroundServer

APP_KEY, APP_SECRET = "6a1b2c3d4e5f", "tiktok-app-secret"
SHOP_ID = "7494049642642441621"
DOMAIN, SECRET = "demo.myshopify.com", "shopify-client-secret"
FINAL = {"done", "ignored", "malformed", "failed"}
LIMIT = 64 * 1024  # the receivers' body limit in these tests

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)

HOSTILE = [
    b"[" * 2000 + b"]" * 2000,
    b'{"a":' * 1500 + b"1" + b"}" * 1500,
    b'{"type": 1, "shop_id": "'
    + SHOP_ID.encode()
    + b'", "data": {"order_id": '
    + b"9" * 5000
    + b"}}",
    b'{"type": 1, "timestamp": 1e400, "data": {"update_time": -Infinity}}',
    b'{"type": 18446744073709551616, "timestamp": 18446744073709551616, "data": {}}',
    b'{"type": 1, "tts_notification_id": "\\ud800", "shop_id": "\\udfff",'
    b' "data": {"order_id": "\\ud800"}}',
    b'{"type": 1, "tts_notification_id": "'
    + b"x" * 5000
    + b'", "shop_id": "'
    + SHOP_ID.encode()
    + b'", "data": {}}',
    b'{"type": "1", "shop_id": 7494049642642441621, "data": "not an object"}',
    b'{"type": 1, "data": {"order_id": "\\u0000"}}',
    b"\xff\xfe not utf-8",
    b"",
    b"null",
    b'"just a string"',
    b'{"id": {"nested": true}, "order_id": [1, 2], "admin_graphql_api_id": 1e400}',
    b'{"inventory_item_id": 1e400, "location_id": "\\ud800", "available": 99999999999999999999}',
    b'{"line_items": [{"sku": "\\ud800"}, {"sku": null}, "x", 1], "refund_line_items": {"a": 1}}',
]

SHOPIFY_TOPICS = st.sampled_from(
    [
        "orders/cancelled",
        "orders/fulfilled",
        "fulfillments/create",
        "fulfillments/update",
        "inventory_levels/update",
        "orders/create",
        "refunds/create",
        "app/uninstalled",
        "x" * 500,
        "orders/cancelled ; drop table inbox",
        "unknown/topic",
    ]
)


@dataclass
class Receiver:
    service: Shopbridge
    url: str
    store: Store

    def tiktok(self, body: bytes) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhooks/tiktok",
            content=body,
            headers={
                "content-type": "application/json",
                "authorization": webhook_signature(APP_KEY, APP_SECRET, body),
            },
        )

    def shopify(self, body: bytes, topic: str, event_id: str, **extra: str) -> httpx.Response:
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        headers = {
            "content-type": "application/json",
            "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
            "x-shopify-shop-domain": DOMAIN,
            "x-shopify-topic": topic,
            "x-shopify-event-id": event_id,
            **extra,
        }
        return httpx.post(f"{self.url}/webhooks/shopify", content=body, headers=headers)

    async def drain(self) -> None:
        """The worker handles everything stored, retries included, until nothing is due."""
        worker = self.service.worker(retry=RetryPolicy(base=timedelta(0), max_attempts=2))
        for _ in range(20):
            self.store.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
            if await worker.run_until_idle() == 0:
                return


@pytest.fixture
def receiver(store: Store) -> Iterator[Receiver]:
    store.add_connection(
        name="Demo",
        tiktok_app_key=APP_KEY,
        tiktok_app_secret=APP_SECRET,
        tiktok_shop_id=SHOP_ID,
        shopify_domain=DOMAIN,
        shopify_client_secret=SECRET,
    )
    contexts = FakeContexts(FakeTikTok(), FakeShopify({"TEE": 5}), Policy(), store.clock)
    service = bootstrap(
        Settings(webhook_max_bytes=LIMIT), store=store, clock=store.clock, contexts=contexts
    )
    with BackgroundServer(service.web()) as server:
        yield Receiver(service, server.base_url, store)


def assert_all_final(store: Store) -> None:
    left = [
        (i.topic[:40], i.status, i.last_error) for i in store.inbox_items() if i.status not in FINAL
    ]
    assert left == [], "stored items the worker never finished"


async def test_the_hostile_corpus_is_stored_and_finished_on_both_receivers(
    receiver: Receiver,
) -> None:
    for n, body in enumerate(HOSTILE):
        assert receiver.tiktok(body).status_code == 200, body[:60]
        for topic in ("orders/cancelled", "fulfillments/create", "inventory_levels/update"):
            answer = receiver.shopify(body, topic, f"e-{n}-{topic}")
            assert answer.status_code == 200, (topic, body[:60])
    long_id = receiver.shopify(b"{}", "orders/cancelled", "i" * 3000)
    long_topic = receiver.shopify(b"{}", "t" * 3000, "e-long-topic")
    assert (long_id.status_code, long_topic.status_code) == (200, 200)
    assert len(receiver.store.inbox_items()) == 4 * len(HOSTILE) + 2, "every body stored"
    await receiver.drain()
    assert_all_final(receiver.store)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    envelope=st.fixed_dictionaries(
        {},
        optional={
            "type": json_values,
            "tts_notification_id": json_values,
            "shop_id": st.just(SHOP_ID) | json_values,
            "timestamp": json_values,
            "data": json_values,
        },
    ),
    payload=json_values,
    topic=SHOPIFY_TOPICS,
    # What an HTTP header can carry at all: visible ASCII (a client cannot send more).
    event=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300),
)
def test_generated_signed_bodies_never_get_a_5xx(
    receiver: Receiver, envelope: dict[str, object], payload: object, topic: str, event: str
) -> None:
    tiktok_body = json.dumps(envelope).encode()
    answer = receiver.tiktok(tiktok_body)
    assert answer.status_code < 500
    shopify_body = json.dumps(payload).encode()
    answer = receiver.shopify(shopify_body, topic, event or "e")
    assert answer.status_code < 500


async def test_generated_items_all_reach_a_final_state(receiver: Receiver) -> None:
    """After a run of generated deliveries, the worker finishes every one of them."""
    for n, body in enumerate(
        [json.dumps({"type": t, "shop_id": SHOP_ID, "data": d}).encode() for t, d in _samples()]
    ):
        assert receiver.tiktok(body).status_code == 200
        assert receiver.shopify(body, "orders/cancelled", f"g-{n}").status_code == 200
    await receiver.drain()
    assert_all_final(receiver.store)


def _samples() -> list[tuple[object, object]]:
    return [
        (1, {"order_id": "1", "order_status": "UNPAID", "update_time": 1}),
        (1, {"order_id": 1e400}),
        (11, {"order_id": "2", "cancel_id": None}),
        (6, {"shop_id": SHOP_ID}),
        (27, {}),
        ("1", []),
        (None, None),
        (1, {"order_id": "x" * 5000}),
    ]


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(receiver: Receiver) -> None:
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"  # 2 MiB, far over this receiver's 64 KiB
    assert receiver.tiktok(body).status_code == 413
    assert receiver.shopify(body, "orders/cancelled", "big").status_code == 413
    # Without a Content-Length (chunked), the limit holds while streaming.
    chunks = (b" " * 65536 for _ in range(40))
    answer = httpx.post(
        f"{receiver.url}/webhooks/shopify",
        content=chunks,
        headers={"x-shopify-topic": "orders/cancelled", "x-shopify-shop-domain": DOMAIN},
    )
    assert answer.status_code == 413
    assert receiver.store.inbox_items() == []


def test_an_old_shopify_delivery_is_a_replay_answered_200_and_never_acted_on(
    receiver: Receiver,
) -> None:
    old = (receiver.store.clock.now() - timedelta(hours=48)).isoformat()
    fresh = (receiver.store.clock.now() - timedelta(minutes=1)).isoformat()
    body = json.dumps({"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}).encode()
    assert (
        receiver.shopify(
            body, "orders/cancelled", "old", **{"x-shopify-triggered-at": old}
        ).status_code
        == 200
    )
    assert (
        receiver.shopify(
            body, "orders/cancelled", "new", **{"x-shopify-triggered-at": fresh}
        ).status_code
        == 200
    )
    by_key = {i.delivery_key.split(":", 1)[1]: i for i in receiver.store.inbox_items()}
    assert by_key["old"].status == "ignored" and "a replay" in (by_key["old"].last_error or "")
    assert by_key["new"].status == "pending"


def test_shopify_headers_without_the_x_prefix_are_accepted(receiver: Receiver) -> None:
    body = b'{"id": 5}'
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    answer = httpx.post(
        f"{receiver.url}/webhooks/shopify",
        content=body,
        headers={
            "shopify-hmac-sha256": digest,
            "shopify-shop-domain": DOMAIN,
            "shopify-topic": "orders/create",
            "shopify-event-id": "evt-1",
        },
    )
    assert answer.status_code == 200
    [item] = receiver.store.inbox_items()
    assert (item.topic, item.status) == ("orders/create", "pending")


def test_delivery_keys_are_per_tenant(receiver: Receiver) -> None:
    """The same event id at two shops: both stored; one tenant cannot suppress another's."""
    receiver.store.add_connection(
        name="Other",
        tiktok_shop_id="7000000000000000002",
        shopify_domain="other.myshopify.com",
        shopify_client_secret="other-secret",
    )
    body = b'{"id": 7}'
    for domain, secret in ((DOMAIN, SECRET), ("other.myshopify.com", "other-secret")):
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        answer = httpx.post(
            f"{receiver.url}/webhooks/shopify",
            content=body,
            headers={
                "x-shopify-hmac-sha256": digest.decode(),
                "x-shopify-shop-domain": domain,
                "x-shopify-topic": "orders/create",
                "x-shopify-event-id": "same-event",
            },
        )
        assert answer.status_code == 200
    assert len(receiver.store.inbox_items()) == 2
