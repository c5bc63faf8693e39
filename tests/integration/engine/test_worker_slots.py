"""A worker's slots (SQLite and PostgreSQL): reservations strictly first, one order at a time,
several orders side by side, and lease checks that cost no round trip while the lease is fresh."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.engine.worker import Claimed, ClaimLease, Finish, Worker
from shopbridge.store import ConnectionUnit, OutboxItem, Store, WorkKind
from shopbridge_sandbox.fakes import FakeShopify
from support.orders import T0, minutes, snapshot
from support.world import World

RESERVATIONS = 7
RELEASES = 5
RESERVE = ("create_shopify_order", 0)


def _spy_on_starts(worker: Worker) -> list[Claimed]:
    """Every item the worker starts, in the order it starts them (the work itself is real)."""
    started: list[Claimed] = []
    handle: Callable[[Claimed], Awaitable[None]] = worker.handle

    async def recording(claimed: Claimed) -> None:
        started.append(claimed)
        await handle(claimed)

    worker.handle = recording  # type: ignore[method-assign]
    return started


def _is_reservation(claimed: Claimed) -> bool:
    return isinstance(claimed.item, OutboxItem) and claimed.item.kind == "create_shopify_order"


async def _releases_due_and_reservations_waiting(world: World, clock: ManualClock) -> None:
    """RELEASES orders paid at T0 and reserved, their holdback over (deadlines due); then
    RESERVATIONS new orders, not reserved yet."""
    clock.set(T0)
    for n in range(RELEASES):
        world.observe(
            snapshot("AWAITING_SHIPMENT", at=T0, paid=T0, on_hold=False, order_id=f"1{n}")
        )
    await world.worker("setup").run_until_idle()
    assert world.shopify.calls["create_pending_order"] == RELEASES
    clock.set(T0 + minutes(61))
    for n in range(RESERVATIONS):
        world.observe(snapshot("UNPAID", at=T0 + minutes(61), order_id=f"2{n}"))


def _assert_every_reservation_started_first(started: list[Claimed]) -> None:
    kinds = ["reservation" if _is_reservation(c) else str(c.kind) for c in started]
    assert kinds[:RESERVATIONS] == ["reservation"] * RESERVATIONS, kinds
    assert "reservation" not in kinds[RESERVATIONS:], kinds


async def test_reservations_take_every_slot_until_none_waits(
    store: Store, manual_clock: ManualClock
) -> None:
    """Rule 2: with 7 reservations and 5 holdback releases due, a worker with 2 slots (and 2
    more queued) starts all 7 reservations before any deadline or release; then the rest runs."""
    world = World(store, manual_clock, shopify=FakeShopify({"TEE-RED-L": 1000}))
    await _releases_due_and_reservations_waiting(world, manual_clock)
    worker = world.worker("slots", concurrency=2, batch_size=10)
    started = _spy_on_starts(worker)

    await worker.drain()

    _assert_every_reservation_started_first(started)
    counts = Counter(str(c.kind) for c in started if not _is_reservation(c))
    assert counts["deadline"] == counts["outbox"] == RELEASES, "each deadline, then its release"
    assert world.shopify.calls["create_pending_order"] == RELEASES + RESERVATIONS
    assert world.shopify.calls["mark_paid"] == RELEASES


async def test_passes_also_run_reservations_first(store: Store, manual_clock: ManualClock) -> None:
    """The step-by-step passes (tests, the demo) claim as the long-running loop does: a pass of
    3 items takes reservations only while any waits."""
    world = World(store, manual_clock, shopify=FakeShopify({"TEE-RED-L": 1000}))
    await _releases_due_and_reservations_waiting(world, manual_clock)
    worker = world.worker("passes", batch_size=3)
    started = _spy_on_starts(worker)

    await worker.run_until_idle()

    _assert_every_reservation_started_first(started)
    assert world.shopify.calls["mark_paid"] == RELEASES


def test_a_claim_round_gives_other_work_only_the_slots_reservations_left(
    store: Store, manual_clock: ManualClock
) -> None:
    """Store.claim_round: with 6 reservations and 3 releases due, a round of 4 slots claims 4
    reservations; the next the last 2 and, with the 2 slots left, 2 releases. A round is one
    transaction."""
    manual_clock.set(T0)
    connection_id = World(store, manual_clock).connection_id
    for n, (kind, priority) in enumerate([("release_shopify_order", 20)] * 3 + [RESERVE] * 6):
        with store.order_unit(connection_id, f"4{n}") as unit:
            unit.save({}, phase="held")
            unit.enqueue(kind, {}, f"{kind}-{n}", priority)
    commits = _count_commits(store.engine)
    lease = timedelta(minutes=1)

    first = store.claim_round("w", lease, slots=4, batch_size=10, first_priority=0)
    second = store.claim_round("w", lease, slots=4, batch_size=10, first_priority=0)

    assert [getattr(item, "kind", None) for _, item in first] == ["create_shopify_order"] * 4
    assert [getattr(item, "kind", None) for _, item in second] == [
        "create_shopify_order",
        "create_shopify_order",
        "release_shopify_order",
        "release_shopify_order",
    ]
    assert commits() == 2


def test_a_stream_of_deliveries_does_not_starve_releases(
    store: Store, manual_clock: ManualClock
) -> None:
    """With 20 deliveries pending and 3 releases due, a round of 4 slots gives the releases
    their share (1) and deliveries theirs, then what is left: no queue waits for another to
    run dry (the demo's holdback deadlines fired an hour late behind its webhooks)."""
    manual_clock.set(T0)
    connection_id = World(store, manual_clock).connection_id
    for n in range(3):
        with store.order_unit(connection_id, f"5{n}") as unit:
            unit.save({}, phase="held")
            unit.enqueue("release_shopify_order", {}, f"release-{n}", 20)
    for n in range(20):
        store.record_delivery(
            source="tiktok",
            delivery_key=f"d{n}",
            topic="ORDER_STATUS_CHANGE",
            connection_id=connection_id,
            headers={},
            body=b"{}",
        )
    lease = timedelta(minutes=1)

    round_ = store.claim_round("w", lease, slots=4, batch_size=10, first_priority=0)

    kinds = Counter(str(kind) for kind, _ in round_)
    assert kinds["outbox"] >= 1, kinds
    assert kinds["inbox"] >= 1, kinds
    assert sum(kinds.values()) == 4


class _SlowOrders(Worker):
    """Runs nothing remote: each item takes a moment and is then completed. Notes which orders
    run at once."""

    running: Counter[int]
    most_at_once = 0
    overlaps: list[int]
    finished: list[tuple[int, int]]

    async def _perform(self, claimed: Claimed) -> Finish:
        item, fence = claimed.item, claimed.fence
        assert isinstance(item, OutboxItem) and item.order_mirror_id is not None
        mirror = item.order_mirror_id
        if self.running[mirror]:
            self.overlaps.append(mirror)
        self.running[mirror] += 1
        self.most_at_once = max(self.most_at_once, sum(1 for n in self.running.values() if n))
        await asyncio.sleep(0.01)
        self.running[mirror] -= 1
        self.finished.append((mirror, item.id))

        def finish(unit: ConnectionUnit) -> None:
            unit.complete_outbox(item.id, fence)

        return finish


async def test_orders_run_side_by_side_and_one_orders_items_in_turn(
    store: Store, manual_clock: ManualClock
) -> None:
    """With 3 actions queued for each of 4 orders and 4 slots, different orders run at the same
    time, an order's own actions never do, and they run in the order they were queued."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    for n in range(4):
        with store.order_unit(world.connection_id, f"3{n}") as unit:
            unit.save({}, phase="held")
            for step in range(3):
                unit.enqueue("refresh_tiktok_order", {}, f"3{n}-{step}", priority=50)
    service = world.service
    worker = _SlowOrders(
        store, manual_clock, service.contexts, service.inbox, service.bridge, concurrency=4
    )
    worker.running, worker.overlaps, worker.finished = Counter(), [], []

    handled = await worker.drain()

    assert handled == 12
    assert worker.overlaps == [], "an order's actions never run at once"
    assert worker.most_at_once >= 2, "different orders do"
    by_order: dict[int, list[int]] = {}
    for mirror, item_id in worker.finished:
        by_order.setdefault(mirror, []).append(item_id)
    assert all(ids == sorted(ids) and len(ids) == 3 for ids in by_order.values())
    with store.engine.connect() as db:
        statuses = db.execute(sa.text("SELECT status, count(*) FROM outbox GROUP BY status"))
        assert dict(statuses.all()) == {"done": 12}


async def test_a_fresh_lease_is_checked_without_a_round_trip(
    store: Store, manual_clock: ManualClock
) -> None:
    """Fencing costs no transaction while at least half the lease is left (nobody else can take
    the claim before it ends); past that, the check asks the database and renews the lease."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker("fenced", lease=timedelta(seconds=10))
    [claimed] = await worker._claim(WorkKind.OUTBOX, 1)
    assert isinstance(claimed.item, OutboxItem)
    lease = ClaimLease(worker, claimed.item, claimed.fence)
    commits = _count_commits(store.engine)

    for _ in range(3):
        await lease.check()
    manual_clock.advance(timedelta(seconds=4))
    await lease.check()
    assert commits() == 0

    manual_clock.advance(timedelta(seconds=2))  # 4 s of the lease left: ask, and renew
    await lease.check()
    assert commits() == 1
    [renewed] = store.outbox_for_mirror(world.mirror(snapshot().order_id).id)
    assert renewed.locked_until == T0 + timedelta(seconds=16)


def _count_commits(engine: sa.Engine) -> Callable[[], int]:
    """How many transactions `engine` committed since this call."""
    count = [0]

    def committed(_connection: sa.Connection) -> None:
        count[0] += 1

    sa.event.listen(engine, "commit", committed)
    return lambda: count[0]
