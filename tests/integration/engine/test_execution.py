"""Execution you can kill -9: fenced claims, resumable steps, capped attempts, live leases.

Every test runs on SQLite and PostgreSQL, with the in-memory platforms of `support.world`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock, SystemClock
from shopbridge.domain import events as ev
from shopbridge.domain.tiktok_order import TikTokOrder
from shopbridge.engine.ports import CreatedOrder, RetryableError, ShopifyOrderRef
from shopbridge.engine.worker import RetryPolicy, process_alive
from shopbridge.store import Fence, SecretBox, Store, WorkKind
from shopbridge.store.tables import deadlines, inbox, outbox
from shopbridge_sandbox.fakes import FakeShopify
from support.orders import PAID_AT, T0, minutes, snapshot
from support.world import World

ORDER = snapshot().order_id


class LaggingSearch(FakeShopify):
    """Shopify whose order search has not indexed anything yet (search lag is UNCONFIRMED)."""

    async def find_orders(self, tiktok_order_id: str) -> tuple[ShopifyOrderRef, ...]:
        self._enter("find_orders")
        return ()


class SlowCreate(FakeShopify):
    """Shopify that takes `seconds` (real time) to answer orderCreate."""

    def __init__(self, seconds: float) -> None:
        super().__init__({"TEE-RED-L": 10, "MUG": 5})
        self.seconds = seconds

    async def create_pending_order(self, order: TikTokOrder) -> CreatedOrder:
        await asyncio.sleep(self.seconds)
        return await super().create_pending_order(order)


def held_by(store: Store, table: sa.Table, item_id: int) -> str | None:
    with store.engine.connect() as db:
        return db.execute(sa.select(table.c.locked_by).where(table.c.id == item_id)).scalar()


async def test_a_worker_that_lost_its_claim_does_not_act(
    store: Store, manual_clock: ManualClock
) -> None:
    """Fencing: a worker whose lease ran out and was re-claimed stops before its remote effect."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.observe(snapshot("UNPAID", at=T0))
    slow, quick = world.worker("slow"), world.worker("quick")
    [stale] = await slow._claim(WorkKind.OUTBOX, 1)
    manual_clock.advance(slow.lease + timedelta(seconds=1))
    [fresh] = await quick._claim(WorkKind.OUTBOX, 1)
    assert fresh.item.id == stale.item.id and fresh.fence != stale.fence

    await slow.handle(stale)
    assert world.shopify.calls["create_pending_order"] == 0, "the stale holder did not create"
    assert world.mirror(ORDER).phase == "new", "nor record anything"

    await quick.handle(fresh)
    assert len(world.shopify.orders) == 1
    assert world.mirror(ORDER).phase == "held"


async def test_a_reservation_resumes_with_the_order_it_created(
    store: Store, manual_clock: ManualClock
) -> None:
    """Create and hold are one resumable step: a holder that died after orderCreate leaves the
    order it made in the claim's progress, so the next holder holds it instead of creating
    another, even where Shopify's search has not indexed it yet."""
    manual_clock.set(T0)
    world = World(store, manual_clock, shopify=LaggingSearch({"TEE-RED-L": 10}))
    world.shopify.fail_next["hold_fulfillment_orders"].append(RetryableError("connection reset"))
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker()
    await worker.run_until_idle()
    [item] = store.outbox_for_mirror(world.mirror(ORDER).id)
    assert item.progress is not None and item.progress["shopify_order_id"].endswith("/1001")
    manual_clock.advance(timedelta(minutes=1))
    await worker.run_until_idle()
    assert world.shopify.calls["create_pending_order"] == 1
    [order] = world.shopify.orders.values()
    assert order.holds, "the order created before the crash is the one held"
    assert world.mirror(ORDER).shopify_order_id == order.order_id


