"""The orders pages: the list (filters, search, paging by cursor, live refresh), the detail, and the
merchant's answers (approve or reject a cancellation request, cancel items on TikTok, restock a
return, retry a failed action)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from shopbridge.store import ConnectionRecord, MirrorRow, Store
from shopbridge.store.listing import ListCursor
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


@dataclass(frozen=True)
class ListQuery:
    """What the list URL asks for: a state, a search, and which page (a cursor, else the
    newest). `after`: the page of orders older than that row; `before`: newer than it."""

    state: str = ""
    search: str = ""
    after: ListCursor | None = None
    before: ListCursor | None = None

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        params = request.query_params
        state = params.get("state", "")
        after = ListCursor.parse(params.get("after", ""))
        # A link carries one cursor; a hand-made URL with both is read as its `after`.
        before = None if after is not None else ListCursor.parse(params.get("before", ""))
        return cls(
            state=state if state in STATES else "",
            search=params.get("q", "").strip()[:100],
            after=after,
            before=before,
        )

    def url(self, connection_id: int, *, fragment: bool = False, **page: ListCursor) -> str:
        """This list's URL (or its polled fragment's), at the page `after=` or `before=` a row;
        without one, at this query's own page."""
        cursors: dict[str, ListCursor | None] = {"after": self.after, "before": self.before}
        if page:
            cursors = dict(page)
        values = {"state": self.state, "q": self.search, **cursors}
        query = urlencode({k: str(v) for k, v in values.items() if v})
        path = f"/connections/{connection_id}/orders" + ("/fragment" if fragment else "")
        return path + (f"?{query}" if query else "")


@dataclass(frozen=True)
class ListPage:
    """The rows of one page, newest first, and whether newer and older orders lie beyond."""

    rows: list[MirrorRow]
    newer: bool
    older: bool

    @property
    def is_first(self) -> bool:
        return not self.newer


def _list_page(store: Store, connection_id: int, query: ListQuery) -> ListPage:
    """One page of the list with what is beyond it on either side, in as few reads as the page
    allows (one more row than a page says whether there is a next)."""
    filters: dict[str, Any] = {
        "search": query.search or None,
        "include_unpaid": False,  # workflow.md row 1: unpaid orders are not listed yet
        **STATES[query.state][1],
    }
    if query.before is not None:
        rows = store.list_mirrors(
            connection_id, limit=PAGE_SIZE + 1, before=query.before, **filters
        )
        if len(rows) > PAGE_SIZE:
            return ListPage(rows[1:], newer=True, older=True)
        # Back at the newest orders: show the first page whole, as its own link would.
    elif query.after is not None:
        rows = store.list_mirrors(connection_id, limit=PAGE_SIZE + 1, after=query.after, **filters)
        return ListPage(rows[:PAGE_SIZE], newer=True, older=len(rows) > PAGE_SIZE)
    rows = store.list_mirrors(connection_id, limit=PAGE_SIZE + 1, **filters)
    return ListPage(rows[:PAGE_SIZE], newer=False, older=len(rows) > PAGE_SIZE)


async def _list_context(request: Request) -> dict[str, Any]:
    connection = connection_of(request)
    query = ListQuery.of(request)
    store = ui(request).store
    page = await run_in_threadpool(_list_page, store, connection.id, query)
    attention = await run_in_threadpool(
        lambda: store.count_needing_attention(
            connection.id, include_unpaid=False, cap=ATTENTION_CAP
        )
    )
    newest, oldest = (page.rows[0], page.rows[-1]) if page.rows else (None, None)
    # The page polls its own rows: the first page stays the newest, a later page stays put.
    if page.is_first:
        fragment_url = ListQuery(query.state, query.search).url(connection.id, fragment=True)
    else:
        fragment_url = query.url(connection.id, fragment=True)
    return {
        "connection": connection,
        "current_connection": connection,
        "orders": [order_view(row, connection) for row in page.rows],
        "states": [(key, label) for key, (label, _) in STATES.items()],
        "state": query.state,
        "q": query.search,
        "first_page": page.is_first,
        "newest_url": ListQuery(query.state, query.search).url(connection.id),
        "previous_url": query.url(connection.id, before=ListCursor.of(newest))
        if page.newer and newest is not None
        else None,
        "next_url": query.url(connection.id, after=ListCursor.of(oldest))
        if page.older and oldest is not None
        else None,
        "fragment_url": fragment_url,
        "poll_seconds": POLL_SECONDS,
        "attention_count": attention,
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
