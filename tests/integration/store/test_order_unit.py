"""The unit of work for one order: state, actions, deadlines and timeline commit together."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Fence, LeaseLost, Store

LEASE = timedelta(seconds=30)
ORDER = "577000111222333"


class Boom(Exception):
    pass


def test_new_order_has_no_state(store: Store, connection_id: int) -> None:
    """The first unit of an order sees a new mirror with no state."""
    with store.order_unit(connection_id, ORDER) as unit:
        assert (unit.is_new, unit.state) == (True, None)
        unit.save({"phase": "reserving"})


def test_unit_commits_state_outbox_deadline_and_timeline_together(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Everything a unit wrote is visible after it exits normally."""
    holdback_ends = manual_clock.now() + timedelta(minutes=60)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({"phase": "held"}, phase="held", tiktok_status="AWAITING_SHIPMENT")
        unit.enqueue("reserve", {"order": ORDER}, f"reserve-{ORDER}", 10)
        unit.set_deadline("holdback", holdback_ends)
        unit.add_timeline("decision", "Reserve stock in Shopify at once", {"rule": 2})
    mirror = store.get_mirror(connection_id, ORDER)
    assert mirror is not None
    assert (mirror.state, mirror.version, mirror.phase) == ({"phase": "held"}, 1, "held")
    assert [item.kind for item in store.outbox_for_mirror(mirror.id)] == ["reserve"]
    assert [d.due_at for d in store.deadlines_for_mirror(mirror.id)] == [holdback_ends]
    (entry,) = store.timeline(mirror.id)
    assert (entry.kind, entry.summary, entry.detail) == (
        "decision",
        "Reserve stock in Shopify at once",
        {"rule": 2},
    )


