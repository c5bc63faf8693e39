"""The inbox: every delivery stored once, claimed under a lease, retried or finished."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Fence, LeaseLost, Store

LEASE = timedelta(seconds=30)


def deliver(store: Store, key: str, connection_id: int | None = None) -> bool:
    return store.record_delivery(
        source="tiktok",
        delivery_key=key,
        topic="ORDER_STATUS_CHANGE",
        connection_id=connection_id,
        headers={"authorization": "abc"},
        body=b'{"type":1,"tts_notification_id":"' + key.encode() + b'"}',
    )


def test_duplicate_delivery_is_stored_once(store: Store, connection_id: int) -> None:
    """The same (source, delivery key) delivered twice is stored once; the second call says so."""
    assert deliver(store, "7400000000000000001", connection_id) is True
    assert deliver(store, "7400000000000000001", connection_id) is False
    # Stored per connection: "<connection id>:<the platform's key>".
    assert [item.delivery_key for item in store.inbox_items()] == [
        f"{connection_id}:7400000000000000001"
    ]


def test_same_key_from_another_source_is_a_different_delivery(store: Store) -> None:
    """Delivery keys are unique per source, not across sources."""
    deliver(store, "42")
    stored = store.record_delivery(
        source="shopify",
        delivery_key="42",
        topic="orders/fulfilled",
        connection_id=None,
        headers={},
        body=b"{}",
    )
    assert stored is True
    assert len(store.inbox_items()) == 2


def test_concurrent_identical_deliveries_are_stored_once(store: Store) -> None:
    """Two threads inserting the same key at the same moment: exactly one insert wins."""
    for attempt in range(10):
        start = threading.Barrier(2)

        def race(key: str = f"race-{attempt}", start: threading.Barrier = start) -> bool:
            start.wait()
            return deliver(store, key)

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = sorted(future.result() for future in [pool.submit(race) for _ in range(2)])
        assert outcomes == [False, True]
    assert len(store.inbox_items()) == 10


def test_delivery_bytes_and_headers_are_kept_exactly(store: Store) -> None:
    """The raw body bytes and the headers come back exactly as received."""
    body = b'{"a": 1,  "b":"\xc3\xa9"}\n'
    store.record_delivery(
        source="shopify",
        delivery_key="e-1",
        topic="fulfillments/create",
        connection_id=None,
        headers={"X-Shopify-Topic": "fulfillments/create"},
        body=body,
    )
    (item,) = store.inbox_items()
    assert item.body == body
    assert item.headers == {"X-Shopify-Topic": "fulfillments/create"}


def test_delivery_from_unknown_shop_is_stored(store: Store) -> None:
    """A delivery whose shop is unknown is still stored, with no connection."""
    deliver(store, "unknown-shop-1", connection_id=None)
    (item,) = store.inbox_items(status="pending")
    assert item.connection_id is None


def test_malformed_delivery_is_stored_finished_with_its_error(store: Store) -> None:
    """A delivery recorded as malformed keeps its error and is never claimed."""
    store.record_delivery(
        source="tiktok",
        delivery_key="bad-1",
        topic="unknown",
        connection_id=None,
        headers={},
        body=b"not json",
        status="malformed",
        error="body is not JSON",
    )
    (item,) = store.inbox_items(status="malformed")
    assert item.last_error == "body is not JSON"
    assert item.processed_at is not None
    assert store.claim_inbox("w1", 10, LEASE) == []


def test_claim_leases_item_and_counts_attempt(store: Store, manual_clock: ManualClock) -> None:
    """A claimed item is leased to the worker until now + lease, with its attempt counted."""
    deliver(store, "n-1")
    (item,) = store.claim_inbox("w1", 10, LEASE)
    assert item.locked_by == "w1"
    assert item.locked_until == manual_clock.now() + LEASE
    assert item.attempts == 1
    assert store.claim_inbox("w2", 10, LEASE) == []


def test_expired_lease_returns_item_to_another_worker(
    store: Store, manual_clock: ManualClock
) -> None:
    """When a worker crashes, its lease expires and the item is claimed again, attempt 2."""
    deliver(store, "n-1")
    store.claim_inbox("crashed", 10, LEASE)
    manual_clock.advance(LEASE + timedelta(seconds=1))
    (item,) = store.claim_inbox("w2", 10, LEASE)
    assert (item.locked_by, item.attempts) == ("w2", 2)


def test_claim_takes_oldest_first_up_to_limit(store: Store, manual_clock: ManualClock) -> None:
    """Items are claimed in arrival order, at most `limit` at a time."""
    for number in range(5):
        deliver(store, f"n-{number}")
        manual_clock.advance(1)
    claimed = store.claim_inbox("w1", 3, LEASE)
    assert [item.delivery_key for item in claimed] == ["-:n-0", "-:n-1", "-:n-2"]


def test_retried_item_waits_until_its_next_attempt(store: Store, manual_clock: ManualClock) -> None:
    """A retried item is released, keeps its error, and is not due before next_attempt_at."""
    deliver(store, "n-1")
    (item,) = store.claim_inbox("w1", 10, LEASE)
    store.retry_inbox(
        item.id, Fence("w1", item.attempts), "TikTok 503", manual_clock.now() + timedelta(minutes=2)
    )
    assert store.claim_inbox("w1", 10, LEASE) == []
    manual_clock.advance(timedelta(minutes=2))
    (again,) = store.claim_inbox("w1", 10, LEASE)
    assert (again.attempts, again.last_error) == (2, "TikTok 503")


def test_finished_item_is_never_claimed_again(store: Store, manual_clock: ManualClock) -> None:
    """An item finished as done records when, and is out of the queue for good."""
    deliver(store, "n-1")
    (item,) = store.claim_inbox("w1", 10, LEASE)
    store.finish_inbox(item.id, Fence("w1", item.attempts), "done")
    manual_clock.advance(timedelta(hours=1))
    assert store.claim_inbox("w1", 10, LEASE) == []
    (done,) = store.inbox_items(status="done")
    assert done.processed_at == manual_clock.now() - timedelta(hours=1)


def test_finishing_another_workers_item_raises_lease_lost(
    store: Store, manual_clock: ManualClock
) -> None:
    """A worker whose item was re-claimed by another cannot finish or retry it."""
    deliver(store, "n-1")
    (item,) = store.claim_inbox("slow", 10, LEASE)
    manual_clock.advance(LEASE + timedelta(seconds=1))
    store.claim_inbox("fast", 10, LEASE)
    with pytest.raises(LeaseLost):
        store.finish_inbox(item.id, Fence("slow", item.attempts), "done")
    with pytest.raises(LeaseLost):
        store.retry_inbox(item.id, Fence("slow", item.attempts), "boom", manual_clock.now())
    (still,) = store.inbox_items(status="pending")
    assert still.locked_by == "fast"
