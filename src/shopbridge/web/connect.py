"""Connecting real shops from the web UI: a new connection, then "Connect Shopify" and
"Connect TikTok Shop", each a redirect to the platform's approval page and back.

- Shopify (shopify_api_wave2.md §1.2): the merchant names their shop; shopbridge sends them to
  `/admin/oauth/authorize` with a one-use `state` kept in the signed session; the callback's
  HMAC (hex, sorted parameters, client secret), its timestamp (90 s), the `shop` host
  (`*.myshopify.com`, the one asked for) and the state are checked before the code is exchanged
  for an expiring offline token. An app of the merchant's own organization uses the
  client-credentials grant instead: no redirect. Installs started in Shopify's admin arrive at
  `/shopify/install` with the same HMAC.
- TikTok Shop (tiktok_shop_api_wave2.md §1): the seller authorization page with `service_id`
  and `state`; the callback's code is exchanged, the authorized shops listed (one is picked).

Every refusal is a page that says what to do; nothing is saved before the platform agreed.
When both sides are connected the connection becomes active, its webhooks are registered and
held work resumes.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.engine import connect as flows
from shopbridge.engine.connect import ConnectError
from shopbridge.engine.runtime import Runtime
from shopbridge.engine.subscriptions import addresses, ensure_webhooks
from shopbridge.shopify import oauth
from shopbridge.store import ConnectionRecord
from shopbridge.web.accounts import grant
from shopbridge.web.auth import checked_form, connection_of, flash, login_required
from shopbridge.web.context import render, ui

log = structlog.get_logger("shopbridge.web")

STATE_SECONDS = 600  # how long an approval may take before its state is refused
SHOPIFY_CALLBACK = "/shopify/callback"
TIKTOK_CALLBACK = "/tiktok/callback"


def callback_urls(public_url: str) -> dict[str, str]:
    base = public_url.rstrip("/")
    return {"shopify": base + SHOPIFY_CALLBACK, "tiktok": base + TIKTOK_CALLBACK}


def platform_addresses(public_url: str) -> dict[str, Any]:
    """What the operator pastes into the platforms' app dashboards (none without public_url)."""
    if not public_url:
        return {}
    return {"webhooks": addresses(public_url), "callbacks": callback_urls(public_url)}


# -- pages -------------------------------------------------------------------------------------


@login_required
async def new_connection_page(request: Request) -> Response:
    return render(request, "connection_new.html", {"error": None})


@login_required
async def new_connection(request: Request) -> Response:
    form = await checked_form(request)
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200:
        return render(
            request,
            "connection_new.html",
            {"error": "Give the connection a name (up to 200 characters)."},
            status_code=400,
        )
    store = ui(request).store
    connection_id = await run_in_threadpool(store.add_connection, name=name, status="setting_up")
    await run_in_threadpool(grant, store, request.state.user.id, connection_id)
    return RedirectResponse(f"/connections/{connection_id}/connect", status_code=303)


@login_required
async def connect_page(request: Request) -> Response:
    return await _connect_page(request, connection_of(request))


async def _connect_page(
    request: Request, connection: ConnectionRecord, status_code: int = 200
) -> Response:
    settings = ui(request).settings
    missing = [
        name
        for name, value in (
            ("public_url", settings.public_url),
            ("shopify_client_id", settings.shopify_client_id),
            ("shopify_client_secret", settings.shopify_client_secret),
            ("tiktok_app_key", settings.tiktok_app_key),
            ("tiktok_app_secret", settings.tiktok_app_secret),
            ("tiktok_service_id", settings.tiktok_service_id),
        )
        if not value
    ]
    return render(
        request,
        "connect.html",
        {
            "connection": connection,
            "current_connection": connection,
            "missing": missing,
            "addresses": platform_addresses(settings.public_url),
            "client_credentials": settings.shopify_grant == "client_credentials",
            "active": "connect",
        },
        status_code=status_code,
    )


def _on_to(request: Request, platform: str, target: str) -> Response:
    """A page that moves on to the platform's approval page at once. Not a redirect: the
    pages' Content-Security-Policy (form-action 'self') stops a form post from being
    redirected to another site, as it should."""
    return render(request, "redirecting.html", {"platform": platform, "target": target})


def _refused(request: Request, message: str, status_code: int = 400) -> Response:
    return render(
        request,
        "error.html",
        {"title": "The connection was not made", "message": message},
        status_code=status_code,
    )


# -- Shopify -----------------------------------------------------------------------------------


