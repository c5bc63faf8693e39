"""Reconciliation: heal missed webhooks by reading both platforms (workflow.md rule 8).

Each pass reads the TikTok orders, cancellations and returns updated since the previous pass
(with an overlap, because TikTok's `update_time` has one-second resolution and clocks drift),
and the Shopify orders updated in the same window that are still held, released or fulfilled
here, to catch fulfilments (another box, a corrected tracking number) and cancels whose
webhooks never came. It also asks for TikTok's stock of the SKUs
whose orders were cancelled in the window to be re-aligned with Shopify's available quantity.

A pass only reads the platforms; what it finds is written in one unit of work, like a webhook:
each finding becomes an inbox delivery (keyed, so a finding seen by two passes is applied once),
the stock correction an outbox action (an effect like every other, fenced and retried), and the
cursor moves on. The worker then applies each finding in its own boundary, through the same
bridge as webhooks; stale and duplicate findings change nothing, so a pass may run any number of
times, and a pass that dies half-way leaves nothing half-written.

Between passes, `poll_new_orders` looks only at TikTok's recently updated orders (every minute
by default): a lost webhook must not keep stock unreserved for a whole reconciliation interval
(rule 2), and this look costs one TikTok search and nothing of Shopify's cost bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from shopbridge.domain import events as ev
from shopbridge.domain.codec import encode_command, encode_event
from shopbridge.domain.commands import SyncTikTokInventory
from shopbridge.domain.mirror import Phase
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import UnreadableOrder
from shopbridge.store import Store
from shopbridge.store.store import Finding, QueuedAction

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
    new_findings: int


async def reconcile(
    store: Store, ctx: ConnectionContext, since: datetime | None, now: datetime
) -> ReconcileReport:
    """One pass over one connection; returns what it read and how much of it was new."""
    start = (since - OVERLAP) if since is not None else now - FIRST_LOOKBACK
    cid = ctx.connection_id
    findings: list[Finding] = []

    orders = await ctx.tiktok.orders_updated(start, now)
    findings += _order_findings(cid, orders)

    cancellations = await ctx.tiktok.cancellations_updated(start, now)
    mirrored = await asyncio.to_thread(
        store.mirrored_order_ids, cid, {c.order_id for c in cancellations}
    )
    for found in cancellations:
        if found.order_id in mirrored:
            c = found.cancellation
            key = f"{cid}:cancellation:{c.cancel_id}:{c.status}:{c.update_time.isoformat()}"
            findings.append(_finding(key, found.order_id, c))

    returns = await ctx.tiktok.returns_updated(start, now)
    mirrored = await asyncio.to_thread(
        store.mirrored_order_ids, cid, {order_id for order_id, _ in returns}
    )
    for order_id, seen in returns:
        if order_id in mirrored:
            key = f"{cid}:return:{seen.return_id}:{seen.status}:{seen.update_time.isoformat()}"
            findings.append(_finding(key, order_id, seen))

    updated = await ctx.shopify.orders_updated(start)
    rows = await asyncio.to_thread(store.mirrors_by_shopify_orders, cid, updated)
    checked = 0
    for row in rows:
        # A fulfilled order may still get another box, or a corrected tracking number.
        live = (Phase.HELD.value, Phase.RELEASED.value, Phase.FULFILLED.value)
        if row.phase not in live or not row.shopify_order_id:
            continue
        view = await ctx.shopify.get_order(row.shopify_order_id)
        checked += 1
        for f in view.fulfilments:
            event = ev.ShopifyFulfilmentObserved(f.fulfillment_id, f.company, f.number, f.lines)
            findings.append(
                _finding(
                    f"{cid}:fulfilment:{f.fulfillment_id}:{f.number}", row.tiktok_order_id, event
                )
            )
        if view.cancelled:
            key = f"{cid}:shopify-cancelled:{view.order_id}"
            findings.append(_finding(key, row.tiktok_order_id, ev.ShopifyCancellationObserved()))

    # Each cancellation already brought its SKUs in line, but an order placed while that sync ran
    # can leave TikTok one reservation off; re-align the SKUs of this window's cancellations.
    skus = tuple(
        sorted(
            {
                line.seller_sku
                for order in orders
                if isinstance(order, TikTokOrder) and order.status is TikTokStatus.CANCELLED
                for line in order.lines
            }
        )
    )
    stock = None
    if skus:
        command = SyncTikTokInventory(f"reconcile/{cid}/{now.isoformat()}/stock", skus)
        stock = QueuedAction(command.kind, encode_command(command), command.key, command.priority)
    new = await asyncio.to_thread(
        store.record_reconciliation, cid, findings, stock, now.isoformat()
    )
    report = ReconcileReport(
        cid, start, now, len(orders), len(cancellations), checked, len(skus), new
    )
    log.info("reconciled", **report.__dict__)
    return report


async def poll_new_orders(
    store: Store, ctx: ConnectionContext, now: datetime, every: timedelta
) -> int:
    """The quick look between reconciliation passes: TikTok's orders updated lately, delivered
    like a pass's findings (a key seen before is skipped). A TikTok webhook that never came then
    delays a reservation by about `every`, not by a whole reconciliation interval; it costs one
    TikTok search a look, and nothing on Shopify. Returns how many findings were new."""
    orders = await ctx.tiktok.orders_updated(now - 2 * every, now)
    findings = _order_findings(ctx.connection_id, orders)
    if not findings:
        return 0
    return await asyncio.to_thread(
        store.record_reconciliation, ctx.connection_id, findings, None, None
    )


def _order_findings(
    connection_id: int, orders: list[TikTokOrder | UnreadableOrder]
) -> list[Finding]:
    findings = []
    for order in orders:
        if isinstance(order, UnreadableOrder):
            # Flag that order and go on with the others: one bad order never stops a pass.
            digest = hashlib.sha256(order.reason.encode("utf-8", "replace")).hexdigest()[:16]
            key = f"{connection_id}:unreadable:{order.order_id}:{digest}"
            event = ev.TikTokOrderUnreadable(order.reason[:500])
            findings.append(_finding(key, order.order_id, event))
            continue
        # Units can move on within TikTok's second (a unit cancelled, a package made): their
        # states are part of what makes a finding new.
        units = "|".join(f"{u.line_item_id}={u.status}@{u.package_id}" for u in order.units)
        digest = hashlib.sha256(units.encode()).hexdigest()[:12]
        key = (
            f"{connection_id}:order:{order.order_id}:{order.update_time.isoformat()}:"
            f"{order.status}:{digest}"
        )
        findings.append(_finding(key, order.order_id, ev.TikTokOrderObserved(order, "reconcile")))
    return findings


def _finding(key: str, order_id: str, event: ev.Event) -> Finding:
    body = json.dumps({"order_id": order_id, "event": encode_event(event)}).encode()
    return Finding(key, type(event).__name__, body)
