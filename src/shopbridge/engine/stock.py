"""TikTok's stock follows Shopify's: pushes of due SKUs, and full syncs of every linked SKU.

A push reads the truth at the moment it runs (Shopify's available at every location of each
SKU's inventory item, TikTok's count per warehouse, the TikTok orders known here but not yet
reserved in Shopify), applies the merchant's rules (domain/stock.py) and sends TikTok every
warehouse of each SKU, one call per product. Because it reads instead of trusting what a webhook
said, a lost, repeated or reordered webhook cannot leave a wrong count: the next push reads again.

A full sync walks both catalogs (Shopify location by location, TikTok a page of products at a
time, each client keeping within its platform's rate limit), links SKUs by seller SKU or the
merchant's mapping, and marks every linked SKU due: the pushes then compare and correct them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from shopbridge.domain.stock import Plan, StockRule, plan, resolve
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.failures import FailureKind, classify
from shopbridge.engine.ports import PermanentError, PlatformError, TikTokSku
from shopbridge.store import LeaseLost, Store, WorkKind
from shopbridge.store.stock import Pushed, StockSku

log = structlog.get_logger("shopbridge.stock")

# Full syncs report progress this often (rows), and a run silent for longer than this is
# taken over by another process.
PROGRESS_EVERY = 200
SYNC_STALE_AFTER = timedelta(minutes=5)
NOT_ON_TIKTOK = "No TikTok product has seller SKU"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Retry:
    """The SKU's push failed in a way that may pass: try again with backoff."""

    error: str


@dataclass(frozen=True)
class Fail:
    """The SKU's push cannot succeed as things are: shown with a Retry."""

    error: str


Outcome = Pushed | Retry | Fail


