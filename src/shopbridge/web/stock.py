"""The Stock page of one connection: how far each TikTok SKU follows Shopify, the full sync and
its progress, Retry for failed SKUs, each SKU's history and overrides, and the merchant's stock
settings (the rule, the warehouse mapping, the SKU mapping with its CSV import and export).

Every page and form is scoped to a connection of the signed-in user (`connection_of`), every POST
carries the session's CSRF token (`checked_form`), and every change ends in a redirect with a
flash message. Bad input is refused as a whole: nothing of a refused form is saved.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Message

from shopbridge.domain.stock import RuleError, StockRule, resolve
from shopbridge.store import ConnectionRecord
from shopbridge.store.stock import CSV_HEADER, LinkError, StockSku, StockSync, parse_links_csv
from shopbridge.web.auth import checked_form, connection_of, csrf_token, flash, login_required
from shopbridge.web.context import render, ui

PAGE_SIZE = 100
POLL_SECONDS = 2
NOT_LINKED_SHOWN = 50
MIN_SYNC_MINUTES = 5  # the connections table refuses less (stock_sync_minutes >= 5)
MAX_SYNC_MINUTES = 7 * 24 * 60
# Far above any sensible buffer or threshold, and below the 32-bit integer columns' limit.
MAX_WHOLE_NUMBER = 1_000_000_000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Room in the request around the file: the multipart boundaries, the CSRF token, the mode.
FORM_OVERHEAD_BYTES = 16 * 1024
# A refused upload is read to its end (and thrown away) up to this size, so that the browser
# gets to read the answer instead of a reset connection; a bigger one is cut off.
DRAIN_LIMIT_BYTES = 32 * 1024 * 1024

# Each status in the merchant's words: (in the summary line, as a badge, badge tone).
STATUSES: dict[str, tuple[str, str, str]] = {
    "synced": ("follow Shopify", "Follows Shopify", "ok"),
    "pending": ("waiting to be sent", "Waiting to be sent", "info"),
    "failed": ("failed", "Failed", "danger"),
    "unlinked": ("not linked", "Not linked", "warn"),
    "not_synced": ("not synced by choice", "Not synced (your choice)", "muted"),
}

HISTORY_KINDS = {
    "shopify": "Shopify change seen",
    "tiktok": "Sent to TikTok",
    "rule": "Rule",
    "failed": "Failed",
    "link": "Link",
    "sync": "Checked",
}


class FormProblem(ValueError):
    """Input a merchant typed that cannot be saved, in words that name the field."""


# -- what the pages show -------------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    """The Shopify locations and TikTok warehouses the last full sync found."""

    known: bool
    locations: dict[str, str]  # id -> name, in Shopify's order
    warehouses: dict[str, str]  # id -> name
    default_warehouse: str | None

    @staticmethod
    def of(connection: ConnectionRecord) -> Places:
        found = connection.stock_places
        if not found:
            return Places(False, {}, {}, None)
        locations = {str(p[0]): _name(p) for p in found.get("locations") or () if p}
        warehouses = {str(p[0]): _name(p) for p in found.get("warehouses") or () if p}
        default = next(
            (str(p[0]) for p in found.get("warehouses") or () if len(p) > 2 and p[2]), None
        )
        return Places(True, locations, warehouses, default)


def _name(place: Sequence[Any]) -> str:
    """A place's name as the last full sync stored it ([id, name, ...]), else its id."""
    return str(place[1]) if len(place) > 1 and place[1] else str(place[0])


@dataclass(frozen=True)
class Level:
    place: str
    quantity: int


@dataclass(frozen=True)
class SkuView:
    row: StockSku
    url: str
    label: str
    tone: str
    shopify_total: int | None
    shopify_levels: tuple[Level, ...]
    tiktok_total: int | None
    tiktok_levels: tuple[Level, ...]
    advice: str

    @staticmethod
    def of(row: StockSku, places: Places) -> SkuView:
        _, label, tone = STATUSES.get(row.status, (row.status, row.status, "muted"))
        return SkuView(
            row,
            sku_url(row.connection_id, row.seller_sku),
            label,
            tone,
            sum(row.shopify_levels.values()) if row.shopify_levels is not None else None,
            _levels(row.shopify_levels, places.locations),
            sum(row.tiktok_levels.values()) if row.tiktok_levels is not None else None,
            _levels(row.tiktok_levels, places.warehouses),
            _advice(row),
        )


