"""The worker loop on a real store (SQLite and PostgreSQL) with in-memory platforms."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge.engine.ports import PermanentError, RetryableError
from shopbridge.engine.runtime import Runtime
from shopbridge.store import SecretBox, Store
from support.orders import PAID_AT, T0, minutes, snapshot
from support.world import World


async def test_whole_lifecycle_reserve_hold_release(
    store: Store, manual_clock: ManualClock
) -> None:
    """An order is reserved at once, held through the holdback and released at its end."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker()
    world.observe(snapshot("UNPAID", at=T0))
    await worker.run_until_idle()
    [order] = world.shopify.orders.values()
    assert order.holds and not order.paid
    assert world.shopify.committed["TEE-RED-L"] == 2
    assert world.shopify.available_stock["TEE-RED-L"] == 8
    assert world.mirror(snapshot().order_id).phase == "held"

    manual_clock.set(PAID_AT)
    world.observe(snapshot("AWAITING_SHIPMENT", at=PAID_AT, paid=PAID_AT, on_hold=False))
    await worker.run_until_idle()
    assert order.holds and not order.paid

    manual_clock.set(PAID_AT + minutes(60))
    await worker.run_until_idle()
    assert order.paid
    assert not order.holds
    assert order.address is not None
    row = world.mirror(snapshot().order_id)
    assert row.phase == "released"
    assert row.holdback_ends_at == PAID_AT + minutes(60)
    summaries = [e.summary for e in store.timeline(row.id)]
    assert any("re-reading the order from TikTok" in s for s in summaries)


async def test_crashed_worker_item_comes_back_and_creates_one_order(
    store: Store, manual_clock: ManualClock
) -> None:
    """A worker that dies after claiming leaves its lease; the next worker makes one order."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.observe(snapshot("UNPAID", at=T0))
    [claimed] = store.claim_outbox("crashed", 10, timedelta(minutes=2))
    await world.worker("w2").run_until_idle()
    assert world.shopify.orders == {}, "the leased item is not run twice while its lease holds"

    # The crashed worker had already created the order before dying.
    await world.shopify.create_pending_order(snapshot("UNPAID", at=T0))
    manual_clock.advance(timedelta(minutes=3))
    await world.worker("w2").run_until_idle()
    assert len(world.shopify.orders_for(claimed.tiktok_order_id or "")) == 1
    assert world.mirror(snapshot().order_id).phase == "held"


async def test_retryable_failure_backs_off_then_succeeds(
    store: Store, manual_clock: ManualClock
) -> None:
    """A 5xx-like failure is retried later with backoff, and the timeline says so."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.shopify.fail_next["create_pending_order"].append(RetryableError("Shopify answered 503"))
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker()
    await worker.run_until_idle()
    assert world.shopify.orders == {}
    manual_clock.advance(timedelta(minutes=1))
    await worker.run_until_idle()
    assert len(world.shopify.orders) == 1
    row = world.mirror(snapshot().order_id)
    assert any("retrying at" in e.summary for e in store.timeline(row.id))


async def test_permanent_failure_is_surfaced_on_the_order(
    store: Store, manual_clock: ManualClock
) -> None:
    """A permanent failure is not retried: the order needs attention and says why."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.shopify.fail_next["create_pending_order"].append(
        PermanentError("orderCreate refused: SHOP_DORMANT")
    )
    world.observe(snapshot("UNPAID", at=T0))
    await world.worker().run_until_idle()
    row = world.mirror(snapshot().order_id)
    assert row.needs_attention
    assert "SHOP_DORMANT" in (row.attention_reason or "")
    [item] = store.outbox_for_mirror(row.id)
    assert item.status == "failed"


async def test_retries_exhausted_become_a_failure(store: Store, manual_clock: ManualClock) -> None:
    """An action that keeps failing is given up after max attempts and surfaced."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.shopify.fail_next["create_pending_order"].extend(
        RetryableError("timeout") for _ in range(5)
    )
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker()
    for _ in range(5):
        await worker.run_until_idle()
        manual_clock.advance(timedelta(hours=1))
    row = world.mirror(snapshot().order_id)
    assert row.needs_attention
    assert "gave up after 3 attempts" in (row.attention_reason or "")


async def test_reservations_run_before_lower_priority_work(
    store: Store, manual_clock: ManualClock
) -> None:
    """Rule 2: with a backlog, stock reservations are claimed before releases and tracking."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.observe(snapshot("AWAITING_SHIPMENT", at=T0, paid=T0, on_hold=False, order_id="1"))
    await world.worker().run_until_idle()
    manual_clock.set(T0 + minutes(61))
    await asyncio.sleep(0)
    await world.worker().process_deadlines()  # queues the release of order 1
    world.observe(snapshot("UNPAID", at=T0 + minutes(61), order_id="2"))  # queues a reservation
    [first] = store.claim_outbox("w9", 1, timedelta(minutes=2))
    assert first.kind == "create_shopify_order"
    assert first.tiktok_order_id == "2"


def test_two_workers_racing_execute_each_item_once(store: Store, manual_clock: ManualClock) -> None:
    """Two workers on two threads over one store create one Shopify order per TikTok order."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    for n in range(40):
        world.observe(snapshot("UNPAID", at=T0, order_id=str(1000 + n)))
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            asyncio.run(world.worker(name, batch_size=3).run_until_idle())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert world.shopify.calls["create_pending_order"] == 40
    assert len(world.shopify.orders) == 40


async def test_unexpected_error_is_retried_then_surfaced(
    store: Store, manual_clock: ManualClock
) -> None:
    """A failure no platform classified (a bug) is retried, then shown on the order, never lost."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.shopify.fail_next["create_pending_order"].extend(
        KeyError("variant")
        for _ in range(5)  # type: ignore[misc]
    )
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker()
    await worker.run_until_idle()
    row = world.mirror(snapshot().order_id)
    assert not row.needs_attention
    assert any("unexpected KeyError" in e.summary for e in store.timeline(row.id))
    for _ in range(4):
        manual_clock.advance(timedelta(hours=1))
        await worker.run_until_idle()
    row = world.mirror(snapshot().order_id)
    assert row.needs_attention
    assert "unexpected KeyError" in (row.attention_reason or "")


async def test_settings_saved_elsewhere_reach_a_worker_within_a_second(
    store: Store, manual_clock: ManualClock, secret_box: SecretBox
) -> None:
    """A connection's settings version is checked on use: a carrier mapping saved by another
    process (another Store on the same database) is in the worker's context on next use."""
    connection_id = store.add_connection(
        name="Shop",
        tiktok_app_key="k",
        tiktok_app_secret="s",
        tiktok_access_token="t",
        tiktok_shop_cipher="c",
        shopify_domain="shop.myshopify.com",
        shopify_access_token="shpat",
    )
    runtime = Runtime(store, manual_clock, check_every=0.05)
    try:
        before = await runtime.context(connection_id)
        assert before.carrier_mapping == {}
        elsewhere = Store(store.engine, manual_clock, secret_box)
        elsewhere.update_connection(connection_id, carrier_mapping={"Bonshaw": "UPS"})
        assert (await runtime.context(connection_id)) is before, "checked at most every 50 ms"
        await asyncio.sleep(0.06)
        after = await runtime.context(connection_id)
        assert after.carrier_mapping == {"Bonshaw": "UPS"}
        elsewhere.update_connection(connection_id, reconcile_cursor="2026-11-02T09:00:00+00:00")
        await asyncio.sleep(0.06)
        assert (await runtime.context(connection_id)) is after, "bookkeeping is no new setting"
    finally:
        await runtime.aclose()