async def push(
    store: Store,
    ctx: ConnectionContext,
    rows: Sequence[StockSku],
    check: Callable[[Sequence[StockSku]], Awaitable[None]],
) -> dict[int, Outcome]:
    """Bring each claimed SKU's TikTok stock in line with Shopify; `check` raises when the
    claims on the rows it is given are lost (called before each remote write)."""
    cid = ctx.connection_id
    base, overrides = await asyncio.to_thread(store.stock.rules, cid)
    warehouse_map = await asyncio.to_thread(store.stock.warehouse_map, cid)
    record = await asyncio.to_thread(store.get_connection, cid)
    outcomes: dict[int, Outcome] = {}
    work: list[StockSku] = []
    for row in rows:
        if resolve(base, overrides.get(row.seller_sku)).sync is False:
            note = (
                ()
                if row.status == "not_synced"
                else (("rule", "Do not sync: TikTok's stock is left as it is"),)
            )
            outcomes[row.id] = Pushed("not_synced", history=note)
        else:
            work.append(row)
    if not work:
        return outcomes

    # Links: the Shopify inventory item and the TikTok product and SKU of each row.
    items = {r.id: r.inventory_item_id for r in work if r.inventory_item_id}
    missing = [r for r in work if r.id not in items]
    if missing:
        found = await ctx.shopify.find_items(
            [ctx.shopify.shopify_sku(r.seller_sku) for r in missing]
        )
        for r in missing:
            item = found.get(ctx.shopify.shopify_sku(r.seller_sku))
            if item:
                items[r.id] = item
    tiktok: dict[int, tuple[str, str]] = {
        r.id: (r.tiktok_product_id, r.tiktok_sku_id)
        for r in work
        if r.tiktok_product_id and r.tiktok_sku_id
    }
    # A SKU TikTok did not have when last looked up waits for the next full sync (which reads
    # TikTok's whole catalog) instead of a search on every sale of a Shopify-only product.
    unfound = [r for r in work if r.id not in tiktok and not _absent_on_tiktok(r)]
    if unfound:
        skus = await ctx.tiktok.find_skus([r.seller_sku for r in unfound])
        for r in unfound:
            if r.seller_sku in skus:
                tiktok[r.id] = (skus[r.seller_sku].product_id, skus[r.seller_sku].sku_id)
    linked: list[StockSku] = []
    for r in work:
        why = _unlinked(r, ctx, r.id in items, r.id in tiktok)
        if why:
            note = () if r.status == "unlinked" and r.last_error == why else (("link", why),)
            outcomes[r.id] = Pushed(
                "unlinked", error=why, history=note, inventory_item_id=items.get(r.id)
            )
        else:
            linked.append(r)
    if not linked:
        return outcomes

    # A full sync's walk read Shopify's counts already; a change since would have been marked.
    walked = {items[r.id]: dict(r.walked_levels) for r in linked if r.walked_levels is not None}
    unread = [items[r.id] for r in linked if items[r.id] not in walked]
    levels = {**walked, **(await ctx.shopify.stock_levels(unread) if unread else {})}
    on_tiktok = await ctx.tiktok.sku_stock([tiktok[r.id][1] for r in linked])
    unreserved = await asyncio.to_thread(
        store.stock.unreserved, cid, [r.seller_sku for r in linked]
    )
    default_warehouse = None
    plans: dict[int, Plan] = {}
    first_links: dict[int, str] = {}
    for r in linked:
        product_id, sku_id = tiktok[r.id]
        item = items[r.id]
        if item not in levels:
            outcomes[r.id] = Pushed(
                "unlinked", error="the Shopify inventory item is gone", inventory_item_id=""
            )
            continue
        if sku_id not in on_tiktok:
            outcomes[r.id] = Pushed(
                "unlinked", error="the TikTok SKU is gone", tiktok_product_id="", tiktok_sku_id=""
            )
            continue
        rule = resolve(base, overrides.get(r.seller_sku))
        shopify_levels = levels[item]
        if not r.aligned and record.stock_primary == "tiktok":
            # The merchant chose TikTok's count for the first link: Shopify takes it, once.
            await check([r])
            target = _claiming_location(ctx, shopify_levels, rule.locations)
            others = sum(
                v
                for loc, v in shopify_levels.items()
                if loc != target and _counts(loc, rule.locations)
            )
            wanted = max(0, sum(on_tiktok[sku_id].values()) - others)
            await ctx.shopify.set_available(
                item, target, wanted, f"shopbridge-first-link-{cid}-{r.id}"
            )
            shopify_levels = {**shopify_levels, target: wanted}
            first_links[r.id] = (
                f"First link: Shopify's count at {target} set to TikTok's ({wanted})"
            )
        if warehouse_map or len(on_tiktok[sku_id]) <= 1:
            default = None
        else:
            default_warehouse = default_warehouse or await _default_warehouse(ctx)
            default = default_warehouse
        plans[r.id] = plan(
            levels=shopify_levels,
            rule=rule,
            tiktok_warehouses=on_tiktok[sku_id],
            warehouse_map=warehouse_map,
            default_warehouse=default,
            unreserved=unreserved.get(r.seller_sku, 0),
        )
        levels[item] = shopify_levels

    by_product: dict[str, dict[str, StockSku]] = {}
    for r in linked:
        if r.id in plans:
            product_id, sku_id = tiktok[r.id]
            if plans[r.id].quantities != on_tiktok[sku_id]:
                by_product.setdefault(product_id, {})[sku_id] = r
    refused: dict[int, PlatformError] = {}
    for product_id, members in by_product.items():
        await check(list(members.values()))
        errors = await ctx.tiktok.push_stock(
            product_id, {sku_id: plans[r.id].quantities for sku_id, r in members.items()}
        )
        for sku_id, error in errors.items():
            if sku_id in members:
                refused[members[sku_id].id] = error
    for r in linked:
        if r.id not in plans:
            continue
        p, (product_id, sku_id) = plans[r.id], tiktok[r.id]
        if r.id in refused:
            error = refused[r.id]
            message = _refusal_words(r.seller_sku, error)
            outcomes[r.id] = Fail(message) if isinstance(error, PermanentError) else Retry(message)
            continue
        sent = p.quantities != on_tiktok[sku_id]
        history: list[tuple[str, str]] = []
        if r.id in first_links:
            history.append(("link", first_links[r.id]))
        if sent:
            rule = resolve(base, overrides.get(r.seller_sku))
            history.append(("tiktok", f"Sent to TikTok: {p.explanation}{_rule_words(rule)}"))
        elif r.status != "synced" or r.last_quantity != p.total:
            history.append(("sync", f"TikTok already shows it: {p.explanation}"))
        outcomes[r.id] = Pushed(
            "synced",
            last_quantity=p.total,
            shopify_levels=levels[items[r.id]],
            tiktok_levels=p.quantities,
            inventory_item_id=items[r.id],
            tiktok_product_id=product_id,
            tiktok_sku_id=sku_id,
            aligned=True,
            history=tuple(history),
        )
    return outcomes