def test_exception_rolls_back_everything_the_unit_wrote(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A unit that raises leaves no state, action, deadline, timeline entry or mirror behind."""

    def decide_then_crash() -> None:
        with store.order_unit(connection_id, ORDER) as unit:
            unit.save({"phase": "held"})
            unit.enqueue("reserve", {}, f"reserve-{ORDER}", 10)
            unit.set_deadline("holdback", manual_clock.now())
            unit.add_timeline("event", "order created")
            raise Boom

    with pytest.raises(Boom):
        decide_then_crash()
    assert store.get_mirror(connection_id, ORDER) is None
    assert store.claim_outbox("w1", 10, LEASE) == []
    assert store.claim_deadlines("w1", 10, LEASE) == []


def test_exception_keeps_the_previous_state(store: Store, connection_id: int) -> None:
    """A failed unit on an existing order leaves its saved state and version untouched."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({"n": 1})

    def save_then_crash() -> None:
        with store.order_unit(connection_id, ORDER) as unit:
            assert (unit.is_new, unit.state) == (False, {"n": 1})
            unit.save({"n": 2})
            raise Boom

    with pytest.raises(Boom):
        save_then_crash()
    mirror = store.get_mirror(connection_id, ORDER)
    assert mirror is not None
    assert (mirror.state, mirror.version) == ({"n": 1}, 1)


def test_save_bumps_version_and_updated_at(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Each save increments the version and stamps updated_at."""
    for n in range(3):
        manual_clock.advance(60)
        with store.order_unit(connection_id, ORDER) as unit:
            unit.save({"n": n})
    mirror = store.get_mirror(connection_id, ORDER)
    assert mirror is not None
    assert (mirror.version, mirror.updated_at) == (3, manual_clock.now())


def test_save_rejects_unknown_projection(store: Store, connection_id: int) -> None:
    """Only the listing columns can be projected; a typo is an error, not a silent drop."""
    with pytest.raises(TypeError, match="phaze"), store.order_unit(connection_id, ORDER) as unit:
        unit.save({}, phaze="held")


def test_untouched_new_mirror_is_not_kept(store: Store, connection_id: int) -> None:
    """A unit that decided nothing about a new order leaves no empty mirror row."""
    with store.order_unit(connection_id, ORDER) as unit:
        assert unit.is_new
    assert store.get_mirror(connection_id, ORDER) is None


def test_enqueue_with_existing_key_adds_nothing(store: Store, connection_id: int) -> None:
    """Enqueueing an idempotency key twice, even from two units, keeps one action."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({})
        assert unit.enqueue("reserve", {"try": 1}, f"reserve-{ORDER}", 10) is True
    with store.order_unit(connection_id, ORDER) as unit:
        assert unit.enqueue("reserve", {"try": 2}, f"reserve-{ORDER}", 10) is False
    (item,) = store.outbox_for_mirror(unit.mirror_id)
    assert item.payload == {"try": 1}


def test_concurrent_units_of_one_order_run_one_after_the_other(
    store: Store, connection_id: int
) -> None:
    """Two workers handling the same order at once never lose an update (the mirror is locked)."""
    start = threading.Barrier(2)

    def handle_event() -> bool:
        start.wait()
        with store.order_unit(connection_id, ORDER) as unit:
            seen = (unit.state or {}).get("events", 0)
            time.sleep(0.05)  # widen the window in which a missing lock would lose an update
            unit.save({"events": seen + 1})
            return unit.is_new

    with ThreadPoolExecutor(max_workers=2) as pool:
        created = sorted(f.result() for f in [pool.submit(handle_event) for _ in range(2)])
    mirror = store.get_mirror(connection_id, ORDER)
    assert mirror is not None
    assert (mirror.state, mirror.version, created) == ({"events": 2}, 2, [False, True])


def test_finishing_the_inbox_item_commits_with_the_state(store: Store, connection_id: int) -> None:
    """The event's inbox item is marked done in the same transaction as the new state."""
    store.record_delivery(
        source="tiktok",
        delivery_key="n-1",
        topic="ORDER_STATUS_CHANGE",
        connection_id=connection_id,
        headers={},
        body=b"{}",
    )
    (item,) = store.claim_inbox("w1", 1, LEASE)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({"status": "UNPAID"})
        unit.finish_inbox(item.id, Fence("w1", item.attempts), "done")
    assert [i.id for i in store.inbox_items(status="done")] == [item.id]


def test_lease_lost_rolls_back_the_whole_unit(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A worker whose inbox item was re-claimed commits none of its decision."""
    store.record_delivery(
        source="tiktok",
        delivery_key="n-1",
        topic="ORDER_STATUS_CHANGE",
        connection_id=connection_id,
        headers={},
        body=b"{}",
    )
    (item,) = store.claim_inbox("slow", 1, LEASE)
    manual_clock.advance(LEASE + timedelta(seconds=1))
    store.claim_inbox("fast", 1, LEASE)

    def decide_as_slow_worker() -> None:
        with store.order_unit(connection_id, ORDER) as unit:
            unit.save({"status": "UNPAID"})
            unit.enqueue("reserve", {}, f"reserve-{ORDER}", 10)
            unit.finish_inbox(item.id, Fence("slow", item.attempts), "done")

    with pytest.raises(LeaseLost):
        decide_as_slow_worker()
    assert store.get_mirror(connection_id, ORDER) is None
    assert store.inbox_items(status="done") == []


def test_swallowed_lease_lost_still_rolls_back(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Catching LeaseLost inside the unit does not let half a decision commit."""
    store.record_delivery(
        source="tiktok",
        delivery_key="n-1",
        topic="ORDER_STATUS_CHANGE",
        connection_id=connection_id,
        headers={},
        body=b"{}",
    )

    def swallow_lease_lost() -> None:
        with store.order_unit(connection_id, ORDER) as unit:
            unit.save({"status": "UNPAID"})
            with contextlib.suppress(LeaseLost):
                unit.finish_inbox(999, Fence("nobody", 1), "done")

    with pytest.raises(LeaseLost):
        swallow_lease_lost()
    assert store.get_mirror(connection_id, ORDER) is None


def test_completing_an_action_commits_with_its_result(store: Store, connection_id: int) -> None:
    """An executed action is marked done together with the state its result produced."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({"shopify": None})
        unit.enqueue("reserve", {}, f"reserve-{ORDER}", 10)
    (item,) = store.claim_outbox("w1", 1, LEASE)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({"shopify": "gid://shopify/Order/1"}, shopify_order_id="gid://shopify/Order/1")
        unit.complete_outbox(item.id, Fence("w1", item.attempts))
    (done,) = store.outbox_for_mirror(unit.mirror_id)
    assert done.status == "done"
    mirror = store.get_mirror(connection_id, ORDER)
    assert mirror is not None
    assert mirror.shopify_order_id == "gid://shopify/Order/1"


def test_failing_an_action_records_the_error(store: Store, connection_id: int) -> None:
    """A permanently failed action keeps the platform's words for the merchant."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({})
        unit.enqueue("track", {}, f"track-{ORDER}", 30)
    (item,) = store.claim_outbox("w1", 1, LEASE)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({}, needs_attention=True, attention_reason="carrier 'Foo Post' is not supported")
        unit.fail_outbox(
            item.id, Fence("w1", item.attempts), "TikTok 21011002: shipping provider not found"
        )
    (failed,) = store.outbox_for_mirror(unit.mirror_id)
    assert (failed.status, failed.last_error) == (
        "failed",
        "TikTok 21011002: shipping provider not found",
    )


def test_retrying_an_action_commits_with_its_timeline(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A transient failure is retried later, and the attempt is explained in the same unit."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({})
        unit.enqueue("reserve", {}, f"reserve-{ORDER}", 10)
    (item,) = store.claim_outbox("w1", 1, LEASE)
    retry_at = manual_clock.now() + timedelta(seconds=20)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.add_timeline("result", "Shopify answered 503; retrying in 20 s")
        unit.retry_outbox(item.id, Fence("w1", item.attempts), "Shopify 503", retry_at)
    (waiting,) = store.outbox_for_mirror(unit.mirror_id)
    assert (waiting.next_attempt_at, waiting.locked_by) == (retry_at, None)
    assert [e.summary for e in store.timeline(unit.mirror_id)] == [
        "Shopify answered 503; retrying in 20 s"
    ]


def test_cancel_pending_outbox_spares_running_actions(store: Store, connection_id: int) -> None:
    """Cancelling an order's pending actions leaves the one a worker is running alone."""
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({})
        unit.enqueue("reserve", {}, "reserve", 10)
        unit.enqueue("release", {}, "release", 50)
    store.claim_outbox("w1", 1, LEASE)
    with store.order_unit(connection_id, ORDER) as unit:
        assert unit.cancel_pending_outbox() == 1
    statuses = {item.kind: item.status for item in store.outbox_for_mirror(unit.mirror_id)}
    assert statuses == {"reserve": "pending", "release": "cancelled"}


def test_connection_unit_enqueues_work_without_an_order(store: Store, connection_id: int) -> None:
    """Work not about one order (e.g. an inventory push) is enqueued through store.unit."""
    with store.unit(connection_id) as unit:
        assert unit.enqueue("push_inventory", {"sku": "A"}, "push-A-1", 40) is True
    (item,) = store.claim_outbox("w1", 1, LEASE)
    assert (item.order_mirror_id, item.tiktok_order_id, item.kind) == (None, None, "push_inventory")
