"""The OAuth pages and endpoint a merchant's browser and an app's server talk to.

    GET  /admin/oauth/authorize     the approval page ("<app> wants to access <shop>")
    POST /admin/oauth/authorize     the Install button: 302 to redirect_uri?code&hmac&host&shop&
                                    state&timestamp
    POST /admin/oauth/access_token  code exchange, refresh, client credentials (JSON or form)

One loopback address serves every shop, so the shop is the one a `<name>.myshopify.com` Host
header names, else the form's or request's `shop` field, else the only shop there is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from shopbridge_sandbox.shopify import oauth
from shopbridge_sandbox.shopify.model import Shop
from shopbridge_sandbox.shopify.tokens import TokenRefused
from shopbridge_sandbox.shopify.world import SandboxError

if TYPE_CHECKING:
    from shopbridge_sandbox.shopify.sandbox import ShopifySandbox

AUTHORIZE_PATH = "/admin/oauth/authorize"


@dataclass(frozen=True)
class AuthorizeRequest:
    """The query an app's redirect carries (§1.2 step 2), echoed by the page's form."""

    client_id: str
    scope: str
    redirect_uri: str
    state: str | None
    grant_options: str
    shop: str  # chosen on the page when the Host header does not say

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> AuthorizeRequest:
        state = values.get("state")
        return cls(
            client_id=str(values.get("client_id", "")),
            scope=str(values.get("scope", "")),
            redirect_uri=str(values.get("redirect_uri", "")),
            state=None if state is None else str(state),
            grant_options=str(values.get("grant_options[]", "")),
            shop=str(values.get("shop", "")).removesuffix(".myshopify.com"),
        )

    def hidden_fields(self) -> dict[str, str]:
        values = {
            "client_id": self.client_id,
            "scope": self.scope,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "grant_options[]": self.grant_options,
        }
        return {k: v for k, v in values.items() if v is not None}


def oauth_routes(sandbox: ShopifySandbox) -> list[Route]:
    world = sandbox.world

    def chosen_shop(request: Request, asked: AuthorizeRequest) -> Shop | None:
        named = world.shop_named_by_host(request.headers.get("host"))
        if named is not None:
            return named
        if asked.shop:
            return world.shops.get(asked.shop)
        return next(iter(world.shops.values())) if len(world.shops) == 1 else None

    async def authorize_page(request: Request) -> Response:
        asked = AuthorizeRequest.read(request.query_params)
        with world.lock:
            problem = oauth.refusal(
                sandbox.partner_app, asked.client_id, asked.redirect_uri, asked.grant_options
            )
            if problem is None and not world.shops:
                problem = "The sandbox has no shop to install the app on"
            if problem is not None:
                return _error_page(problem)
            shop = chosen_shop(request, asked)
            choices = [] if shop is not None else sorted(world.shops)
            return HTMLResponse(_approval_page(sandbox.partner_app.name, asked, shop, choices))

    async def install(request: Request) -> Response:
        asked = AuthorizeRequest.read(await request.form())
        app = sandbox.partner_app
        with world.lock:
            problem = oauth.refusal(app, asked.client_id, asked.redirect_uri, asked.grant_options)
            shop = chosen_shop(request, asked)
            if problem is None and shop is None:
                problem = f"Choose a shop: {asked.shop or 'none'} is not one of the sandbox's"
            if problem is not None:
                return _error_page(problem)
            assert shop is not None
            target = oauth.approve_install(
                world, app, shop, asked.scope, asked.redirect_uri, asked.state
            )
        return RedirectResponse(target, status_code=302)

    async def access_token(request: Request) -> Response:
        try:
            fields = await _token_fields(request)
        except ValueError as error:
            return JSONResponse(TokenRefused("invalid_request", str(error)).body(), 400)
        with world.lock:
            try:
                host_shop = world.shop_named_by_host(request.headers.get("host"))
                body = oauth.token_request(world, sandbox.partner_app, fields, host_shop)
            except TokenRefused as refused:
                return JSONResponse(refused.body(), status_code=400)
            except SandboxError as error:
                return JSONResponse(TokenRefused("invalid_request", str(error)).body(), 400)
        return JSONResponse(body)

    return [
        Route(AUTHORIZE_PATH, authorize_page, methods=["GET"]),
        Route(AUTHORIZE_PATH, install, methods=["POST"]),
        Route("/admin/oauth/access_token", access_token, methods=["POST"]),
    ]


async def _token_fields(request: Request) -> dict[str, str]:
    """The request's fields, JSON or form-encoded (Shopify's docs show forms, its libraries
    send JSON, §1.1), over any in the query string."""
    fields: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        fields.update(body)
    else:
        fields.update((await request.form()).items())
    return {k: _text(v) for k, v in fields.items()}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><main>{body}</main></body></html>"
    )


def _error_page(reason: str) -> HTMLResponse:
    body = f"<h1>Cannot install the app</h1><p>{escape(reason)}</p>"
    return HTMLResponse(_page("Cannot install the app", body), status_code=400)


def _approval_page(
    app_name: str, asked: AuthorizeRequest, shop: Shop | None, choices: list[str]
) -> str:
    scopes = ", ".join(s.strip() for s in asked.scope.split(",") if s.strip()) or "none"
    where = shop.domain if shop is not None else "your store"
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in asked.hidden_fields().items()
    )
    if shop is not None:
        hidden += f'<input type="hidden" name="shop" value="{escape(shop.name)}">'
    picker = ""
    if choices:
        options = "".join(
            f'<option value="{escape(n)}">{escape(n)}.myshopify.com</option>' for n in choices
        )
        picker = f'<p><label>Shop <select name="shop">{options}</select></label></p>'
    body = (
        f"<h1>Install {escape(app_name)}</h1>"
        f"<p>{escape(app_name)} wants to access {escape(where)}: scopes {escape(scopes)}</p>"
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}{picker}'
        '<button type="submit">Install</button></form>'
    )
    return _page(f"Install {app_name}", body)