async def test_extra_shopify_orders_are_cancelled_with_restock_and_flagged(
    store: Store, manual_clock: ManualClock
) -> None:
    """Rule 1 after the fact: of two Shopify orders for one TikTok order (two stale holders
    both created one), the oldest is kept and held, the other cancelled with restock."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    tiktok_order = snapshot("UNPAID", at=T0)
    world.observe(tiktok_order)
    stale = world.worker("stale")
    assert len(await stale._claim(WorkKind.OUTBOX, 1)) == 1  # and dies holding it
    first = await world.shopify.create_pending_order(tiktok_order)
    second = await world.shopify.create_pending_order(tiktok_order)
    assert world.shopify.available_stock["TEE-RED-L"] == 6
    manual_clock.advance(stale.lease + timedelta(seconds=1))
    await world.worker().run_until_idle()
    kept, extra = (world.shopify.orders[o.view.order_id] for o in (first, second))
    assert kept.holds and not kept.cancelled
    assert extra.cancelled and extra.cancel_reason == "OTHER"
    assert world.shopify.available_stock["TEE-RED-L"] == 8, "the extra order's units came back"
    row = world.mirror(ORDER)
    assert row.shopify_order_id == kept.order_id
    assert row.needs_attention and extra.name in (row.attention_reason or "")


async def test_two_workers_racing_one_create_leave_one_live_order(
    db_engine: sa.Engine, secret_box: SecretBox
) -> None:
    """A lease shorter than a slow Shopify answer: heartbeats keep the claim alive, so the other
    worker never runs the same create; one Shopify order, created once."""
    clock = SystemClock()
    store = Store(db_engine, clock, secret_box)
    # The create outlasts the lease 2.5 times over; heartbeats every 0.1 s leave 1.4 s of slack
    # for a busy machine (a heartbeat late by more than that would, rightly, lose the lease).
    world = World(store, clock, shopify=SlowCreate(seconds=3.0))  # type: ignore[arg-type]
    world.tiktok.put(snapshot("UNPAID", at=clock.now()))
    world.apply(ORDER, ev.TikTokOrderObserved(world.tiktok.orders[ORDER]))
    stop = asyncio.Event()
    options = {"lease": timedelta(seconds=1.5), "heartbeat_seconds": 0.1, "concurrency": 1}
    workers = [world.worker(f"racer-{n}", **options) for n in range(2)]
    tasks = [asyncio.create_task(w.run(stop, idle_seconds=0.02)) for w in workers]
    try:
        for _ in range(200):
            row = store.get_mirror(world.connection_id, ORDER)
            if row is not None and row.phase == "held":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # long enough for a wrongly re-claimed create to start
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert world.mirror(ORDER).phase == "held"
    assert world.shopify.calls["create_pending_order"] == 1
    assert [o.cancelled for o in world.shopify.orders.values()] == [False]


async def test_a_delivery_that_keeps_failing_ends_failed_and_others_go_on(
    store: Store, manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison inbox item is retried with backoff up to the cap, then failed and listed on its
    connection; the other deliveries of the same passes are handled."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker(retry=RetryPolicy(max_attempts=3))
    original = worker.inbox_handler.handle

    async def handle(item):  # type: ignore[no-untyped-def]
        if item.delivery_key.endswith(":poison"):
            raise KeyError("a field nobody expected")
        return await original(item)

    monkeypatch.setattr(worker.inbox_handler, "handle", handle)
    for key in ("poison", "fine"):
        store.record_delivery(
            source="merchant",
            delivery_key=key,
            topic="merchant",
            connection_id=world.connection_id,
            headers={},
            body=b'{"order_id": "1", "event": {"type": "DeadlineReached", "kind": "holdback"}}',
        )
    for _ in range(4):
        await worker.run_until_idle()
        manual_clock.advance(timedelta(hours=1))
    # Stored keys are per connection: "<connection id>:<the platform's key>".
    statuses = {i.delivery_key.split(":")[1]: (i.status, i.attempts) for i in store.inbox_items()}
    assert statuses == {"poison": ("failed", 3), "fine": ("done", 1)}
    [failed] = store.failed_inbox(world.connection_id)
    assert "unexpected KeyError" in (failed.last_error or "")
    assert "gave up after 3 attempts" in (failed.last_error or "")
    assert store.requeue_inbox(failed.id, world.connection_id)
    poison = [i.status for i in store.inbox_items() if i.delivery_key.endswith(":poison")]
    assert poison == ["pending"]


async def test_a_malformed_reconciliation_finding_is_recorded_at_once(
    store: Store, manual_clock: ManualClock
) -> None:
    """Bytes that are no encoded event are marked malformed on the first attempt, no retries."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    store.record_delivery(
        source="reconcile",
        delivery_key="broken",
        topic="TikTokOrderObserved",
        connection_id=world.connection_id,
        headers={},
        body=b'{"order_id": "1", "event": {"type": "NoSuchEvent"}}',
    )
    await world.worker().run_until_idle()
    [item] = store.inbox_items()
    assert (item.status, item.attempts) == ("malformed", 1)


