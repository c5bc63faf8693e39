"""TikTok's stock follows Shopify's (engine/stock.py), through the stock queue, over the fakes."""

from __future__ import annotations

from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge.domain.stock import StockRule
from shopbridge.engine import stock
from shopbridge.engine.ports import PermanentError, RetryableError
from shopbridge.store import LeaseLost, Store
from support.orders import T0, snapshot
from support.world import World

SECOND = timedelta(seconds=1)


def world_at(store: Store, clock: ManualClock, **tiktok: int) -> World:
    clock.set(T0)
    world = World(store, clock)
    world.tiktok.inventory.update(tiktok or {"TEE-RED-L": 10, "MUG": 5})
    return world


async def settle(world: World) -> None:
    """Let the debounce pass, then work until nothing is due."""
    world.clock.advance(SECOND)
    await world.worker().run_until_idle()


def row(world: World, sku: str) -> stock.StockSku:
    found = world.store.stock.sku(world.connection_id, sku)
    assert found is not None
    return found


async def test_a_shopify_change_reaches_tiktok_under_the_default_buffer(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    world.shopify.available_stock["MUG"] = 3  # a storefront sale, a POS sale, an edit
    store.stock.mark_shopify(world.connection_id, shopify_skus=["MUG"])
    await settle(world)
    assert world.tiktok.inventory["MUG"] == 1, "3 available, 2 kept back"
    synced = row(world, "MUG")
    assert synced.status == "synced" and synced.last_quantity == 1 and synced.due_at is None
    history = store.stock.history(synced.id)
    assert "Sent to TikTok: Shopify available 3 → TikTok 1; rule: buffer 2" in [
        e.summary for e in history
    ]


async def test_a_burst_of_changes_to_one_sku_is_one_tiktok_update(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    for left in (9, 8, 7, 6, 5):
        world.shopify.available_stock["TEE-RED-L"] = left
        store.stock.mark_shopify(world.connection_id, shopify_skus=["TEE-RED-L"])
    await settle(world)
    assert world.tiktok.calls["set_inventory"] == 1
    assert world.tiktok.inventory["TEE-RED-L"] == 3


async def test_a_change_during_a_push_makes_the_sku_due_again(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    store.stock.mark(world.connection_id, ["MUG"])
    manual_clock.advance(SECOND)
    [claimed] = store.stock.claim("w1", 10, timedelta(minutes=1))
    store.stock.mark(world.connection_id, ["MUG"])  # Shopify changed while the push runs
    store.stock.finish(claimed, claimed.fence, stock.Pushed("synced", last_quantity=3))
    assert row(world, "MUG").due_at is not None, "the later change is not lost"


async def test_tiktok_orders_not_yet_reserved_are_taken_off(
    store: Store, manual_clock: ManualClock
) -> None:
    """Under kill -9 a push could copy Shopify's count while a TikTok order was still on its way
    to Shopify, and leave TikTok one unit too high: unreserved units are subtracted."""
    world = world_at(store, manual_clock)
    world.shopify.fail_next["create_pending_order"] = [RetryableError("Shopify is down")] * 2
    world.observe(snapshot("UNPAID", skus={"TEE-RED-L": 3}))
    worker = world.worker()
    await worker.run_until_idle()
    assert world.mirror(snapshot().order_id).phase == "new", "not reserved yet"
    store.stock.mark(world.connection_id, ["TEE-RED-L"])
    manual_clock.advance(SECOND)
    await worker.process_stock()
    assert world.tiktok.inventory["TEE-RED-L"] == 10 - 3 - 2
    # Once reserved, Shopify's own count carries the order, and nothing is counted twice.
    for _ in range(3):
        manual_clock.advance(timedelta(minutes=5))
        await worker.run_until_idle()
    assert world.mirror(snapshot().order_id).phase == "held"
    assert world.shopify.available_stock["TEE-RED-L"] == 7
    assert world.tiktok.inventory["TEE-RED-L"] == 7 - 2


async def test_a_reservation_and_a_cancellation_bring_tiktok_along(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    worker = world.worker()
    world.observe(snapshot("UNPAID", skus={"MUG": 2}))
    await worker.run_until_idle()
    manual_clock.advance(SECOND)
    await worker.run_until_idle()
    assert world.tiktok.inventory["MUG"] == 3 - 2
    world.observe(snapshot("CANCELLED", at=T0 + timedelta(minutes=3), skus={"MUG": 2}))
    await worker.run_until_idle()
    manual_clock.advance(SECOND)
    await worker.run_until_idle()
    assert world.shopify.available_stock["MUG"] == 5, "restocked on Shopify"
    assert world.tiktok.inventory["MUG"] == 3, "and TikTok followed"


async def test_rules_per_sku_and_do_not_sync(store: Store, manual_clock: ManualClock) -> None:
    world = world_at(store, manual_clock)
    cid = world.connection_id
    store.stock.save_rule(cid, "", StockRule(buffer_units=0, max_quantity=4))
    store.stock.save_rule(cid, "MUG", StockRule(sync=False))
    store.stock.mark(cid, ["TEE-RED-L", "MUG"])
    world.tiktok.inventory["MUG"] = 42
    await settle(world)
    assert world.tiktok.inventory["TEE-RED-L"] == 4, "at most 4 on TikTok"
    assert world.tiktok.inventory["MUG"] == 42, "a SKU the merchant keeps out is left alone"
    assert row(world, "MUG").status == "not_synced"
    # Editing a rule re-syncs what it touches.
    store.stock.save_rule(cid, "", StockRule(buffer_units=0))
    await settle(world)
    assert world.tiktok.inventory["TEE-RED-L"] == 10


async def test_a_sku_missing_on_one_side_is_shown_with_what_to_do(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock, **{"TEE-RED-L": 10, "CAP": 3})
    store.stock.mark(world.connection_id, ["CAP"])
    await settle(world)
    unlinked = row(world, "CAP")
    assert unlinked.status == "unlinked"
    assert "No Shopify variant has SKU CAP" in (unlinked.last_error or "")
    assert world.tiktok.inventory["CAP"] == 3, "nothing is pushed for an unlinked SKU"


async def test_a_failing_push_is_retried_then_shown_with_a_retry(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    world.tiktok.fail_next["set_inventory"] = [RetryableError("TikTok 429")] * 3
    store.stock.mark(world.connection_id, ["MUG"])
    worker = world.worker()
    for _ in range(4):
        manual_clock.advance(timedelta(hours=1))
        await worker.run_until_idle()
    failed = row(world, "MUG")
    assert failed.status == "failed"
    assert "gave up after 3 attempts" in (failed.last_error or "")
    assert store.stock.retry_now(world.connection_id, "MUG") == 1
    await settle(world)
    assert row(world, "MUG").status == "synced"
    assert world.tiktok.inventory["MUG"] == 3


async def test_a_refused_sku_fails_at_once_in_words(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    world.tiktok.refuse["MUG"] = PermanentError("locked", code="12052393")
    store.stock.mark(world.connection_id, ["MUG"])
    await settle(world)
    failed = row(world, "MUG")
    assert failed.status == "failed"
    assert "locked for a promotion" in (failed.last_error or "")


async def test_a_push_whose_claim_was_lost_records_nothing(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock)
    store.stock.mark(world.connection_id, ["MUG"])
    manual_clock.advance(SECOND)
    [stale] = store.stock.claim("w1", 10, timedelta(seconds=5))
    manual_clock.advance(timedelta(seconds=10))
    [fresh] = store.stock.claim("w2", 10, timedelta(seconds=5))
    ctx = await world.context(world.connection_id)
    await stock.run_claimed(store, ctx, [stale], timedelta(seconds=5), lambda n: SECOND, 3)
    assert world.tiktok.calls["set_inventory"] == 0, "the stale holder did not act"
    try:
        store.stock.finish(stale, stale.fence, stock.Pushed("synced"))
    except LeaseLost:
        pass
    else:
        raise AssertionError("a stale claim finished a row")
    assert row(world, "MUG").locked_by == fresh.locked_by


async def test_a_full_sync_links_both_catalogs_and_corrects_every_sku(
    store: Store, manual_clock: ManualClock
) -> None:
    world = world_at(store, manual_clock, **{"TEE-RED-L": 50, "MUG": 0, "CAP": 1})
    worker = world.worker()
    ctx = await world.context(world.connection_id)
    seen: list[tuple[str, int, int]] = []
    sync_id = store.stock.start_sync(world.connection_id, "cli", timedelta(minutes=5))
    assert sync_id is not None

    async def pusher() -> int:
        manual_clock.advance(SECOND)
        return await worker.process_stock()

    summary = await stock.run_full_sync(
        store, ctx, sync_id, pusher=pusher, progress=lambda *p: seen.append(p)
    )
    assert (world.tiktok.inventory["TEE-RED-L"], world.tiktok.inventory["MUG"]) == (8, 3)
    assert "2 SKUs follow Shopify; 1 TikTok SKUs have no Shopify match" in summary
    done = store.stock.get_sync(sync_id)
    assert done is not None and done.status == "done" and done.percent == 100
    assert seen[-1] == ("Comparing and correcting", 3, 3)
    places = store.get_connection(world.connection_id).stock_places
    assert places is not None and places["locations"][0][1] == "Main warehouse"


async def test_tiktok_can_win_the_first_link(store: Store, manual_clock: ManualClock) -> None:
    """SKU IQ's "primary system": the merchant chose TikTok's count once; Shopify takes it,
    then TikTok follows Shopify as always."""
    world = world_at(store, manual_clock, MUG=25)
    store.update_connection(world.connection_id, stock_primary="tiktok")
    store.stock.mark(world.connection_id, ["MUG"])
    await settle(world)
    assert world.shopify.available_stock["MUG"] == 25
    assert world.tiktok.inventory["MUG"] == 23
    world.shopify.available_stock["MUG"] = 20
    store.stock.mark(world.connection_id, ["MUG"])
    await settle(world)
    assert world.shopify.available_stock["MUG"] == 20, "only the first link takes TikTok's count"
    assert world.tiktok.inventory["MUG"] == 18


async def test_a_shopify_only_sku_is_looked_up_on_tiktok_once(
    store: Store, manual_clock: ManualClock
) -> None:
    """Sales of a product TikTok does not carry do not search TikTok every time: the SKU waits
    for the next full sync, which reads TikTok's whole catalog."""
    world = world_at(store, manual_clock)
    world.tiktok.unlisted.add("MUG")
    for _ in range(3):
        store.stock.mark_shopify(world.connection_id, shopify_skus=["MUG"])
        await settle(world)
    shopify_only = row(world, "MUG")
    assert shopify_only.status == "unlinked"
    assert shopify_only.inventory_item_id == "item:MUG", "known, so webhooks find the row"
    assert world.tiktok.calls["find_skus"] == 1