def _levels(levels: Mapping[str, int] | None, names: Mapping[str, str]) -> tuple[Level, ...]:
    return tuple(Level(names.get(place, place), n) for place, n in (levels or {}).items())


def _advice(row: StockSku) -> str:
    if row.status == "failed":
        return "Fix what the message says (or wait for the platform to recover), then Retry."
    if row.status == "pending" and row.last_error:
        tries = "once" if row.failures == 1 else f"{row.failures} times"
        return f"shopbridge tries again by itself (failed {tries} so far)."
    return ""


def sku_url(connection_id: int, seller_sku: str) -> str:
    """The SKU's page; a SKU is any text, so it is encoded whole (a "/" included)."""
    base = f"/connections/{connection_id}/stock/sku"
    if seller_sku in (".", ".."):
        # Browsers resolve these as path segments ("%2E" too), so they go in the query.
        return f"{base}?{urlencode({'sku': seller_sku})}"
    return f"{base}/{quote(seller_sku, safe='')}"


def summary_parts(counts: Mapping[str, int]) -> list[tuple[str, str]]:
    """The status line: "1,204 SKUs follow Shopify · 3 failed · 12 not linked · …"."""
    synced = counts.get("synced", 0)
    parts = [("synced", f"{synced:,} {'SKU follows' if synced == 1 else 'SKUs follow'} Shopify")]
    for status in ("pending", "failed", "unlinked", "not_synced"):
        if counts.get(status):
            parts.append((status, f"{counts[status]:,} {STATUSES[status][0]}"))
    return parts


def rule_words(rule: StockRule, places: Places) -> dict[str, str]:
    """A complete rule as the merchant reads it, field by field."""
    if rule.locations is None:
        locations = "Every location"
    else:
        locations = ", ".join(places.locations.get(loc, loc) for loc in rule.locations)
    units, percent = rule.buffer_units or 0, rule.buffer_percent or 0
    if units and percent:
        buffer = f"{units:,} units or {percent} %, whichever is more"
    elif percent:
        buffer = f"{percent} %"
    else:
        buffer = f"{units:,} units" if units != 1 else "1 unit"
    threshold = rule.low_stock_threshold or 0
    return {
        "locations": locations,
        "buffer": buffer,
        "low_stock_threshold": f"0 on TikTok below {threshold:,}" if threshold else "None",
        "max_quantity": "No maximum" if rule.max_quantity is None else f"{rule.max_quantity:,}",
        "sync": "Yes" if rule.sync is not False else "No: TikTok's stock is left as it is",
    }


# -- the Stock page ------------------------------------------------------------------------------


def _stock_url(connection: ConnectionRecord, anchor: str = "") -> str:
    return f"/connections/{connection.id}/stock" + (f"#{anchor}" if anchor else "")


def _back_to(connection: ConnectionRecord, value: object, anchor: str) -> str:
    """Where a form on the Stock pages returns to: the page it came from if that is one of this
    connection's Stock pages (never another site or connection), else the Stock page."""
    prefix = _stock_url(connection)
    if isinstance(value, str) and (
        value == prefix or value.startswith((prefix + "?", prefix + "/"))
    ):
        return value.split("#")[0] + (f"#{anchor}" if anchor else "")
    return _stock_url(connection, anchor)


def _list_query(request: Request) -> tuple[str, str, int]:
    status = request.query_params.get("status", "")
    if status not in STATUSES:
        status = ""
    search = request.query_params.get("q", "").strip()[:200]
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    return status, search, page


def _sync_context(
    connection: ConnectionRecord, sync: StockSync | None, *, polled: bool = False
) -> dict[str, Any]:
    polling = sync is not None and sync.status in ("requested", "running")
    return {
        "sync": sync,
        "polling": polling,
        # The page was loaded while the sync ran: its counts are from before the sync.
        "polling_ended": polled and not polling,
        "poll_seconds": POLL_SECONDS,
        "places_known": connection.stock_places is not None,
    }


