"""Login, logout, the session and CSRF protection for the merchant pages.

The session is Starlette's signed cookie (itsdangerous; HttpOnly, SameSite=Lax): it holds only
the user id and a per-session CSRF token. Every state-changing request must send that token back,
in the `csrf_token` form field or the `X-CSRF-Token` header (htmx), or it gets 403.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.store import ConnectionRecord, NotFound
from shopbridge.web import accounts
from shopbridge.web.context import UiContext, render, ui

SESSION_COOKIE = "shopbridge_session"
SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

Page = Callable[[Request], Awaitable[Response]]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The request's form, once its CSRF token matched the session's; 403 otherwise."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(403, "The form was stale or not sent from shopbridge: reload the page.")
    return form


def flash(request: Request, text: str, level: str = "info") -> None:
    request.session["flashes"] = [*request.session.get("flashes", []), [level, text]]


def take_flashes(request: Request) -> list[tuple[str, str]]:
    return [(level, text) for level, text in request.session.pop("flashes", [])]


def login_required(page: Page) -> Page:
    """Load the signed-in user and their connections, or send the browser to the login page."""

    @wraps(page)
    async def guarded(request: Request) -> Response:
        context = ui(request)
        user_id = request.session.get("user_id")
        user = None
        if isinstance(user_id, int):
            user = await run_in_threadpool(accounts.get_user, context.store, user_id)
        if user is None:
            request.session.pop("user_id", None)
            if request.headers.get("hx-request"):
                # htmx follows HX-Redirect with a full page load instead of swapping a login form
                # into the fragment it polls.
                return Response(status_code=401, headers={"HX-Redirect": "/login"})
            target = "/login?next=" + quote(_path_with_query(request), safe="")
            return RedirectResponse(target, status_code=303)
        ids = await run_in_threadpool(accounts.connection_ids_of, context.store, user.id)
        request.state.user = user
        request.state.connections = await run_in_threadpool(_connections, context, ids)
        return await page(request)

    return guarded


def connection_of(request: Request) -> ConnectionRecord:
    """The connection named in the path if the user belongs to it; 404 otherwise (never 403,
    so that ids cannot be probed)."""
    wanted = request.path_params["connection_id"]  # an int: the routes use {connection_id:int}
    mine: list[ConnectionRecord] = request.state.connections
    for connection in mine:
        if connection.id == wanted:
            return connection
    raise HTTPException(404)


def _connections(context: UiContext, ids: list[int]) -> list[ConnectionRecord]:
    found = []
    for cid in ids:
        try:
            found.append(context.store.get_connection(cid))
        except NotFound:
            continue
    return found


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: object) -> str:
    """Where to go after login: a path on this site only (never `//host` or a full URL)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def login_page(request: Request) -> Response:
    if isinstance(request.session.get("user_id"), int):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    first_run = not await run_in_threadpool(accounts.has_users, ui(request).store)
    return render(
        request,
        "login.html",
        {"next": safe_next(request.query_params.get("next")), "email": "", "first_run": first_run},
    )


async def login(request: Request) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    target = safe_next(form.get("next"))
    throttle = ui(request).login_throttle
    key = accounts.normalize_email(email)
    wait = throttle.retry_after(key)
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        response = render(
            request,
            "login.html",
            {
                "next": target,
                "email": email,
                "error": f"Too many failed logins for this email: try again in {minutes} min.",
            },
            status_code=429,
        )
        response.headers["retry-after"] = str(max(1, math.ceil(wait.total_seconds())))
        return response
    user = await run_in_threadpool(accounts.authenticate, ui(request).store, email, password)
    if user is None:
        throttle.failed(key)
        return render(
            request,
            "login.html",
            {"next": target, "email": email, "error": "Wrong email or password."},
            status_code=401,
        )
    throttle.succeeded(key)
    # A fresh session (and CSRF token) at login, so a token planted before login is worthless.
    request.session.clear()
    request.session["user_id"] = user.id
    csrf_token(request)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