def _unlinked(row: StockSku, ctx: ConnectionContext, on_shopify: bool, on_tiktok: bool) -> str:
    shopify_sku = ctx.shopify.shopify_sku(row.seller_sku)
    if not on_shopify and not on_tiktok:
        return f"Neither platform has SKU {row.seller_sku}"
    if not on_shopify:
        return _unlinked_words(row.seller_sku, shopify_sku)
    if not on_tiktok:
        return (
            f"{NOT_ON_TIKTOK} {row.seller_sku}: Shopify's stock of it is not sold on TikTok, or "
            "its code differs there (map it in Settings → Stock)"
        )
    return ""


def _absent_on_tiktok(row: StockSku) -> bool:
    return row.status == "unlinked" and (row.last_error or "").startswith(NOT_ON_TIKTOK)


def _counts(location: str, chosen: tuple[str, ...] | None) -> bool:
    return chosen is None or location in chosen


def _claiming_location(
    ctx: ConnectionContext, levels: Mapping[str, int], chosen: tuple[str, ...] | None
) -> str:
    preferred = getattr(ctx.shopify, "location_id", None)
    if preferred and _counts(preferred, chosen):
        return str(preferred)
    counted = [loc for loc in levels if _counts(loc, chosen)]
    return counted[0] if counted else next(iter(levels), preferred or "")


async def _default_warehouse(ctx: ConnectionContext) -> str | None:
    found = await ctx.tiktok.warehouses()
    return next((w for w, _, default in found if default), found[0][0] if found else None)


def _rule_words(rule: StockRule) -> str:
    parts = []
    if rule.buffer_units:
        parts.append(f"buffer {rule.buffer_units}")
    if rule.buffer_percent:
        parts.append(f"buffer {rule.buffer_percent}%")
    if rule.low_stock_threshold:
        parts.append(f"0 below {rule.low_stock_threshold}")
    if rule.max_quantity is not None:
        parts.append(f"at most {rule.max_quantity}")
    return f"; rule: {', '.join(parts)}" if parts else ""


def _refusal_words(seller_sku: str, error: PlatformError) -> str:
    if error.code == "12052393":
        return (
            f"TikTok refused to lower {seller_sku}: the product is locked for a promotion, and "
            "its stock cannot go below the current count until the promotion ends"
        )
    return f"TikTok refused the stock of {seller_sku}: {error.message}"


# -- full sync -----------------------------------------------------------------------------------


@dataclass
class SyncReport:
    tiktok_skus: int = 0
    shopify_skus: int = 0
    linked: int = 0
    unlinked_tiktok: int = 0
    unlinked_shopify: int = 0
    duplicates: tuple[str, ...] = ()