@login_required
async def stock_page(request: Request) -> Response:
    connection = connection_of(request)
    status, search, page = _list_query(request)
    store = ui(request).store
    cid = connection.id
    rows = await run_in_threadpool(
        lambda: store.stock.skus(
            cid,
            status=status or None,
            search=search,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    )
    counts = await run_in_threadpool(store.stock.status_counts, cid)
    not_linked = await run_in_threadpool(
        lambda: store.stock.skus(cid, status="unlinked", limit=NOT_LINKED_SHOWN)
    )
    base, _ = await run_in_threadpool(store.stock.rules, cid)
    links = await run_in_threadpool(store.stock.links, cid)
    warehouse_map = await run_in_threadpool(store.stock.warehouse_map, cid)
    sync = await run_in_threadpool(store.stock.latest_sync, cid)
    places = Places.of(connection)
    query = {"status": status, "q": search}

    def page_url(number: int) -> str:
        wanted = urlencode({k: v for k, v in {**query, "page": number}.items() if v and v != 1})
        return _stock_url(connection) + (f"?{wanted}" if wanted else "") + "#skus"

    this_page = page_url(page).split("#")[0]
    return render(
        request,
        "stock.html",
        {
            "connection": connection,
            "current_connection": connection,
            "active": "stock",
            "stock_url": _stock_url(connection),
            "this_page": this_page,
            "counts": counts,
            "total": sum(counts.values()),
            "summary": summary_parts(counts),
            "skus": [SkuView.of(row, places) for row in rows[:PAGE_SIZE]],
            "statuses": [(key, words[1]) for key, words in STATUSES.items()],
            "status": status,
            "q": search,
            "page": page,
            "previous_url": page_url(page - 1) if page > 1 else None,
            "next_url": page_url(page + 1) if len(rows) > PAGE_SIZE else None,
            "not_linked": [SkuView.of(row, places) for row in not_linked],
            "places": places,
            "rule": base,
            "rule_words": rule_words(base, places),
            "chosen_locations": set(base.locations or ()),
            "warehouse_map": warehouse_map,
            "links": links,
            "min_sync_minutes": MIN_SYNC_MINUTES,
            "max_sync_minutes": MAX_SYNC_MINUTES,
            "max_upload_mib": MAX_UPLOAD_BYTES // (1024 * 1024),
            "next_sync_at": (
                connection.last_stock_sync_at + timedelta(minutes=connection.stock_sync_minutes)
                if connection.last_stock_sync_at
                else None
            ),
            **_sync_context(connection, sync),
        },
    )


@login_required
async def sync_fragment(request: Request) -> Response:
    """The full sync's progress alone, which the Stock page polls while a sync runs; once it
    has ended the fragment comes back without its trigger, and the polling stops."""
    connection = connection_of(request)
    sync = await run_in_threadpool(ui(request).store.stock.latest_sync, connection.id)
    # Not `render`: a poll must not take the flash messages meant for the next full page.
    response: Response = ui(request).templates.TemplateResponse(
        request,
        "_stock_sync.html",
        {
            "connection": connection,
            "csrf_token": csrf_token(request),
            "stock_url": _stock_url(connection),
            **_sync_context(connection, sync, polled=True),
        },
    )
    response.headers["cache-control"] = "no-store"
    return response


@login_required
async def start_sync(request: Request) -> Response:
    connection = connection_of(request)
    await checked_form(request)
    await run_in_threadpool(ui(request).store.stock.request_sync, connection.id)
    ui(request).wake()
    flash(
        request,
        "Full sync asked for: shopbridge reads both catalogs, links every SKU, then compares "
        "and corrects each one. Follow it here.",
        "ok",
    )
    return RedirectResponse(_stock_url(connection, "sync"), status_code=303)


@login_required
async def retry(request: Request) -> Response:
    """Retry one failed SKU (`seller_sku`), or every failed SKU of the connection."""
    connection = connection_of(request)
    form = await checked_form(request)
    seller_sku = str(form.get("seller_sku", "")) or None
    done = await run_in_threadpool(ui(request).store.stock.retry_now, connection.id, seller_sku)
    if done:
        ui(request).wake()
        what = seller_sku if seller_sku else f"{done:,} failed SKU{'s' if done != 1 else ''}"
        flash(request, f"Retrying {what} now.", "ok")
    else:
        flash(request, "Nothing is waiting for a retry (already retried?).", "error")
    back = form.get("back")
    from_sku_page = isinstance(back, str) and back.startswith(_stock_url(connection) + "/sku")
    return RedirectResponse(
        _back_to(connection, back, "now" if from_sku_page else "skus"), status_code=303
    )


# -- one SKU -------------------------------------------------------------------------------------


@login_required
async def sku_page(request: Request) -> Response:
    connection = connection_of(request)
    seller_sku = request.path_params.get("seller_sku")
    if seller_sku is None:
        seller_sku = request.query_params.get("sku", "")
    store = ui(request).store
    row = await run_in_threadpool(store.stock.sku, connection.id, str(seller_sku))
    if row is None:
        raise HTTPException(404)
    history = await run_in_threadpool(store.stock.history, row.id)
    base, overrides = await run_in_threadpool(store.stock.rules, connection.id)
    override = overrides.get(row.seller_sku)
    places = Places.of(connection)
    effective = resolve(base, override)
    return render(
        request,
        "stock_sku.html",
        {
            "connection": connection,
            "current_connection": connection,
            "active": "stock",
            "stock_url": _stock_url(connection),
            "this_page": sku_url(connection.id, row.seller_sku),
            "sku": SkuView.of(row, places),
            "history": history,
            "kinds": HISTORY_KINDS,
            "base": base,
            "override": override or StockRule(),
            "has_override": override is not None,
            "rule_words": rule_words(effective, places),
            "base_words": rule_words(base, places),
        },
    )


@login_required
async def save_overrides(request: Request) -> Response:
    """Set this SKU's own rule values (blank: the shop's), or clear them all."""
    connection = connection_of(request)
    form = await checked_form(request)
    store = ui(request).store
    row = await run_in_threadpool(store.stock.sku, connection.id, str(form.get("seller_sku", "")))
    if row is None:
        raise HTTPException(404)
    back = sku_url(connection.id, row.seller_sku) + "#rule"
    _, overrides = await run_in_threadpool(store.stock.rules, connection.id)
    kept_locations = overrides[row.seller_sku].locations if row.seller_sku in overrides else None
    rule: StockRule | None = None
    if form.get("action") != "clear":
        try:
            rule = StockRule(
                locations=kept_locations,
                buffer_units=_whole(form, "buffer_units", "Buffer units", blank=None),
                buffer_percent=_whole(form, "buffer_percent", "Buffer percent", blank=None),
                low_stock_threshold=_whole(
                    form, "low_stock_threshold", "Low-stock threshold", blank=None
                ),
                max_quantity=_whole(form, "max_quantity", "Maximum on TikTok", blank=None),
                sync=False if form.get("do_not_sync") else None,
            )
            _checked(rule)
        except FormProblem as problem:
            flash(request, f"Nothing saved: {problem}", "error")
            return RedirectResponse(back, status_code=303)
        if rule == StockRule():
            rule = None
    try:
        await run_in_threadpool(store.stock.save_rule, connection.id, row.seller_sku, rule)
    except RuleError as refused:
        flash(request, f"Nothing saved: {_sentence(str(refused))}", "error")
        return RedirectResponse(back, status_code=303)
    ui(request).wake()
    if rule is None:
        flash(request, f"{row.seller_sku} follows the shop's stock rule again.", "ok")
    else:
        flash(request, f"Saved {row.seller_sku}'s own rule: its TikTok count is worked out again.")
    return RedirectResponse(back, status_code=303)


# -- the connection's rule, warehouses and SKU mapping -------------------------------------------


def _whole(form: FormData, name: str, label: str, *, blank: int | None) -> int | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return blank
    if not re.fullmatch(r"[+-]?\d{1,12}", raw):
        raise FormProblem(f"{label} must be a whole number, not {raw[:40]!r}.")
    value = int(raw)
    if value > MAX_WHOLE_NUMBER:
        raise FormProblem(f"{label} cannot be more than {MAX_WHOLE_NUMBER:,}.")
    return value


def _checked(rule: StockRule) -> None:
    try:
        rule.checked()
    except RuleError as refused:
        raise FormProblem(_sentence(str(refused))) from refused


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def connection_rule(form: FormData, places: Places, current: StockRule) -> StockRule:
    """The connection's rule from the Rules form; FormProblem naming the first bad field."""
    locations: tuple[str, ...] | None = None
    if form.get("locations_mode") == "chosen":
        chosen = [str(v) for v in form.getlist("location")]
        unknown = [loc for loc in chosen if loc not in places.locations]
        if unknown:
            raise FormProblem(
                f"Locations: {unknown[0][:200]!r} is not one of your Shopify locations (run a "
                "full sync to refresh the list)."
            )
        locations = tuple(loc for loc in places.locations if loc in chosen)
        if not locations:
            raise FormProblem("Locations: choose at least one Shopify location, or count them all.")
    elif form.get("locations_mode") != "all":
        raise FormProblem("Locations: choose every location, or the ones to count.")
    rule = StockRule(
        locations=locations,
        buffer_units=_whole(form, "buffer_units", "Buffer units", blank=0),
        buffer_percent=_whole(form, "buffer_percent", "Buffer percent", blank=0),
        low_stock_threshold=_whole(form, "low_stock_threshold", "Low-stock threshold", blank=0),
        max_quantity=_whole(form, "max_quantity", "Maximum on TikTok", blank=None),
        sync=current.sync,
    )
    _checked(rule)
    return rule


@login_required
async def save_rules(request: Request) -> Response:
    """The connection's stock rule, whose count wins at a first link, and the full sync's
    interval; all of the form is checked before any of it is saved."""
    connection = connection_of(request)
    form = await checked_form(request)
    store = ui(request).store
    back = _stock_url(connection, "rules")
    base, _ = await run_in_threadpool(store.stock.rules, connection.id)
    try:
        rule = connection_rule(form, Places.of(connection), base)
        primary = str(form.get("stock_primary", ""))
        if primary not in ("shopify", "tiktok"):
            raise FormProblem("Whose count wins at the first link: choose Shopify or TikTok.")
        minutes = _whole(form, "stock_sync_minutes", "Full sync interval", blank=None)
        if minutes is None:
            raise FormProblem("Full sync interval: give a number of minutes.")
        if not MIN_SYNC_MINUTES <= minutes <= MAX_SYNC_MINUTES:
            raise FormProblem(
                f"Full sync interval must be from {MIN_SYNC_MINUTES} to {MAX_SYNC_MINUTES:,} "
                f"minutes (7 days), not {minutes:,}."
            )
    except FormProblem as problem:
        flash(request, f"Nothing saved: {problem}", "error")
        return RedirectResponse(back, status_code=303)
    changed = []
    if rule != base:
        try:
            await run_in_threadpool(store.stock.save_rule, connection.id, "", rule)
        except RuleError as refused:
            flash(request, f"Nothing saved: {_sentence(str(refused))}", "error")
            return RedirectResponse(back, status_code=303)
        changed.append("the stock rule (every SKU's TikTok count is worked out again)")
    fields: dict[str, Any] = {}
    if primary != connection.stock_primary:
        fields["stock_primary"] = primary
        changed.append(
            f"{'Shopify' if primary == 'shopify' else 'TikTok'}'s count wins at a first link"
        )
    if minutes != connection.stock_sync_minutes:
        fields["stock_sync_minutes"] = minutes
        changed.append(f"a full sync every {minutes:,} minutes")
    if fields:
        await run_in_threadpool(lambda: store.update_connection(connection.id, **fields))
    if not changed:
        flash(request, "Nothing changed.")
        return RedirectResponse(back, status_code=303)
    ui(request).on_connection_changed(connection.id)
    ui(request).wake()
    flash(request, "Saved: " + "; ".join(changed) + ".", "ok")
    return RedirectResponse(back, status_code=303)


def warehouse_mapping(form: FormData, places: Places) -> dict[str, str]:
    """Shopify location -> TikTok warehouse from the Warehouses form (a location left "not
    mapped" is absent); FormProblem for anything the last full sync did not list."""
    locations = [str(v) for v in form.getlist("location")]
    warehouses = [str(v) for v in form.getlist("warehouse")]
    if len(locations) != len(warehouses):
        raise FormProblem("The warehouse form came back incomplete: reload the page and try again.")
    mapping: dict[str, str] = {}
    for location, warehouse in zip(locations, warehouses, strict=True):
        if location not in places.locations:
            raise FormProblem(
                f"{location[:200]!r} is not one of your Shopify locations (run a full sync to "
                "refresh the list)."
            )
        if location in mapping:
            raise FormProblem(f"{places.locations[location]} was given twice.")
        if warehouse and warehouse not in places.warehouses:
            raise FormProblem(
                f"{places.locations[location]}: {warehouse[:200]!r} is not one of your TikTok "
                "warehouses (run a full sync to refresh the list)."
            )
        mapping[location] = warehouse
    return {location: warehouse for location, warehouse in mapping.items() if warehouse}


@login_required
async def save_warehouses(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    store = ui(request).store
    back = _stock_url(connection, "warehouses")
    places = Places.of(connection)
    if not places.known:
        flash(request, "Run a full sync first: it lists your locations and warehouses.", "error")
        return RedirectResponse(back, status_code=303)
    try:
        mapping = warehouse_mapping(form, places)
    except FormProblem as problem:
        flash(request, f"Nothing saved: {problem}", "error")
        return RedirectResponse(back, status_code=303)
    current = await run_in_threadpool(store.stock.warehouse_map, connection.id)
    if mapping == current:
        flash(request, "Nothing changed.")
        return RedirectResponse(back, status_code=303)
    await run_in_threadpool(store.stock.save_warehouse_map, connection.id, mapping)
    ui(request).on_connection_changed(connection.id)
    ui(request).wake()
    flash(request, "Warehouse mapping saved: every SKU's TikTok count is worked out again.", "ok")
    return RedirectResponse(back, status_code=303)


@login_required
async def add_link(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    back = _stock_url(connection, "mapping")
    tiktok = str(form.get("tiktok_sku", "")).strip()
    shopify = str(form.get("shopify_sku", "")).strip()
    if tiktok and tiktok == shopify:
        flash(request, f"{tiktok} has the same code on both sides: it links without a mapping.")
        return RedirectResponse(back, status_code=303)
    try:
        await run_in_threadpool(
            ui(request).store.stock.save_links, connection.id, [(tiktok, shopify)]
        )
    except LinkError as refused:
        flash(request, f"Nothing saved: {_sentence(str(refused).removeprefix('row 1: '))}", "error")
        return RedirectResponse(back, status_code=303)
    ui(request).on_connection_changed(connection.id)
    ui(request).wake()
    flash(request, f"TikTok SKU {tiktok} now follows Shopify SKU {shopify}.", "ok")
    return RedirectResponse(back, status_code=303)


@login_required
async def remove_link(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    tiktok = str(form.get("tiktok_sku", ""))
    store = ui(request).store
    # Checked first: deleting marks the SKU due, which would make a row for any text sent.
    mapped = tiktok in await run_in_threadpool(store.stock.links, connection.id)
    if mapped and await run_in_threadpool(store.stock.delete_link, connection.id, tiktok):
        ui(request).on_connection_changed(connection.id)
        ui(request).wake()
        flash(request, f"Removed the mapping of {tiktok}: it links by its own code again.", "ok")
    else:
        flash(request, f"{tiktok} had no mapping (already removed?).", "error")
    return RedirectResponse(_stock_url(connection, "mapping"), status_code=303)


async def _bounded_form(request: Request, limit: int) -> FormData | None:
    """The request's form (its CSRF token checked) if its body is at most `limit` bytes; None
    if it is bigger. Read here, not by `request.form()`, which would spool any size to disk."""
    declared = request.headers.get("content-length", "")
    too_big = declared.isdigit() and int(declared) > limit
    body = bytearray()
    stream = request.stream()
    try:
        if not too_big:
            async for chunk in stream:
                body += chunk
                if len(body) > limit:
                    too_big = True
                    break
        if too_big and (not declared.isdigit() or int(declared) <= DRAIN_LIMIT_BYTES):
            await _drain(stream, DRAIN_LIMIT_BYTES)
    finally:
        await stream.aclose()
    if too_big:
        return None

    async def replay() -> Message:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return await checked_form(Request(request.scope, replay))


async def _drain(stream: AsyncGenerator[bytes, None], limit: int) -> None:
    read = 0
    try:
        async for chunk in stream:
            read += len(chunk)
            if read > limit:
                return
    except ClientDisconnect:
        return


@login_required
async def import_links(request: Request) -> Response:
    """A CSV of SKU mappings, added to the current ones or replacing them all; all or nothing."""
    connection = connection_of(request)
    back = _stock_url(connection, "mapping")
    limit_words = f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
    form = await _bounded_form(request, MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES)
    if form is None:
        flash(request, f"Nothing imported: The file is bigger than {limit_words}.", "error")
        return RedirectResponse(back, status_code=303)
    try:
        upload = form.get("csv")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormProblem("Choose a CSV file to import.")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise FormProblem(f"The file is bigger than {limit_words}.")
        mode = form.get("mode")
        if mode not in ("add", "replace"):
            raise FormProblem("Choose whether to add to the current mappings or replace them.")
        pairs = parse_links_csv(data)
    except (FormProblem, LinkError) as problem:
        flash(request, f"Nothing imported: {problem}", "error")
        return RedirectResponse(back, status_code=303)
    finally:
        await form.close()
    store = ui(request).store
    try:
        saved = await run_in_threadpool(
            lambda: store.stock.save_links(connection.id, pairs, replace=mode == "replace")
        )
    except LinkError as refused:
        flash(request, f"Nothing imported: {_sentence(str(refused))}", "error")
        return RedirectResponse(back, status_code=303)
    ui(request).on_connection_changed(connection.id)
    ui(request).wake()
    replaced = " (they replace all earlier ones)" if mode == "replace" else ""
    flash(request, f"Imported {saved:,} SKU mapping{'s' if saved != 1 else ''}{replaced}.", "ok")
    return RedirectResponse(back, status_code=303)


@login_required
async def export_links(request: Request) -> Response:
    connection = connection_of(request)
    links = await run_in_threadpool(ui(request).store.stock.links, connection.id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(sorted(links.items()))
    return Response(
        out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="sku-mapping-{connection.id}.csv"',
            "cache-control": "no-store",
        },
    )


_STOCK = "/connections/{connection_id:int}/stock"

routes = [
    Route(_STOCK, stock_page, methods=["GET"]),
    Route(_STOCK + "/sync", sync_fragment, methods=["GET"]),
    Route(_STOCK + "/sync", start_sync, methods=["POST"]),
    Route(_STOCK + "/retry", retry, methods=["POST"]),
    Route(_STOCK + "/rules", save_rules, methods=["POST"]),
    Route(_STOCK + "/warehouses", save_warehouses, methods=["POST"]),
    Route(_STOCK + "/links", add_link, methods=["POST"]),
    Route(_STOCK + "/links/remove", remove_link, methods=["POST"]),
    Route(_STOCK + "/links/import", import_links, methods=["POST"]),
    Route(_STOCK + "/links.csv", export_links, methods=["GET"]),
    Route(_STOCK + "/sku", sku_page, methods=["GET"]),
    Route(_STOCK + "/sku/{seller_sku:path}", sku_page, methods=["GET"]),
    Route(_STOCK + "/overrides", save_overrides, methods=["POST"]),
]
