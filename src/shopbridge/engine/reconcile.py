"""Reconciliation: heal missed webhooks by reading both platforms (workflow.md rule 8).

Each pass reads the TikTok orders and cancellations updated since the previous pass (with an
overlap, because TikTok's `update_time` has one-second resolution and clocks drift), and the
Shopify orders updated in the same window that are still held or released here, to catch
fulfilments and cancels whose webhooks never came. It also re-aligns TikTok's stock of the SKUs
whose orders were cancelled in the window with Shopify's available quantity. Everything found
is applied through the same bridge as webhooks; stale and duplicate findings change nothing, so a
pass may run any number of times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from shopbridge.domain import events as ev
from shopbridge.domain.mirror import Phase
from shopbridge.domain.tiktok_order import TikTokStatus
from shopbridge.engine.bridge import Bridge
from shopbridge.engine.executors import ConnectionContext
from shopbridge.store import Store

log = structlog.get_logger("shopbridge.reconcile")

OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class ReconcileReport:
    connection_id: int
    since: datetime
    until: datetime
    tiktok_orders: int
    cancellations: int
    shopify_orders: int
    skus_realigned: int


async def reconcile(
    store: Store, bridge: Bridge, ctx: ConnectionContext, since: datetime | None, now: datetime
) -> ReconcileReport:
    """One pass over one connection; returns what it read."""
    start = (since - OVERLAP) if since is not None else now - FIRST_LOOKBACK
    cid = ctx.connection_id
    orders = await ctx.tiktok.orders_updated(start, now)
    for order in orders:
        bridge.apply(cid, order.order_id, ev.TikTokOrderObserved(order, "reconcile"))
    cancellations = await ctx.tiktok.cancellations_updated(start, now)
    for found in cancellations:
        if store.get_mirror(cid, found.order_id) is not None:
            bridge.apply(cid, found.order_id, found.cancellation)
    checked = 0
    for shopify_id in await ctx.shopify.orders_updated(start):
        row = store.mirror_by_shopify_order(cid, shopify_id)
        if row is None or row.phase not in (Phase.HELD.value, Phase.RELEASED.value):
            continue
        view = await ctx.shopify.get_order(shopify_id)
        checked += 1
        for f in view.fulfilments:
            event = ev.ShopifyFulfilmentObserved(f.fulfillment_id, f.company, f.number)
            bridge.apply(cid, row.tiktok_order_id, event)
        if view.cancelled:
            bridge.apply(cid, row.tiktok_order_id, ev.ShopifyCancellationObserved())
    # Each cancellation already brought its SKUs in line, but an order placed while that sync ran
    # can leave TikTok one reservation off; re-align the SKUs of this window's cancellations.
    skus = tuple(
        sorted(
            {
                line.seller_sku
                for order in orders
                if order.status is TikTokStatus.CANCELLED
                for line in order.lines
            }
        )
    )
    if skus:
        for sku, quantity in (await ctx.shopify.available(skus)).items():
            await ctx.tiktok.set_inventory(sku, max(0, quantity))
    report = ReconcileReport(cid, start, now, len(orders), len(cancellations), checked, len(skus))
    log.info("reconciled", **report.__dict__)
    return report