async def full_sync(
    store: Store,
    ctx: ConnectionContext,
    sync_id: int,
    progress: Progress | None = None,
) -> SyncReport:
    """Read both catalogs, link every SKU, and mark every linked SKU due for a push; the
    pushes (by any worker) then compare and correct each. Progress goes to the sync's row
    (for the UI's bar) and to `progress(stage, done, total)` (for the CLI's line)."""
    cid = ctx.connection_id

    async def report(stage: str, done: int, total: int) -> None:
        await asyncio.to_thread(
            store.stock.sync_progress, sync_id, stage=stage, done=done, total=total
        )
        if progress is not None:
            progress(stage, done, total)

    shopify_of = await asyncio.to_thread(store.stock.links, cid)
    await report("Reading TikTok's catalog", 0, 0)
    tiktok: dict[str, TikTokSku] = {}
    duplicates: set[str] = set()
    async for page in ctx.tiktok.catalog():
        for sku in page:
            if sku.seller_sku in tiktok:
                duplicates.add(f"TikTok {sku.seller_sku}")
            tiktok.setdefault(sku.seller_sku, sku)
        await report("Reading TikTok's catalog", len(tiktok), 0)

    await report("Reading Shopify's stock", 0, 0)
    shopify: dict[str, str] = {}  # Shopify SKU -> inventory item id
    counts: dict[str, dict[str, int]] = {}  # inventory item id -> location id -> available
    locations = await ctx.shopify.stock_locations()
    places = {
        "locations": [list(place) for place in locations],
        "warehouses": [list(place) for place in await ctx.tiktok.warehouses()],
    }
    await asyncio.to_thread(store.update_connection, cid, stock_places=places)
    for location_id, _name in locations:
        async for levels in ctx.shopify.catalog_levels(location_id):
            for item_id, code, available in levels:
                counts.setdefault(item_id, {})[location_id] = available
                if not code:
                    continue
                if shopify.get(code, item_id) != item_id:
                    duplicates.add(f"Shopify {code}")
                shopify.setdefault(code, item_id)
            await report("Reading Shopify's stock", len(shopify), 0)

    found = []
    linked = unlinked_tiktok = 0
    for seller_sku, sku in sorted(tiktok.items()):
        shopify_sku = shopify_of.get(seller_sku, seller_sku)
        item = shopify.get(shopify_sku)
        entry: dict[str, Any] = {
            "seller_sku": seller_sku,
            "shopify_sku": shopify_sku if shopify_sku != seller_sku else None,
            "tiktok_product_id": sku.product_id,
            "tiktok_sku_id": sku.sku_id,
        }
        if item is None:
            unlinked_tiktok += 1
            entry["status"] = "unlinked"
            entry["last_error"] = _unlinked_words(seller_sku, shopify_sku)
        else:
            linked += 1
            entry["inventory_item_id"] = item
            entry["shopify_levels"] = counts.get(item, {})
        found.append(entry)
    tiktok_as_shopify = {shopify_of.get(t, t) for t in tiktok}
    unlinked_shopify = sum(1 for sku in shopify if sku not in tiktok_as_shopify)

    total = len(found)
    for start in range(0, total, PROGRESS_EVERY):
        chunk = found[start : start + PROGRESS_EVERY]
        linked_chunk = [e for e in chunk if "inventory_item_id" in e]
        await asyncio.to_thread(store.stock.save_found_links, cid, linked_chunk, mark_due=True)
        await asyncio.to_thread(
            store.stock.save_found_links, cid, [e for e in chunk if "inventory_item_id" not in e]
        )
        await report("Linking SKUs", min(total, start + PROGRESS_EVERY), total)
    result = SyncReport(
        tiktok_skus=len(tiktok),
        shopify_skus=len(shopify),
        linked=linked,
        unlinked_tiktok=unlinked_tiktok,
        unlinked_shopify=unlinked_shopify,
        duplicates=tuple(sorted(duplicates)),
    )
    log.info(
        "stock catalogs linked",
        connection=cid,
        **{k: v for k, v in result.__dict__.items() if k != "duplicates"},
        duplicates=len(duplicates),
    )
    return result


def _unlinked_words(seller_sku: str, shopify_sku: str) -> str:
    mapped = "" if shopify_sku == seller_sku else f" (mapped to {shopify_sku})"
    return (
        f"No Shopify variant has SKU {shopify_sku}{mapped}: add the SKU to the variant in "
        "Shopify, or map it in Settings → Stock"
    )