@login_required
async def start_shopify(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    context = ui(request)
    settings = context.settings
    shop = oauth.shop_domain(str(form.get("shop", "")))
    if shop is None:
        flash(request, "Enter your Shopify store's address, like my-store.myshopify.com.", "error")
        return RedirectResponse(f"/connections/{connection.id}/connect", status_code=303)
    if not (settings.shopify_client_id and settings.shopify_client_secret):
        return _refused(
            request,
            "shopbridge has no Shopify app yet: set shopify_client_id and shopify_client_secret "
            "(see the README, Connect your real shops), then try again.",
        )
    if settings.shopify_grant == "client_credentials":
        return await _attach_shopify(request, connection.id, shop)
    return _to_shopify(request, connection.id, shop)


def _to_shopify(request: Request, connection_id: int, shop: str) -> Response:
    settings = ui(request).settings
    if not settings.public_url:
        return _refused(
            request,
            "Set public_url (the https address where Shopify reaches shopbridge) first: "
            "Shopify sends the merchant back to it.",
        )
    state = _remember_state(request, "shopify", connection_id, shop=shop)
    base_url = settings.shopify_api_url or f"https://{shop}"
    target = oauth.authorize_url(
        base_url,
        settings.shopify_client_id,
        callback_urls(settings.public_url)["shopify"],
        state,
    )
    return _on_to(request, "Shopify", target)


async def _attach_shopify(
    request: Request, connection_id: int, shop: str, code: str | None = None
) -> Response:
    """Get a token (the install's `code` exchanged, or else the client-credentials grant) and
    attach the store to the connection."""
    context = ui(request)
    settings = context.settings
    app = (
        settings.shopify_api_url or f"https://{shop}",
        settings.shopify_client_id,
        settings.shopify_client_secret,
    )
    try:
        async with httpx.AsyncClient(timeout=15.0) as http:
            if code is None:
                tokens = await oauth.client_credentials(http, *app, context.clock.now())
            else:
                tokens = await oauth.exchange_code(http, *app, code, context.clock.now())
        grant = "client_credentials" if code is None else "authorization_code"
        await flows.connect_shopify(context.store, settings, connection_id, shop, tokens, grant)
    except (oauth.ShopifyOAuthError, ConnectError) as error:
        return _refused(request, str(error))
    return await _connected(request, connection_id, f"Shopify store {shop} connected.")


@login_required
async def shopify_install(request: Request) -> Response:
    """An install started in Shopify's admin: verified, then on to the approval page."""
    context = ui(request)
    settings = context.settings
    params = list(request.query_params.multi_items())
    shop = oauth.shop_domain(request.query_params.get("shop", ""))
    if shop is None or not oauth.query_signed(params, settings.shopify_client_secret):
        return _refused(request, "This install link is not signed by Shopify.", 401)
    if not oauth.timestamp_fresh(request.query_params.get("timestamp"), context.clock.now()):
        return _refused(
            request,
            "This install link is too old. Open shopbridge and press Connect Shopify instead.",
        )
    mine: list[ConnectionRecord] = request.state.connections
    chosen = next((c for c in mine if c.shopify_domain == shop), None) or next(
        (c for c in mine if c.status == "setting_up" and not c.shopify_domain), None
    )
    if chosen is None:
        store = context.store
        connection_id = await run_in_threadpool(
            store.add_connection, name=shop.removesuffix(".myshopify.com"), status="setting_up"
        )
        await run_in_threadpool(grant, store, request.state.user.id, connection_id)
    else:
        connection_id = chosen.id
    return _to_shopify(request, connection_id, shop)


@login_required
async def shopify_callback(request: Request) -> Response:
    context = ui(request)
    settings = context.settings
    query = request.query_params
    remembered = _take_state(request, "shopify", query.get("state", ""))
    if remembered is None:
        return _refused(
            request,
            "This approval is unknown, already used or expired. Press Connect Shopify again.",
        )
    shop = oauth.shop_domain(query.get("shop", ""))
    if not oauth.query_signed(list(query.multi_items()), settings.shopify_client_secret):
        return _refused(
            request, "The answer from Shopify is not signed with the app's secret.", 401
        )
    if shop is None or shop != remembered["shop"]:
        return _refused(request, "Shopify answered for another store than the one asked for.")
    if not oauth.timestamp_fresh(query.get("timestamp"), context.clock.now()):
        return _refused(request, "Shopify's answer is too old. Press Connect Shopify again.")
    return await _attach_shopify(
        request, int(remembered["connection_id"]), shop, query.get("code", "")
    )


# -- TikTok Shop -------------------------------------------------------------------------------


@login_required
async def start_tiktok(request: Request) -> Response:
    connection = connection_of(request)
    await checked_form(request)
    settings = ui(request).settings
    if not (settings.tiktok_app_key and settings.tiktok_app_secret and settings.tiktok_service_id):
        return _refused(
            request,
            "shopbridge has no TikTok Shop app yet: set tiktok_app_key, tiktok_app_secret and "
            "tiktok_service_id (see the README, Connect your real shops), then try again.",
        )
    state = _remember_state(request, "tiktok", connection.id)
    query = urlencode({"service_id": settings.tiktok_service_id, "state": state})
    return _on_to(request, "TikTok Shop", f"{settings.tiktok_authorize_url}?{query}")


@login_required
async def tiktok_callback(request: Request) -> Response:
    context = ui(request)
    query = request.query_params
    remembered = _take_state(request, "tiktok", query.get("state", ""))
    if remembered is None:
        return _refused(
            request,
            "This authorization is unknown, already used or expired. Press Connect TikTok Shop "
            "again.",
        )
    connection_id = int(remembered["connection_id"])
    code = query.get("code", "")
    if query.get("error") or not code or code == "null":
        flash(request, "The seller did not authorize shopbridge on TikTok Shop.", "error")
        return RedirectResponse(f"/connections/{connection_id}/connect", status_code=303)
    try:
        shops = await flows.authorize_tiktok(
            context.store, context.settings, context.clock, connection_id, code
        )
    except ConnectError as error:
        return _refused(request, str(error))
    if len(shops) == 1:
        return await _chose(request, connection_id, shops[0].id, shops)
    return RedirectResponse(f"/connections/{connection_id}/connect/tiktok/shop", status_code=303)


@login_required
async def tiktok_shop_page(request: Request) -> Response:
    connection = connection_of(request)
    context = ui(request)
    try:
        shops = await flows.tiktok_shops(
            context.store, context.settings, context.clock, connection.id
        )
    except ConnectError as error:
        return _refused(request, str(error))
    return render(
        request,
        "tiktok_shops.html",
        {"connection": connection, "current_connection": connection, "shops": shops},
    )


@login_required
async def choose_tiktok_shop(request: Request) -> Response:
    connection = connection_of(request)
    form = await checked_form(request)
    context = ui(request)
    try:
        shops = await flows.tiktok_shops(
            context.store, context.settings, context.clock, connection.id
        )
    except ConnectError as error:
        return _refused(request, str(error))
    return await _chose(request, connection.id, str(form.get("shop_id", "")), shops)


async def _chose(request: Request, connection_id: int, shop_id: str, shops: list[Any]) -> Response:
    shop = next((s for s in shops if s.id == shop_id), None)
    if shop is None:
        return _refused(request, "That shop is not among the ones the seller authorized.")
    try:
        await run_in_threadpool(flows.choose_tiktok_shop, ui(request).store, connection_id, shop)
    except ConnectError as error:
        return _refused(request, str(error))
    return await _connected(request, connection_id, f"TikTok shop {shop.name} connected.")


# -- both --------------------------------------------------------------------------------------


async def _connected(request: Request, connection_id: int, message: str) -> Response:
    """One side is connected: when both are, start the connection and wire its webhooks."""
    context = ui(request)
    store = context.store
    context.on_connection_changed(connection_id)
    active = await run_in_threadpool(flows.activate_if_ready, store, connection_id)
    if active:
        message += " Both platforms are connected: orders flow now."
        if context.settings.public_url:
            # Clients of this request only: a web process keeps no platform connections open.
            runtime = Runtime(store, context.clock)
            try:
                ctx = await runtime.context(connection_id)
                found = await ensure_webhooks(
                    store, ctx, context.settings.public_url, context.clock.now()
                )
                failed = [r for r in found if r.action == "failed"]
                if failed:
                    message += f" {len(failed)} webhook topics were not registered: see Settings."
            except Exception as error:  # the next reconciliation pass tries again
                log.warning("webhook registration failed", error=str(error))
                message += " Webhooks will be registered by the next reconciliation pass."
            finally:
                await runtime.aclose()
        context.wake()
    flash(request, message, "ok")
    return RedirectResponse(f"/connections/{connection_id}/connect", status_code=303)


def _remember_state(request: Request, platform: str, connection_id: int, **extra: str) -> str:
    """A one-use nonce for this approval, kept in the signed session with its deadline."""
    state = secrets.token_urlsafe(24)
    request.session[f"oauth_{platform}"] = {
        "state": state,
        "connection_id": connection_id,
        "until": ui(request).clock.now().timestamp() + STATE_SECONDS,
        **extra,
    }
    return state


def _take_state(request: Request, platform: str, given: str) -> dict[str, Any] | None:
    """The remembered approval if `given` is its state and it is still valid; used once."""
    remembered = request.session.pop(f"oauth_{platform}", None)
    if not isinstance(remembered, dict) or not given:
        return None
    if not hmac.compare_digest(str(remembered.get("state", "")), given):
        return None
    if float(remembered.get("until", 0)) < ui(request).clock.now().timestamp():
        return None
    return remembered


routes = [
    Route("/connections/new", new_connection_page, methods=["GET"]),
    Route("/connections/new", new_connection, methods=["POST"]),
    Route("/connections/{connection_id:int}/connect", connect_page, methods=["GET"]),
    Route("/connections/{connection_id:int}/connect/shopify", start_shopify, methods=["POST"]),
    Route("/connections/{connection_id:int}/connect/tiktok", start_tiktok, methods=["POST"]),
    Route(
        "/connections/{connection_id:int}/connect/tiktok/shop", tiktok_shop_page, methods=["GET"]
    ),
    Route(
        "/connections/{connection_id:int}/connect/tiktok/shop",
        choose_tiktok_shop,
        methods=["POST"],
    ),
    Route("/shopify/install", shopify_install, methods=["GET"]),
    Route(SHOPIFY_CALLBACK, shopify_callback, methods=["GET"]),
    Route(TIKTOK_CALLBACK, tiktok_callback, methods=["GET"]),
]
