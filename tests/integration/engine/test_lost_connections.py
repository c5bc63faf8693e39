"""Lost connections: a platform that refuses the connection puts it in Needs reconnect; its work
waits (neither failed nor retried in a loop) and resumes when the merchant reconnects. Uninstall
and deauthorization notices are hints, checked with the platform before anything changes."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.engine.ports import AccessLost
from shopbridge.store import Store
from shopbridge.store.tables import outbox
from support.orders import T0, snapshot
from support.world import World

ORDER = snapshot().order_id
UNINSTALLED = AccessLost("shopify", "Shopify refused shopbridge's access: reconnect the store")


def _uninstall_notice(store: Store, world: World, key: str = "u1") -> None:
    store.record_delivery(
        source="shopify",
        delivery_key=key,
        topic="app/uninstalled",
        connection_id=world.connection_id,
        headers={"x-shopify-topic": "app/uninstalled"},
        body=json.dumps({"id": 1, "domain": "demo.myshopify.com"}).encode(),
    )


async def test_refused_access_holds_the_work_until_reconnected(
    store: Store, manual_clock: ManualClock
) -> None:
    manual_clock.set(T0)
    world = World(store, manual_clock)
    world.shopify.fail_next["create_pending_order"].append(UNINSTALLED)
    world.observe(snapshot("UNPAID", at=T0))
    worker = world.worker()
    await worker.run_until_idle()
    connection = store.get_connection(world.connection_id)
    assert connection.status == "needs_reconnect"
    assert "reconnect the store" in (connection.reconnect_reason or "")
    with store.engine.connect() as db:
        [held] = db.execute(sa.select(outbox.c.status, outbox.c.attempts)).all()
    assert tuple(held) == ("pending", 0), "waiting costs no attempt"
    assert world.mirror(ORDER).phase == "new", "nothing failed, nothing flagged"

    await worker.run_until_idle()
    assert world.shopify.calls["create_pending_order"] == 1, "held work is not retried in a loop"

    store.reconnected(world.connection_id)
    await worker.run_until_idle()
    assert store.get_connection(world.connection_id).status == "active"
    assert world.mirror(ORDER).phase == "held"


async def test_an_uninstall_notice_shopify_denies_changes_nothing(
    store: Store, manual_clock: ManualClock
) -> None:
    """A replayed or forged app/uninstalled: Shopify still answers, so the shop stays active."""
    world = World(store, manual_clock)
    _uninstall_notice(store, world)
    await world.worker().run_until_idle()
    assert store.get_connection(world.connection_id).status == "active"
    [item] = store.inbox_items()
    assert item.status == "ignored" and "still accepts" in (item.last_error or "")
    assert world.shopify.calls["check_access"] == 1


async def test_an_uninstall_shopify_confirms_needs_reconnect(
    store: Store, manual_clock: ManualClock
) -> None:
    world = World(store, manual_clock)
    world.shopify.fail_next["check_access"].append(UNINSTALLED)
    _uninstall_notice(store, world)
    await world.worker().run_until_idle()
    assert store.get_connection(world.connection_id).status == "needs_reconnect"
    [item] = store.inbox_items()
    assert item.status == "pending", "the notice itself waits with the rest"


async def test_a_reconciliation_pass_refused_needs_reconnect(
    store: Store, manual_clock: ManualClock
) -> None:
    from datetime import timedelta

    world = World(store, manual_clock)
    world.tiktok.fail_next["orders_updated"].append(
        AccessLost("tiktok", "TikTok Shop refused shopbridge's access: reconnect the shop")
    )
    await world.worker(reconcile_every=timedelta(minutes=5)).run_until_idle()
    assert store.get_connection(world.connection_id).status == "needs_reconnect"