async def run_full_sync(
    store: Store,
    ctx: ConnectionContext,
    sync_id: int,
    *,
    pusher: Callable[[], Awaitable[int]] | None,
    progress: Progress | None = None,
    give_up_after: timedelta = timedelta(hours=2),
) -> str:
    """One full sync from start to end: link both catalogs, then wait while every linked SKU
    is compared and corrected (by `pusher`, which pushes due SKUs of this connection and
    returns how many, or by the workers when None). Returns the summary line; the sync's row
    says how it ended."""
    try:
        report = await full_sync(store, ctx, sync_id, progress)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + give_up_after.total_seconds()
        while True:
            pushed = await pusher() if pusher is not None else 0
            counts = await asyncio.to_thread(store.stock.status_counts, ctx.connection_id)
            due = await asyncio.to_thread(store.stock.due_count, ctx.connection_id)
            total = sum(counts.values())
            problems = counts.get("failed", 0)
            await asyncio.to_thread(
                store.stock.sync_progress,
                sync_id,
                stage="Comparing and correcting",
                done=total - due,
                total=total,
                problems=problems,
            )
            if progress is not None:
                progress("Comparing and correcting", total - due, total)
            if due == 0:
                break
            if loop.time() > deadline:
                raise TimeoutError(f"{due} SKUs still waited for a push after {give_up_after}")
            if pushed == 0:
                await asyncio.sleep(0.5)
    except Exception as error:
        message = classify(error).message
        await asyncio.to_thread(store.stock.finish_sync, sync_id, "failed", message)
        raise
    counts = await asyncio.to_thread(store.stock.status_counts, ctx.connection_id)
    summary = (
        f"{counts.get('synced', 0):,} SKUs follow Shopify; {report.unlinked_tiktok:,} TikTok "
        f"SKUs have no Shopify match, {report.unlinked_shopify:,} Shopify SKUs are not on "
        f"TikTok; {counts.get('failed', 0):,} failed; {counts.get('not_synced', 0):,} not "
        "synced by choice"
    )
    if report.duplicates:
        shown = ", ".join(report.duplicates[:5])
        summary += f"; duplicate SKUs: {shown}{' …' if len(report.duplicates) > 5 else ''}"
    await asyncio.to_thread(store.stock.finish_sync, sync_id, "done", summary)
    return summary


async def run_claimed(
    store: Store,
    ctx: ConnectionContext,
    rows: Sequence[StockSku],
    lease: timedelta,
    delay: Callable[[int], timedelta],
    max_failures: int,
) -> None:
    """Push claimed rows and record each one's outcome under its own fence: synced, retried
    with backoff (`delay(failures)`), failed for the merchant's Retry after `max_failures`, or
    left for the reconnect when a platform refused the connection."""

    async def check(subset: Sequence[StockSku]) -> None:
        lost = await asyncio.to_thread(store.stock.hold_all, subset, lease)
        if lost:
            raise LeaseLost(f"stock row {lost[0].id} ({lost[0].seller_sku}) is no longer held")

    try:
        outcomes: dict[int, Outcome] = await push(store, ctx, rows, check)
    except LeaseLost as lost:
        log.warning("stock claim lost; not recording", reason=str(lost))
        return
    except Exception as error:
        failure = classify(error)
        if failure.kind is FailureKind.ACCESS_LOST:
            await asyncio.to_thread(store.needs_reconnect, ctx.connection_id, failure.message)
            await asyncio.to_thread(
                store.release, rows[0].locked_by or "", {WorkKind.STOCK: [r.id for r in rows]}
            )
            return
        if failure.kind is FailureKind.BUG:
            log.exception("stock push failed", connection=ctx.connection_id)
        message = failure.message
        outcomes = {r.id: (Retry(message) if failure.retried else Fail(message)) for r in rows}
    now = ctx.clock.now()
    pushed = [(row, o) for row in rows if isinstance(o := outcomes.get(row.id), Pushed)]
    for stale in await asyncio.to_thread(store.stock.finish_all, pushed):
        log.warning("stock claim lost; not recording", sku=stale.seller_sku)
    for row in rows:
        outcome = outcomes.get(row.id)
        try:
            if isinstance(outcome, Pushed):
                continue
            if isinstance(outcome, Retry) and row.failures + 1 < max_failures:
                due = now + delay(row.failures + 1)
                await asyncio.to_thread(store.stock.retry, row, row.fence, outcome.error, due)
            elif outcome is not None:
                final = outcome.error
                if isinstance(outcome, Retry):
                    final = f"{final} (gave up after {row.failures + 1} attempts)"
                await asyncio.to_thread(store.stock.fail, row, row.fence, final)
        except LeaseLost as lost:
            log.warning("stock claim lost; not recording", reason=str(lost))


__all__ = [
    "Fail",
    "Outcome",
    "Retry",
    "SyncReport",
    "full_sync",
    "push",
    "run_claimed",
    "run_full_sync",
]
