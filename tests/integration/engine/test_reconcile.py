"""Reconciliation heals missed webhooks from both platforms (workflow.md rule 8)."""

from __future__ import annotations

from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge.engine.reconcile import reconcile
from shopbridge.store import Store
from support.orders import PAID_AT, T0, minutes, snapshot
from support.world import World


async def test_orders_never_announced_are_mirrored_by_reconciliation(
    store: Store, manual_clock: ManualClock
) -> None:
    """With no webhook at all, a reconciliation pass finds the order and it is reserved."""
    manual_clock.set(T0 + minutes(1))
    world = World(store, manual_clock)
    world.tiktok.put(snapshot("UNPAID", at=T0))
    worker = world.worker()
    report = await reconcile(
        store, await world.context(world.connection_id), None, manual_clock.now()
    )
    assert report.tiktok_orders == 1
    assert report.new_findings == 1
    await worker.run_until_idle()
    assert len(world.shopify.orders) == 1
    assert world.mirror(snapshot().order_id).phase == "held"


async def test_missed_cancellation_and_fulfilment_are_healed(
    store: Store, manual_clock: ManualClock
) -> None:
    """A cancel TikTok never announced, and a fulfilment Shopify never announced, are both found."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker()
    world.observe(snapshot("UNPAID", at=T0, order_id="1"))
    world.observe(snapshot("AWAITING_SHIPMENT", at=T0, paid=T0, on_hold=False, order_id="2"))
    await worker.run_until_idle()
    manual_clock.set(T0 + minutes(61))
    await worker.run_until_idle()
    assert world.mirror("2").phase == "released"

    # Order 1 is cancelled by the buyer and order 2 fulfilled, with no webhook for either.
    world.tiktok.update(
        "1",
        status=snapshot("CANCELLED").status,
        update_time=T0 + minutes(62),
        cancellation_initiator="BUYER",
    )
    shopify_id = world.mirror("2").shopify_order_id
    assert shopify_id is not None
    world.shopify.fulfil(shopify_id, "UPS", "1Z999")
    manual_clock.set(T0 + minutes(70))
    ctx = await world.context(world.connection_id)
    await reconcile(store, ctx, T0 + minutes(61), manual_clock.now())
    await worker.run_until_idle()
    assert world.mirror("1").phase == "cancelled"
    assert all(o.cancelled for o in world.shopify.orders_for("1"))
    assert world.mirror("2").phase == "fulfilled"
    assert world.tiktok.shipped["2"][0] == "1Z999"


async def test_reconciliation_twice_changes_nothing_more(
    store: Store, manual_clock: ManualClock
) -> None:
    """Running a pass again over the same window is harmless: no duplicate order, no new command."""
    manual_clock.set(T0 + minutes(1))
    world = World(store, manual_clock)
    world.tiktok.put(snapshot("AWAITING_SHIPMENT", at=T0, paid=PAID_AT, on_hold=False))
    worker = world.worker()
    ctx = await world.context(world.connection_id)
    reports = []
    for _ in range(3):
        reports.append(await reconcile(store, ctx, None, manual_clock.now()))
        await worker.run_until_idle()
    manual_clock.advance(timedelta(hours=2))
    for _ in range(2):
        reports.append(await reconcile(store, ctx, None, manual_clock.now()))
        await worker.run_until_idle()
    assert [r.new_findings for r in reports] == [1, 0, 0, 0, 0], "a finding is delivered once"
    assert world.shopify.calls["create_pending_order"] == 1
    assert world.mirror(snapshot().order_id).phase == "released"


async def test_stock_corrections_go_through_the_outbox(
    store: Store, manual_clock: ManualClock
) -> None:
    """A pass that finds cancelled orders queues one stock correction as an action, run by a
    worker like every other effect, and none when run again over the same window."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker()
    world.observe(snapshot("UNPAID", at=T0))
    await worker.run_until_idle()
    world.tiktok.update(
        snapshot().order_id,
        status=snapshot("CANCELLED").status,
        update_time=T0 + minutes(5),
        cancellation_initiator="BUYER",
    )
    manual_clock.set(T0 + minutes(6))
    ctx = await world.context(world.connection_id)
    report = await reconcile(store, ctx, T0, manual_clock.now())
    assert report.skus_realigned == 1
    assert world.tiktok.calls["set_inventory"] == 0, "the pass itself writes nothing to TikTok"
    await worker.run_until_idle()
    actions = store.connection_actions(world.connection_id)
    assert [(a.kind, a.status) for a in actions] == [("sync_tiktok_inventory", "done")]
    # TikTok follows Shopify through the stock queue, less the default buffer of 2.
    assert world.tiktok.inventory["TEE-RED-L"] == world.shopify.available_stock["TEE-RED-L"] - 2
    again = await reconcile(store, ctx, T0, manual_clock.now())
    assert again.new_findings == 0
    await worker.run_until_idle()
    assert len(store.connection_actions(world.connection_id)) == 1


