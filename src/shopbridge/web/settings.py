"""Settings of one connection: its health, the holdback window, when Shopify orders are created
and whether returns restock themselves, the carrier mapping, and the report of TikTok SKUs that
no Shopify variant carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.mirror import FlagCode
from shopbridge.engine.subscriptions import SHOPIFY_TOPICS, TIKTOK_EVENTS
from shopbridge.store import ConnectionRecord, Store
from shopbridge.web.alerts import alert_panel
from shopbridge.web.auth import checked_form, connection_of, flash, login_required
from shopbridge.web.connect import platform_addresses
from shopbridge.web.context import render, ui

# TikTok policy (workflow.md): the post-payment holdback is never below 60 minutes.
MIN_HOLDBACK_MINUTES = 60
MAX_HOLDBACK_MINUTES = 7 * 24 * 60
UNLINKED_SCAN_LIMIT = 500
TRACKING_COMPANIES = (
    Path(__file__).parents[1] / "shopify" / "schema" / "tracking_companies_2026-01.txt"
)


@dataclass(frozen=True)
class UnlinkedSku:
    sku: str
    order_ids: tuple[str, ...]


def unlinked_skus(store: Store, connection_id: int) -> list[UnlinkedSku]:
    """SKUs that Shopify did not know when an order was created (orders flagged unknown_sku).

    The SKUs themselves are in the order's own record of Shopify's answer (the timeline entry of
    the ShopifyOrderCreated outcome), not parsed from the flag's wording.
    """
    rows = store.list_mirrors(connection_id, needs_attention=True, limit=UNLINKED_SCAN_LIMIT)
    orders_by_sku: dict[str, list[str]] = {}
    for row in rows:
        if row.state is None:
            continue
        if not decode_mirror(dict(row.state)).has_flag(FlagCode.UNKNOWN_SKU):
            continue
        for entry in store.timeline(row.id):
            detail = entry.detail or {}
            if detail.get("type") == "ShopifyOrderCreated":
                for sku in detail.get("unknown_skus") or ():
                    orders_by_sku.setdefault(str(sku), []).append(row.tiktok_order_id)
    return [
        UnlinkedSku(sku, tuple(dict.fromkeys(ids))) for sku, ids in sorted(orders_by_sku.items())
    ]


def tracking_companies() -> list[str]:
    """Shopify's supported tracking company names, offered as suggestions in the mapping form."""
    try:
        text = TRACKING_COMPANIES.read_text(encoding="utf-8")
    except OSError:
        return []
    names = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("- ", "* ")):
            names.append(line[2:].strip().strip("`"))
    return sorted(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class WebhookRow:
    platform: str
    topic: str
    address: str | None
    action: str | None  # kept | created | updated | failed; None: never checked
    error: str | None
    last_delivery: datetime | None


def webhook_rows(store: Store, connection: ConnectionRecord) -> list[WebhookRow]:
    """Per topic shopbridge reads: where the platform sends it (as last checked) and when the
    newest delivery arrived."""
    checked = {
        (str(t.get("platform")), str(t.get("topic"))): t
        for t in (connection.webhook_status or {}).get("topics", [])
        if isinstance(t, dict)
    }
    seen = store.last_deliveries(connection.id)
    rows = []
    for platform, topics in (("shopify", SHOPIFY_TOPICS), ("tiktok", TIKTOK_EVENTS)):
        for topic in topics:
            found = checked.get((platform, topic)) or checked.get((platform, "*")) or {}
            stored = topic.lower().replace("_", "/", 1) if platform == "shopify" else topic
            rows.append(
                WebhookRow(
                    platform,
                    topic,
                    found.get("address"),
                    found.get("action"),
                    found.get("error"),
                    seen.get((platform, stored)),
                )
            )
    return rows


async def _page(
    request: Request,
    connection: ConnectionRecord,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
) -> Response:
    store = ui(request).store
    unlinked = await run_in_threadpool(unlinked_skus, store, connection.id)
    failed_deliveries = await run_in_threadpool(store.failed_inbox, connection.id)
    failed_actions = await run_in_threadpool(
        lambda: store.connection_actions(connection.id, status="failed")
    )
    return render(
        request,
        "settings.html",
        {
            "connection": connection,
            "current_connection": connection,
            "unlinked": unlinked,
            "failed_deliveries": failed_deliveries,
            "failed_actions": failed_actions,
            "companies": await run_in_threadpool(tracking_companies),
            "errors": dict(errors or {}),
            "min_holdback": MIN_HOLDBACK_MINUTES,
            "max_holdback": MAX_HOLDBACK_MINUTES,
            "now": ui(request).clock.now(),
            "alert_panel": await alert_panel(request),
            "addresses": platform_addresses(ui(request).settings.public_url),
            "webhooks": await run_in_threadpool(webhook_rows, store, connection),
            "active": "settings",
        },
        status_code=status_code,
    )


@login_required
async def settings_page(request: Request) -> Response:
    return await _page(request, connection_of(request))


async def _saved(request: Request, connection: ConnectionRecord, message: str) -> Response:
    ui(request).on_connection_changed(connection.id)
    flash(request, message, "ok")
    return RedirectResponse(f"/connections/{connection.id}/settings", status_code=303)


@login_required
async def update_holdback(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    raw = str(form.get("holdback_minutes", "")).strip()
    try:
        minutes = int(raw)
    except ValueError:
        minutes = None
    problem = None
    if minutes is None:
        problem = f"The holdback must be a whole number of minutes, not {raw!r}."
    elif minutes < MIN_HOLDBACK_MINUTES:
        problem = (
            f"The holdback cannot be shorter than {MIN_HOLDBACK_MINUTES} minutes: for the first "
            "hour after payment TikTok lets the buyer cancel without asking you, so an order "
            "released earlier could be cancelled after you shipped it."
        )
    elif minutes > MAX_HOLDBACK_MINUTES:
        problem = f"The holdback can be at most {MAX_HOLDBACK_MINUTES} minutes (7 days)."
    if problem is not None:
        return await _page(request, connection, 400, {"holdback": problem})
    store = ui(request).store
    await run_in_threadpool(
        lambda: store.update_connection(connection.id, holdback_minutes=minutes)
    )
    return await _saved(
        request, connection, f"Holdback set to {minutes} minutes for orders paid from now on."
    )


# The connection's order options: field, the words for on and for off (the saved message).
ORDER_OPTIONS = {
    "create_after_holdback": (
        "Shopify orders are created only once the holdback is over",
        "Shopify orders are created at once, on hold",
    ),
    "restock_returns": (
        "returned items go back on sale automatically",
        "returned items wait for your Restock on the order",
    ),
}


@login_required
async def update_order_options(request: Request) -> Response:
    """Save the two order switches (checkboxes: absent means off), only those that changed."""
    connection = connection_of(request)
    form = await checked_form(request)
    fields: dict[str, bool] = {}
    changed: list[str] = []
    for name, (on, off) in ORDER_OPTIONS.items():
        wanted = bool(form.get(name))
        if wanted != getattr(connection, name):
            fields[name] = wanted
            changed.append(on if wanted else off)
    if not fields:
        flash(request, "Nothing changed.")
        return RedirectResponse(f"/connections/{connection.id}/settings#orders", status_code=303)
    store = ui(request).store
    await run_in_threadpool(lambda: store.update_connection(connection.id, **fields))
    return await _saved(request, connection, "Saved: " + "; ".join(changed) + ".")


@login_required
async def add_carrier(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    company = str(form.get("shopify_company", "")).strip()[:100]
    provider = str(form.get("tiktok_provider", "")).strip()[:100]
    if not company or not provider:
        problem = "Give both the Shopify tracking company and the TikTok shipping provider."
        return await _page(request, connection, 400, {"carrier": problem})
    store = ui(request).store
    mapping = {**connection.carrier_mapping, company: provider}
    await run_in_threadpool(lambda: store.update_connection(connection.id, carrier_mapping=mapping))
    return await _saved(request, connection, f"Shopify's “{company}” now ships as “{provider}”.")


@login_required
async def remove_carrier(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    company = str(form.get("shopify_company", ""))
    store = ui(request).store
    mapping = {k: v for k, v in connection.carrier_mapping.items() if k != company}
    await run_in_threadpool(lambda: store.update_connection(connection.id, carrier_mapping=mapping))
    return await _saved(request, connection, f"Removed the mapping for “{company}”.")


@login_required
async def retry_work(request: Request) -> Response:
    """Retry a delivery or a connection-wide action that failed for good (a fresh set of
    attempts); only this connection's own items."""
    connection = connection_of(request)
    form = await checked_form(request)
    kind, raw_id = str(form.get("kind", "")), str(form.get("item_id", ""))
    store = ui(request).store
    if not raw_id.isdigit() or kind not in ("delivery", "action"):
        flash(request, "That is not something that can be retried.", "error")
        return RedirectResponse(f"/connections/{connection.id}/settings", status_code=303)
    item_id = int(raw_id)
    if kind == "delivery":
        done = await run_in_threadpool(store.requeue_inbox, item_id, connection.id)
    else:
        done = await run_in_threadpool(store.requeue_outbox, item_id, connection.id)
    if done:
        ui(request).wake()
        flash(request, "Retrying now.", "ok")
    else:
        flash(request, "It is no longer waiting for a retry (already retried?).", "error")
    return RedirectResponse(f"/connections/{connection.id}/settings#stuck", status_code=303)


_SETTINGS = "/connections/{connection_id:int}/settings"

routes = [
    Route(_SETTINGS, settings_page, methods=["GET"]),
    Route(_SETTINGS + "/retry", retry_work, methods=["POST"]),
    Route(_SETTINGS + "/holdback", update_holdback, methods=["POST"]),
    Route(_SETTINGS + "/orders", update_order_options, methods=["POST"]),
    Route(_SETTINGS + "/carriers", add_carrier, methods=["POST"]),
    Route(_SETTINGS + "/carriers/remove", remove_carrier, methods=["POST"]),
]
