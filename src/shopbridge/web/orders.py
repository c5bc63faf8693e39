"""The orders pages: the list (filters, search, paging, live refresh), the detail, and the
merchant's answers (approve or reject a cancellation request, cancel items on TikTok, restock a
return, retry a failed action)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.transition import Decision
from shopbridge.store import ConnectionRecord, MirrorRow
from shopbridge.web.auth import checked_form, connection_of, flash, login_required
from shopbridge.web.context import render, ui
from shopbridge.web.order_view import REJECT_REASONS, order_view

PAGE_SIZE = 25
POLL_SECONDS = 5
MAX_ITEMS_PER_CANCEL = 1000  # far above any TikTok order; bounds what a form can make us parse
ATTENTION_CAP = 100  # the summary counts up to this many ("100+")

# The list's state filter: label and the store query it stands for.
STATES: dict[str, tuple[str, dict[str, Any]]] = {
    "": ("All", {}),
    "held": ("In holdback", {"phase": "held"}),
    "released": ("Ready to fulfil", {"phase": "released"}),
    "fulfilled": ("Fulfilled", {"phase": "fulfilled"}),
    "cancelled": ("Canceled", {"phase": "cancelled"}),
    "attention": ("Needs attention", {"needs_attention": True}),
}


@login_required
async def home(request: Request) -> Response:
    connections: list[ConnectionRecord] = request.state.connections
    if len(connections) == 1:
        only = connections[0]
        page = "connect" if only.status == "setting_up" else "orders"
        return RedirectResponse(f"/connections/{only.id}/{page}", status_code=303)
    return render(request, "connections.html", {"connections": connections, "active": "orders"})


def _list_query(request: Request) -> tuple[str, str, int]:
    state = request.query_params.get("state", "")
    if state not in STATES:
        state = ""
    search = request.query_params.get("q", "").strip()[:100]
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    return state, search, page


async def _list_context(request: Request) -> dict[str, Any]:
    connection = connection_of(request)
    state, search, page = _list_query(request)
    store = ui(request).store
    rows = await run_in_threadpool(
        lambda: store.list_mirrors(
            connection.id,
            search=search or None,
            include_unpaid=False,  # workflow.md row 1: unpaid orders are not listed yet
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
            **STATES[state][1],
        )
    )
    attention = await run_in_threadpool(
        lambda: store.list_mirrors(
            connection.id, include_unpaid=False, needs_attention=True, limit=ATTENTION_CAP
        )
    )
    base = {"state": state, "q": search}

    def page_url(number: int) -> str:
        query = urlencode({k: v for k, v in {**base, "page": number}.items() if v})
        return f"/connections/{connection.id}/orders" + (f"?{query}" if query else "")

    fragment_query = urlencode({k: v for k, v in {**base, "page": page}.items() if v and v != 1})
    return {
        "connection": connection,
        "current_connection": connection,
        "orders": [order_view(row, connection) for row in rows[:PAGE_SIZE]],
        "states": [(key, label) for key, (label, _) in STATES.items()],
        "state": state,
        "q": search,
        "page": page,
        "previous_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if len(rows) > PAGE_SIZE else None,
        "fragment_url": f"/connections/{connection.id}/orders/fragment"
        + (f"?{fragment_query}" if fragment_query else ""),
        "poll_seconds": POLL_SECONDS,
        "attention_count": len(attention),
        "attention_cap": ATTENTION_CAP,
        "active": "orders",
    }


@login_required
async def orders_page(request: Request) -> Response:
    return render(request, "orders.html", await _list_context(request))


@login_required
async def orders_fragment(request: Request) -> Response:
    """The table alone, which the open list page polls (htmx) to stay current."""
    return render(request, "_orders_table.html", await _list_context(request))


async def _mirror_of(request: Request, connection: ConnectionRecord) -> MirrorRow:
    store = ui(request).store
    order_id = request.path_params["order_id"]
    row = await run_in_threadpool(store.get_mirror, connection.id, order_id)
    # An unpaid order is not shown yet (workflow.md row 1), on its own page either.
    if row is None or row.state is None or (row.tiktok_status or "UNPAID") == "UNPAID":
        raise HTTPException(404)
    return row


@login_required
async def order_page(request: Request) -> Response:
    connection = connection_of(request)
    row = await _mirror_of(request, connection)
    store = ui(request).store
    entries = await run_in_threadpool(store.timeline, row.id)
    view = order_view(row, connection)
    return render(
        request,
        "order.html",
        {
            "connection": connection,
            "current_connection": connection,
            "order": view,
            "shipments": view.shipments(entries),
            "timeline": entries,
            "reject_reasons": REJECT_REASONS,
            "poll_seconds": POLL_SECONDS,
            "active": "orders",
        },
    )


MerchantEvent = Callable[[FormData, str], ev.Event]


async def _answer(
    request: Request, make_event: MerchantEvent, done: str
) -> tuple[ConnectionRecord, MirrorRow, Decision]:
    """Apply one merchant event through the bridge and say how it went (flash message)."""
    connection = connection_of(request)
    form = await checked_form(request)
    row = await _mirror_of(request, connection)
    context = ui(request)
    event = make_event(form, request.state.user.email)
    decision = await run_in_threadpool(
        context.bridge.apply, connection.id, row.tiktok_order_id, event
    )
    if decision.refusal:
        flash(request, decision.refusal, "error")
    else:
        flash(request, done, "ok")
        context.wake()
    return connection, row, decision


def _back(connection: ConnectionRecord, row: MirrorRow) -> Response:
    return RedirectResponse(
        f"/connections/{connection.id}/orders/{row.tiktok_order_id}", status_code=303
    )


@login_required
async def approve(request: Request) -> Response:
    connection, row, _ = await _answer(
        request,
        lambda form, user: ev.MerchantApprovedCancellation(
            str(form.get("cancel_id", "")), user=user
        ),
        "Approved: cancelling in Shopify first, then approving on TikTok.",
    )
    return _back(connection, row)


@login_required
async def reject(request: Request) -> Response:
    reasons = dict(REJECT_REASONS)

    def event(form: FormData, user: str) -> ev.MerchantRejectedCancellation:
        reason = str(form.get("reason", ""))
        if reason not in reasons:
            raise HTTPException(400, "Choose a reason for the rejection.")
        return ev.MerchantRejectedCancellation(
            str(form.get("cancel_id", "")),
            reason,
            str(form.get("comment", "")).strip()[:500],
            user=user,
        )

    connection, row, _ = await _answer(request, event, "Rejected: sending the rejection to TikTok.")
    return _back(connection, row)


@login_required
async def retry(request: Request) -> Response:
    def event(form: FormData, user: str) -> ev.MerchantRetried:
        kind = str(form.get("kind", ""))
        if not kind:
            raise HTTPException(400, "Which action to retry?")
        return ev.MerchantRetried(kind, user=user)

    connection, row, _ = await _answer(request, event, "Retrying now.")
    return _back(connection, row)


@login_required
async def cancel_items(request: Request) -> Response:
    """Cancel the ticked units on TikTok (out of stock); the core says whether TikTok allows it."""

    def event(form: FormData, user: str) -> ev.MerchantCancelledItems:
        picked = [str(v)[:64] for v in form.getlist("unit_ids")[:MAX_ITEMS_PER_CANCEL]]
        return ev.MerchantCancelledItems(tuple(dict.fromkeys(picked)), user=user)

    connection, row, _ = await _answer(
        request, event, "Cancelling on TikTok; Shopify follows what TikTok says."
    )
    return _back(connection, row)


@login_required
async def restock_return(request: Request) -> Response:
    return_id = str(request.path_params["return_id"])
    connection, row, _ = await _answer(
        request,
        lambda _form, user: ev.MerchantRestockedReturn(return_id, user=user),
        "Restocking: the returned items go back on sale in Shopify.",
    )
    return _back(connection, row)


@login_required
async def retry_stuck(request: Request) -> Response:
    """Run again the work about this order that failed outside its decisions."""
    connection = connection_of(request)
    await checked_form(request)
    row = await _mirror_of(request, connection)
    context = ui(request)
    mirror = None if row.state is None else decode_mirror(dict(row.state))
    in_flight = None if mirror is None or mirror.in_flight is None else mirror.in_flight.key
    requeued = await run_in_threadpool(context.store.retry_stuck, row.id, in_flight)
    context.wake()
    flash(request, "Retrying now." if requeued else "Nothing was waiting; cleared.", "ok")
    return _back(connection, row)


_ORDER = "/connections/{connection_id:int}/orders/{order_id}"

routes = [
    Route("/", home, methods=["GET"]),
    Route("/connections/{connection_id:int}/orders", orders_page, methods=["GET"]),
    Route("/connections/{connection_id:int}/orders/fragment", orders_fragment, methods=["GET"]),
    Route(_ORDER, order_page, methods=["GET"]),
    Route(_ORDER + "/cancellation/approve", approve, methods=["POST"]),
    Route(_ORDER + "/cancellation/reject", reject, methods=["POST"]),
    Route(_ORDER + "/items/cancel", cancel_items, methods=["POST"]),
    Route(_ORDER + "/returns/{return_id}/restock", restock_return, methods=["POST"]),
    Route(_ORDER + "/retry", retry, methods=["POST"]),
    Route(_ORDER + "/retry-stuck", retry_stuck, methods=["POST"]),
]
