"""The shopbridge ASGI app: health, webhook receivers, and the merchant UI."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopbridge import metrics
from shopbridge.clock import Clock
from shopbridge.config import Settings
from shopbridge.engine.bridge import Bridge
from shopbridge.store import Store
from shopbridge.web import account, alerts, auth, connect, orders, settings, setup, stock
from shopbridge.web.context import HERE, UiContext, build_templates, render
from shopbridge.web.health import PATHS as HEALTH_PATHS
from shopbridge.web.health import Health, ReadinessLimits
from shopbridge.web.sessions import SessionPolicy
from shopbridge.web.throttle import LoginThrottle
from shopbridge.web.webhooks import shopify_receiver, tiktok_receiver

log = structlog.get_logger("shopbridge.web")


def create_app(
    store: Store,
    bridge: Bridge,
    *,
    wake: Callable[[], None] = lambda: None,
    clock: Clock | None = None,
    secret_key: str | None = None,
    secure_cookies: bool | None = None,
    on_connection_changed: Callable[[int], None] = lambda connection_id: None,
    config: Settings | None = None,
) -> Starlette:
    """The whole web app on one store (built by `bootstrap()`, which owns the wiring).

    `wake` nudges the worker after something was queued (a webhook, a merchant's answer);
    `secret_key` signs session cookies (default: derived from SHOPBRIDGE_SECRET_KEY, else random
    per process: cookies of an earlier process are then refused); `secure_cookies` adds the
    Secure flag to cookies and HSTS to every response (default: `config.cookies_secure()`, on
    when public_url is https); `on_connection_changed(id)` runs after a merchant changed a
    connection's settings (a worker uses it to drop its cached policy); `config` holds the
    service's settings (public_url, the platform apps, the session timeouts).
    """
    clock = clock or store.clock
    config = config or Settings()
    session_key = secret_key or _session_key()
    secure = config.cookies_secure() if secure_cookies is None else secure_cookies
    session_policy = SessionPolicy.from_settings(config, clock)

    health = Health(store, ReadinessLimits.from_settings(config), config.metrics_token)

    app = Starlette(
        routes=[
            *health.routes(),
            Route(
                "/webhooks/tiktok",
                counted_webhooks("tiktok", tiktok_receiver(store, wake, config.webhook_max_bytes)),
                methods=["POST"],
            ),
            Route(
                "/webhooks/shopify",
                counted_webhooks(
                    "shopify",
                    shopify_receiver(
                        store,
                        wake,
                        config.webhook_max_bytes,
                        timedelta(hours=config.webhook_replay_hours),
                    ),
                ),
                methods=["POST"],
            ),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            *auth.routes,
            *account.routes,
            *orders.routes,
            *settings.routes,
            *stock.routes,
            *connect.routes,
            *setup.routes,
            *alerts.routes(),
        ],
        middleware=[
            *([Middleware(StrictTransportSecurity)] if secure else []),
            Middleware(PageSecurityHeaders),
            # The signed cookie holds the server session's id and flashes, never the user.
            Middleware(
                SessionMiddleware,
                secret_key=session_key,
                session_cookie=auth.SESSION_COOKIE,
                max_age=math.ceil(config.session_max_hours * 3600),
                same_site="lax",
                https_only=secure,
            ),
            Middleware(auth.LoadServerSession),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.ui = UiContext(
        store=store,
        clock=clock,
        bridge=bridge,
        wake=wake,
        on_connection_changed=on_connection_changed,
        templates=build_templates(),
        login_throttle=LoginThrottle(store, clock),
        settings=config,
        setup_code=setup.setup_code(session_key),
        session_policy=session_policy,
    )
    return app


# A receiver's answer says what became of the request (webhooks.py): 200 stored (or a duplicate),
# 401 bad signature, 413 too large, 400 unreadable. Counting here keeps the receivers unaware
# of metrics; a malformed body is answered 200, so that one is counted inside the receiver.
_WEBHOOK_REFUSALS = {401: "signature", 413: "too_large", 400: "unreadable"}


def counted_webhooks(
    platform: str, receiver: Callable[[Request], object]
) -> Callable[[Request], Awaitable[Response]]:
    """`receiver`, counting each answer in `shopbridge_webhooks_received/refused_total`."""

    async def receive(request: Request) -> Response:
        response = await receiver(request)  # type: ignore[misc]  # receivers are async
        assert isinstance(response, Response)
        if response.status_code == 200:
            metrics.webhook_received(platform)
        elif response.status_code in _WEBHOOK_REFUSALS:
            metrics.webhook_refused(platform, _WEBHOOK_REFUSALS[response.status_code])
        return response

    return receive


class StrictTransportSecurity:
    """HSTS on every response (pages, webhooks, health): behind https, a browser that once came
    here never again sends a request, or the session cookie, over plain http."""

    HEADER = (b"strict-transport-security", b"max-age=31536000")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.HEADER]
            await send(message)

        await self.app(scope, receive, send_with_header)


class PageSecurityHeaders:
    """Browser protections on every page (not on webhook or health answers).

    Framing is refused so that the one-click Approve and Retry buttons cannot be clickjacked;
    scripts and styles come only from this site (htmx is vendored, never from a CDN).
    """

    HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/webhooks/", *HEALTH_PATHS)):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _session_key() -> str:
    configured = os.environ.get("SHOPBRIDGE_SECRET_KEY", "").split(",")[0].strip()
    if configured:
        # A key of its own for sessions, derived so the Fernet key itself never signs cookies.
        return hmac.new(configured.encode(), b"shopbridge session", hashlib.sha256).hexdigest()
    log.warning("no SHOPBRIDGE_SECRET_KEY: sessions end when this process stops")
    return secrets.token_urlsafe(32)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(("/webhooks", "/static", *HEALTH_PATHS)):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    titles = {404: "Not found", 403: "Not allowed", 400: "Cannot do that"}
    # A 404 never says whether the order or connection exists (ids must not be probeable).
    message = "There is no such page here." if exc.status_code == 404 else exc.detail
    response = render(
        request,
        "error.html",
        {"title": titles.get(exc.status_code, "Something went wrong"), "message": message},
        status_code=exc.status_code,
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response
