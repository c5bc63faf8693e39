"""The outbox: priority order, retries, permanent failure and the merchant's Retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Fence, LeaseLost, Store

EnqueueOrders = Callable[..., list[int]]  # the enqueue_orders fixture
LEASE = timedelta(seconds=30)


def test_lower_priority_number_is_claimed_first(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Reservations (priority 10) are claimed before older releases (priority 50)."""
    with store.order_unit(connection_id, "1") as unit:
        unit.save({})
        unit.enqueue("release", {}, "release-1", priority=50)
    manual_clock.advance(60)
    with store.order_unit(connection_id, "2") as unit:
        unit.save({})
        unit.enqueue("reserve", {}, "reserve-2", priority=10)
    claimed = store.claim_outbox("w1", 1, LEASE)
    assert [item.kind for item in claimed] == ["reserve"]


def test_equal_priority_is_claimed_oldest_due_first(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Among equal priorities the action due earliest runs first."""
    with store.order_unit(connection_id, "1") as unit:
        unit.save({})
        unit.enqueue("push", {}, "later", 10, run_at=manual_clock.now() + timedelta(seconds=5))
        unit.enqueue("push", {}, "sooner", 10)
    manual_clock.advance(10)
    claimed = store.claim_outbox("w1", 10, LEASE)
    assert [item.idempotency_key for item in claimed] == ["sooner", "later"]


def test_action_scheduled_for_later_is_not_claimed_early(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """An action with run_at in the future is not claimed before then."""
    with store.order_unit(connection_id, "1") as unit:
        unit.save({})
        unit.enqueue("release", {}, "release-1", 50, run_at=manual_clock.now() + timedelta(hours=1))
    assert store.claim_outbox("w1", 10, LEASE) == []
    manual_clock.advance(timedelta(hours=1))
    assert len(store.claim_outbox("w1", 10, LEASE)) == 1


def test_claimed_action_carries_its_order(store: Store, connection_id: int) -> None:
    """A claimed action says which connection and TikTok order it belongs to."""
    with store.order_unit(connection_id, "577000111222333") as unit:
        unit.save({})
        unit.enqueue("reserve", {"x": 1}, "reserve-577000111222333", 10)
    (item,) = store.claim_outbox("w1", 10, LEASE)
    assert (item.connection_id, item.tiktok_order_id, item.payload) == (
        connection_id,
        "577000111222333",
        {"x": 1},
    )


def test_expired_outbox_lease_returns_action(
    store: Store, manual_clock: ManualClock, enqueue_orders: EnqueueOrders
) -> None:
    """An action whose worker died is claimed again after the lease, attempts counting on."""
    enqueue_orders(1)
    store.claim_outbox("crashed", 10, LEASE)
    assert store.claim_outbox("w2", 10, LEASE) == []
    manual_clock.advance(LEASE + timedelta(seconds=1))
    (item,) = store.claim_outbox("w2", 10, LEASE)
    assert (item.locked_by, item.attempts) == ("w2", 2)


def test_retried_action_waits_for_backoff(
    store: Store, manual_clock: ManualClock, enqueue_orders: EnqueueOrders
) -> None:
    """A retried action keeps its error and is due again only at next_attempt_at."""
    enqueue_orders(1)
    (item,) = store.claim_outbox("w1", 10, LEASE)
    store.retry_outbox(
        item.id,
        Fence("w1", item.attempts),
        "Shopify 502",
        manual_clock.now() + timedelta(seconds=40),
    )
    manual_clock.advance(39)
    assert store.claim_outbox("w1", 10, LEASE) == []
    manual_clock.advance(1)
    (again,) = store.claim_outbox("w1", 10, LEASE)
    assert (again.attempts, again.last_error) == (2, "Shopify 502")


def test_failed_action_stays_failed_until_merchant_retries(
    store: Store, manual_clock: ManualClock, enqueue_orders: EnqueueOrders
) -> None:
    """A permanently failed action is not claimed; the merchant's Retry makes it due now, with
    a fresh set of attempts and the last error kept."""
    enqueue_orders(1)
    (item,) = store.claim_outbox("w1", 10, LEASE)
    store.fail_outbox(item.id, Fence("w1", item.attempts), "Shopify said: variant not found")
    manual_clock.advance(timedelta(days=1))
    assert store.claim_outbox("w1", 10, LEASE) == []
    assert store.requeue_outbox(item.id) is True
    (again,) = store.claim_outbox("w1", 10, LEASE)
    assert (again.attempts, again.last_error) == (1, "Shopify said: variant not found")


def test_requeue_ignores_actions_that_did_not_fail(
    store: Store, enqueue_orders: EnqueueOrders
) -> None:
    """Retry on a pending action changes nothing and says so."""
    (item_id,) = enqueue_orders(1)
    assert store.requeue_outbox(item_id) is False


def test_completing_a_released_action_raises_lease_lost(
    store: Store, manual_clock: ManualClock, enqueue_orders: EnqueueOrders
) -> None:
    """A worker that lost its lease to another cannot mark the action done."""
    enqueue_orders(1)
    (item,) = store.claim_outbox("slow", 10, LEASE)
    manual_clock.advance(LEASE + timedelta(seconds=1))
    store.claim_outbox("fast", 10, LEASE)
    with pytest.raises(LeaseLost):
        store.complete_outbox(item.id, Fence("slow", item.attempts))
    with pytest.raises(LeaseLost):
        store.fail_outbox(item.id, Fence("slow", item.attempts), "boom")


def test_worker_past_its_lease_may_finish_when_nobody_reclaimed(
    store: Store, manual_clock: ManualClock, enqueue_orders: EnqueueOrders
) -> None:
    """A slow worker whose lease expired unnoticed still completes: the work ran exactly once."""
    enqueue_orders(1)
    (item,) = store.claim_outbox("slow", 10, LEASE)
    manual_clock.advance(LEASE * 3)
    store.complete_outbox(item.id, Fence("slow", item.attempts))
    (done,) = store.outbox_for_mirror(item.order_mirror_id or 0)
    assert done.status == "done"