async def test_a_deadline_that_keeps_failing_marks_its_order_stuck_until_retried(
    store: Store, manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadlines are capped too: after the last attempt the order says what failed, with a
    Retry; the Retry makes the deadline due again and the order whole again."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker(retry=RetryPolicy(max_attempts=2))
    world.observe(snapshot("AWAITING_SHIPMENT", at=PAID_AT, paid=PAID_AT, on_hold=False))
    await worker.run_until_idle()
    decide = worker.bridge.decide

    def broken(unit, event):  # type: ignore[no-untyped-def]
        if isinstance(event, ev.DeadlineReached):
            raise ZeroDivisionError("a bug in the holdback")
        return decide(unit, event)

    monkeypatch.setattr(worker.bridge, "decide", broken)
    for _ in range(3):
        manual_clock.advance(minutes(61))
        await worker.run_until_idle()
    row = world.mirror(ORDER)
    assert row.phase == "held"
    assert row.needs_attention and row.stuck_reason is not None
    assert "holdback deadline" in row.stuck_reason and "ZeroDivisionError" in row.stuck_reason
    [deadline] = store.deadlines_for_mirror(row.id)
    assert deadline.failed_at is not None and deadline.attempts == 2

    monkeypatch.setattr(worker.bridge, "decide", decide)
    assert store.requeue_deadline(deadline.id, row.id)
    await worker.run_until_idle()
    row = world.mirror(ORDER)
    assert row.phase == "released"
    assert row.stuck_reason is None and not row.needs_attention


async def test_an_action_lost_after_the_platform_committed_completes_on_retry(
    store: Store, manual_clock: ManualClock
) -> None:
    """A release whose "mark as paid" answer was lost is finished by the retry: the payment is
    seen as already recorded, not as a failure; nothing is left for the merchant."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker()
    world.observe(snapshot("AWAITING_SHIPMENT", at=PAID_AT, paid=PAID_AT, on_hold=False))
    await worker.run_until_idle()
    original = world.shopify.mark_paid

    async def paid_then_lost(order_id: str) -> None:
        await original(order_id)
        world.shopify.mark_paid = original  # type: ignore[method-assign]
        raise RetryableError("Shopify answered 502 after recording the payment")

    world.shopify.mark_paid = paid_then_lost  # type: ignore[method-assign]
    manual_clock.set(PAID_AT + minutes(61))
    await worker.run_until_idle()
    manual_clock.advance(timedelta(minutes=5))
    await worker.run_until_idle()
    [order] = world.shopify.orders.values()
    assert order.paid and not order.holds
    row = world.mirror(ORDER)
    assert row.phase == "released" and not row.needs_attention


def test_a_dead_siblings_items_are_released_at_once(
    store: Store, manual_clock: ManualClock
) -> None:
    """A worker on this host whose process is gone loses its leases at the next heartbeat of a
    live sibling, not when they run out."""
    world = World(store, manual_clock)
    world.observe(snapshot("UNPAID", at=T0))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not process_alive(gone.pid) and process_alive(os.getpid())
    host = socket.gethostname()
    store.register_worker("dead", host, gone.pid)
    store.register_worker("alive", host, os.getpid())
    [claimed] = store.claim_outbox("dead", 1, timedelta(hours=1))
    assert store.claim_outbox("alive", 1, timedelta(hours=1)) == []
    reaped = store.reap_dead_workers(host, process_alive, exclude="alive")
    assert [w.id for w in reaped] == ["dead"]
    [again] = store.claim_outbox("alive", 1, timedelta(hours=1))
    assert again.id == claimed.id
    assert [w.id for w in store.list_workers()] == ["alive"]
    assert store.reap_dead_workers(host, process_alive, exclude="alive") == []
    store.register_worker("dead", host, os.getpid())  # a fixed name starts again afresh
    assert sorted(w.id for w in store.list_workers()) == ["alive", "dead"]


async def test_a_stopping_worker_gives_back_what_it_did_not_start(
    db_engine: sa.Engine, secret_box: SecretBox
) -> None:
    """On a graceful stop, claimed but unstarted items are released for others at once."""
    clock = SystemClock()
    store = Store(db_engine, clock, secret_box)
    world = World(store, clock, shopify=SlowCreate(seconds=0.3))  # type: ignore[arg-type]
    for n in range(6):
        order = world.tiktok.put(snapshot("UNPAID", at=clock.now(), order_id=str(n + 1)))
        world.apply(order.order_id, ev.TikTokOrderObserved(order))
    worker = world.worker("stopping", concurrency=1, batch_size=10)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, idle_seconds=0.02))
    await asyncio.sleep(0.45)
    stop.set()
    await task
    with store.engine.connect() as db:
        holders = db.execute(sa.select(outbox.c.locked_by).where(outbox.c.status == "pending"))
        assert [h for (h,) in holders if h is not None] == []
    [record] = store.list_workers(include_stopped=True)
    assert record.stopped_at is not None and record.stop_reason == "stopped"
    assert 1 <= world.shopify.calls["create_pending_order"] < 6


def test_fences_guard_every_kind_of_finish(store: Store, manual_clock: ManualClock) -> None:
    """A finish that names an old claim of an item matches nothing, for all three queues."""
    world = World(store, manual_clock)
    world.observe(snapshot("UNPAID", at=T0))  # a reservation to run, an unpaid window to watch
    store.record_delivery(
        source="merchant",
        delivery_key="k",
        topic="t",
        connection_id=world.connection_id,
        headers={},
        body=b"{}",
    )
    manual_clock.set(T0 + timedelta(hours=25))
    lease = timedelta(seconds=10)
    claims = {
        inbox: store.claim_inbox("w", 1, lease)[0],
        outbox: store.claim_outbox("w", 1, lease)[0],
        deadlines: store.claim_deadlines("w", 1, lease)[0],
    }
    for table, item in claims.items():
        stale = Fence("w", item.attempts - 1)
        kind = {inbox: WorkKind.INBOX, outbox: WorkKind.OUTBOX, deadlines: WorkKind.DEADLINE}
        assert not store.hold(kind[table], item.id, stale, lease)
        assert store.hold(kind[table], item.id, Fence("w", item.attempts), lease)
        assert held_by(store, table, item.id) == "w"
