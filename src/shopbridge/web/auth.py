"""Login, logout, the session and CSRF protection for the merchant pages.

Sessions live on the server (`sessions.py`): the browser's cookie is Starlette's signed cookie
(itsdangerous; HttpOnly, SameSite=Lax, Secure behind https) and holds only the session's random
id, the flash messages of the next page, a pending platform approval's one-use state, and, before
login, an anonymous CSRF token. `LoadServerSession` finds the session of each page request. The
CSRF token of a signed-in browser is its server session's; every state-changing request must
send it back, in the `csrf_token` form field or the `X-CSRF-Token` header (htmx), or it gets 403.
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
from starlette.types import ASGIApp, Receive, Scope, Send

from shopbridge.store import ConnectionRecord, NotFound
from shopbridge.web import accounts, sessions
from shopbridge.web.context import UiContext, render, ui
from shopbridge.web.throttle import Attempt

SESSION_COOKIE = "shopbridge_session"
SESSION_ID = "sid"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Paths that never use the merchant's session (no database read for them).
SESSIONLESS = ("/webhooks/", "/static/", "/healthz", "/readyz", "/metrics")

Page = Callable[[Request], Awaitable[Response]]


class LoadServerSession:
    """Find the server session named by the cookie (`request.state.server_session`, or None).

    A cookie whose session ended (logout, password change, timeout) loses its id here, so the
    request is treated as signed out, GET or POST alike.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(SESSIONLESS):
            cookie = scope["session"]
            session_id = cookie.get(SESSION_ID)
            found = None
            if isinstance(session_id, str):
                context: UiContext = scope["app"].state.ui
                found = await run_in_threadpool(
                    sessions.find,
                    context.store,
                    session_id,
                    context.session_policy,
                    context.clock.now(),
                )
                if found is None:
                    cookie.pop(SESSION_ID, None)
            scope.setdefault("state", {})["server_session"] = found
        await self.app(scope, receive, send)


def server_session(request: Request) -> sessions.ServerSession | None:
    found: sessions.ServerSession | None = getattr(request.state, "server_session", None)
    return found


def csrf_token(request: Request) -> str:
    """The token every form of this page must send back: the server session's once signed in,
    else an anonymous one kept in the signed cookie (for the login and setup forms)."""
    signed_in = server_session(request)
    if signed_in is not None:
        return signed_in.csrf_token
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The request's form, once its CSRF token matched the session's; 403 otherwise."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    signed_in = server_session(request)
    expected = signed_in.csrf_token if signed_in is not None else request.session.get("csrf")
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


def client_host(request: Request) -> str | None:
    """The client's address (uvicorn takes it from X-Forwarded-For when the request comes from a
    trusted proxy: 127.0.0.1 unless FORWARDED_ALLOW_IPS says otherwise)."""
    return request.client.host if request.client else None


async def sign_in(request: Request, user: accounts.User) -> None:
    """Start a new server session for `user` in this browser, replacing any it had."""
    context = ui(request)
    previous = request.session.get(SESSION_ID)
    if isinstance(previous, str):
        await run_in_threadpool(sessions.end, context.store, previous)
    session_id, started = await run_in_threadpool(
        lambda: sessions.start(
            context.store,
            user.id,
            context.session_policy,
            context.clock.now(),
            user_agent=request.headers.get("user-agent"),
            ip=client_host(request),
        )
    )
    # A fresh cookie: an anonymous CSRF token or anything else planted before login is gone.
    request.session.clear()
    request.session[SESSION_ID] = session_id
    request.state.server_session = started


def login_required(page: Page) -> Page:
    """Load the signed-in user and their connections, or send the browser to the login page."""

    @wraps(page)
    async def guarded(request: Request) -> Response:
        context = ui(request)
        signed_in = server_session(request)
        user = None
        if signed_in is not None:
            user = await run_in_threadpool(accounts.get_user, context.store, signed_in.user_id)
        if user is None:
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
    if server_session(request) is not None:
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
    context = ui(request)
    attempt = await run_in_threadpool(context.login_throttle.attempt, email, client_host(request))
    if attempt.refused:
        page = {"next": target, "email": email, "error": attempt.refusal()}
        return refused(render(request, "login.html", page, status_code=429), attempt)
    user = await run_in_threadpool(accounts.authenticate, context.store, email, password)
    if user is None:
        return render(
            request,
            "login.html",
            {"next": target, "email": email, "error": "Wrong email or password."},
            status_code=401,
        )
    await run_in_threadpool(context.login_throttle.succeeded, attempt)
    await sign_in(request, user)
    return RedirectResponse(target, status_code=303)


def refused(response: Response, attempt: Attempt) -> Response:
    """A throttled attempt's answer, with Retry-After in seconds."""
    assert attempt.retry_after is not None
    response.headers["retry-after"] = str(max(1, math.ceil(attempt.retry_after.total_seconds())))
    return response


async def logout(request: Request) -> Response:
    signed_in = server_session(request)
    if signed_in is not None:
        # The token stops a cross-site page from logging the merchant out; a session that has
        # already ended (timeout, password change) has nothing left to protect.
        await checked_form(request)
        session_id = request.session.get(SESSION_ID)
        assert isinstance(session_id, str)  # the server session was found by it
        await run_in_threadpool(sessions.end, ui(request).store, session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
