"""Deadlines: an order is looked at again when its time comes, by exactly one worker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.store import Fence, LeaseLost, Store

LEASE = timedelta(seconds=30)
ORDER = "577000111222333"


def schedule(store: Store, connection_id: int, kind: str, due_in: timedelta) -> int:
    with store.order_unit(connection_id, ORDER) as unit:
        unit.save({})
        unit.set_deadline(kind, store.clock.now() + due_in)
        return unit.mirror_id


def test_deadline_is_claimed_only_once_due(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A deadline is not claimed before due_at, and is claimed at due_at."""
    schedule(store, connection_id, "holdback", timedelta(minutes=60))
    manual_clock.advance(timedelta(minutes=59, seconds=59))
    assert store.claim_deadlines("w1", 10, LEASE) == []
    manual_clock.advance(1)
    (deadline,) = store.claim_deadlines("w1", 10, LEASE)
    assert (deadline.kind, deadline.connection_id, deadline.tiktok_order_id) == (
        "holdback",
        connection_id,
        ORDER,
    )


def test_claimed_deadline_returns_after_lease_expiry(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A deadline whose worker crashed is claimed again once the lease has expired."""
    schedule(store, connection_id, "holdback", timedelta(0))
    store.claim_deadlines("crashed", 10, LEASE)
    assert store.claim_deadlines("w2", 10, LEASE) == []
    manual_clock.advance(LEASE + timedelta(seconds=1))
    (deadline,) = store.claim_deadlines("w2", 10, LEASE)
    assert deadline.locked_by == "w2"


def test_setting_a_deadline_again_moves_it(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """One deadline per order and kind: setting it again moves the existing one."""
    mirror_id = schedule(store, connection_id, "recheck", timedelta(minutes=5))
    schedule(store, connection_id, "recheck", timedelta(minutes=10))
    (deadline,) = store.deadlines_for_mirror(mirror_id)
    assert deadline.due_at == manual_clock.now() + timedelta(minutes=10)


def test_finished_deadline_is_gone(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A handled deadline is removed in the unit that handled it."""
    mirror_id = schedule(store, connection_id, "holdback", timedelta(0))
    (deadline,) = store.claim_deadlines("w1", 10, LEASE)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.finish_deadline(deadline.id, Fence("w1", deadline.attempts))
    assert store.deadlines_for_mirror(mirror_id) == []


def test_deadline_rescheduled_while_handled_survives_its_finish(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Handling a recheck that sets the next recheck keeps the new one, in either call order."""
    mirror_id = schedule(store, connection_id, "recheck", timedelta(0))
    (deadline,) = store.claim_deadlines("w1", 10, LEASE)
    next_check = manual_clock.now() + timedelta(minutes=5)
    with store.order_unit(connection_id, ORDER) as unit:
        unit.set_deadline("recheck", next_check)
        unit.finish_deadline(deadline.id, Fence("w1", deadline.attempts))
    (rescheduled,) = store.deadlines_for_mirror(mirror_id)
    assert (rescheduled.due_at, rescheduled.locked_by) == (next_check, None)


def test_finishing_a_reclaimed_deadline_raises_lease_lost(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A worker whose deadline was re-claimed by another cannot finish it."""
    schedule(store, connection_id, "holdback", timedelta(0))
    (deadline,) = store.claim_deadlines("slow", 10, LEASE)
    manual_clock.advance(LEASE + timedelta(seconds=1))
    store.claim_deadlines("fast", 10, LEASE)

    def finish_as_slow_worker() -> None:
        with store.order_unit(connection_id, ORDER) as unit:
            unit.finish_deadline(deadline.id, Fence("slow", deadline.attempts))

    with pytest.raises(LeaseLost):
        finish_as_slow_worker()


def test_cleared_deadline_is_never_claimed(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """A deadline cleared by a later decision (e.g. the order was cancelled) does not fire."""
    schedule(store, connection_id, "holdback", timedelta(minutes=60))
    with store.order_unit(connection_id, ORDER) as unit:
        unit.clear_deadline("holdback")
    manual_clock.advance(timedelta(hours=2))
    assert store.claim_deadlines("w1", 10, LEASE) == []