async def test_a_lost_webhook_is_healed_by_the_quick_look_between_passes(
    store: Store, manual_clock: ManualClock
) -> None:
    """Between hourly reconciliation passes, a worker looks for new TikTok orders every minute:
    an order whose webhook never came is reserved within about a minute, and the look reads
    nothing from Shopify."""
    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker(reconcile_every=timedelta(hours=1), poll_every=timedelta(minutes=1))
    await worker.run_until_idle()  # the first (full) pass, over an empty shop
    world.tiktok.put(snapshot("UNPAID", at=T0 + timedelta(seconds=20)))
    manual_clock.advance(timedelta(seconds=30))
    await worker.run_until_idle()
    assert store.get_mirror(world.connection_id, snapshot().order_id) is None, "not due yet"
    shopify_reads = world.shopify.calls["orders_updated"]
    manual_clock.advance(timedelta(seconds=31))
    await worker.run_until_idle()
    assert world.mirror(snapshot().order_id).phase == "held"
    assert world.shopify.calls["orders_updated"] == shopify_reads
    assert store.get_connection(world.connection_id).last_polled_at == manual_clock.now()


async def test_an_unreadable_order_is_flagged_and_the_pass_goes_on(
    store: Store, manual_clock: ManualClock
) -> None:
    """One order TikTok sends in a shape shopbridge cannot read: that order needs attention,
    with why, and the other orders of the pass are mirrored as usual."""
    from shopbridge.engine.ports import UnreadableOrder

    manual_clock.set(T0 + minutes(1))
    world = World(store, manual_clock)
    world.tiktok.put(snapshot("UNPAID", at=T0))
    world.tiktok.unreadable.append(UnreadableOrder("576000000000000099", "status 'MARTIAN'"))
    report = await reconcile(
        store, await world.context(world.connection_id), None, manual_clock.now()
    )
    assert report.new_findings == 2
    await world.worker().run_until_idle()
    assert world.mirror(snapshot().order_id).phase == "held"
    flagged = world.mirror("576000000000000099")
    assert flagged.needs_attention
    assert "cannot read (status 'MARTIAN')" in (flagged.attention_reason or "")


async def test_a_second_box_a_tracking_fix_and_a_return_never_announced_are_healed(
    store: Store, manual_clock: ManualClock
) -> None:
    """Multi-item orders: a second Shopify box, a corrected tracking number and a completed
    TikTok return whose webhooks were all lost reach TikTok and Shopify through a pass."""
    from shopbridge.domain.events import ReturnObserved
    from support.orders import unit_id

    manual_clock.set(T0)
    world = World(store, manual_clock)
    worker = world.worker()
    order = snapshot(
        "AWAITING_SHIPMENT",
        at=T0,
        paid=T0,
        on_hold=False,
        order_id="7",
        skus={"TEE-RED-L": 1, "MUG-BLUE": 1},
    )
    world.shopify.available_stock["MUG-BLUE"] = 10
    world.observe(order)
    await worker.run_until_idle()
    manual_clock.set(T0 + minutes(61))
    await worker.run_until_idle()
    shopify_id = world.mirror("7").shopify_order_id
    assert shopify_id is not None
    first = world.shopify.fulfil(shopify_id, "USPS", "9400111899223197428490", {"TEE-RED-L": 1})
    manual_clock.set(T0 + minutes(70))
    ctx = await world.context(world.connection_id)
    await reconcile(store, ctx, T0 + minutes(61), manual_clock.now())
    await worker.run_until_idle()
    assert world.mirror("7").phase == "fulfilled"

    # The second box and a tracking fix of the first: no webhook for either.
    world.shopify.fulfil(shopify_id, "UPS", "1Z999AA10123456784")
    world.shopify.retrack(shopify_id, first.fulfillment_id, "9400111899223197428491")
    manual_clock.set(T0 + minutes(80))
    await reconcile(store, ctx, T0 + minutes(70), manual_clock.now())
    await worker.run_until_idle()
    shipped = {units: number for number, units in world.tiktok.packages.values()}
    assert shipped[(unit_id("7", 1, 0),)] == "1Z999AA10123456784"
    assert shipped[(unit_id("7", 0, 0),)] == "9400111899223197428491"

    # A return TikTok completed, with no webhook.
    mug = unit_id("7", 1, 0)
    done = ReturnObserved(
        "R7", "RETURN_OR_REFUND_REQUEST_COMPLETE", "REFUND", (mug,), T0 + minutes(85)
    )
    world.tiktok.returns["7"].append(done)
    manual_clock.set(T0 + minutes(90))
    await reconcile(store, ctx, T0 + minutes(80), manual_clock.now())
    await worker.run_until_idle()
    (mirrored,) = world.shopify.orders_for("7")
    assert mirrored.refund_notes == ["TikTok Shop return R7"]
