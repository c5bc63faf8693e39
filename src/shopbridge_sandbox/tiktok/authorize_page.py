"""The seller's side of the authorization link (tiktok_shop_api_wave2.md §1.1, §1.2).

    GET  /open/authorize?service_id=…&state=…   the approval page: the seller's shops, each
                                                 with a (checked) box, Authorize and Reject
    POST /open/authorize                         Authorize: 302 to the app's redirect URL with
                                                 ?code=…&state=…; Reject: ?code=null&
                                                 error=access_denied&state=…

The sandbox has one seller, who owns every shop in it. `state` is passed back only when the
link carried one (an authorization started from the App Store has none, §1.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from shopbridge_sandbox.tiktok.models import App, Shop
from shopbridge_sandbox.tiktok.state import Marketplace

AUTHORIZE_PATH = "/open/authorize"
# §1.2: the overview says `auth_denied`, the scope changelog `access_denied`; either is a denial.
DENIED = "access_denied"


def authorize_routes(market: Marketplace) -> list[Route]:
    def usable_app(service_id: str) -> App | str:
        """The app the link is for, or why the page cannot offer to authorize it."""
        app = market.grants.app_by_service_id(service_id)
        if app is None:
            return f"No app has service_id {service_id!r}"
        if not app.redirect_url:
            return (
                f"App {app.app_key} has no redirect URL: set one with "
                f'POST /_sandbox/apps/{app.app_key} {{"redirect_url": …}} or --redirect-url'
            )
        if not market.shops:
            return "The seller has no shop to authorize"
        return app

    async def page(request: Request) -> Response:
        with market.lock:
            app = usable_app(request.query_params.get("service_id", ""))
            if isinstance(app, str):
                return _error_page(app)
            shops = list(market.shops.values())
            return HTMLResponse(_approval_page(app, shops, request.query_params.get("state")))

    async def decide(request: Request) -> Response:
        form = await request.form()
        with market.lock:
            app = usable_app(str(form.get("service_id", "")))
            if isinstance(app, str):
                return _error_page(app)
            if form.get("decision") == "reject":
                params = {"code": "null", "error": DENIED}
            else:
                chosen = [str(v) for v in form.getlist("shop_id")]
                unknown = [s for s in chosen if s not in market.shops]
                if not chosen or unknown:
                    return _error_page(f"Choose at least one of your shops (not {unknown})")
                params = {"code": market.grants.issue_code(app.app_key, chosen)}
        state = form.get("state")
        if state is not None:
            params["state"] = str(state)
        assert app.redirect_url is not None  # usable_app checked it
        return RedirectResponse(_with_query(app.redirect_url, params), status_code=302)

    return [
        Route(AUTHORIZE_PATH, page, methods=["GET"]),
        Route(AUTHORIZE_PATH, decide, methods=["POST"]),
    ]


def authorization_link(app: App, state: str | None = None) -> str:
    """The path of the link Partner Center's "Copy authorization link" gives (§1.1)."""
    link = f"{AUTHORIZE_PATH}?service_id={app.service_id}"
    return link if state is None else _with_query(link, {"state": state})


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><main>{body}</main></body></html>"
    )


def _error_page(reason: str) -> HTMLResponse:
    body = f"<h1>Cannot authorize the app</h1><p>{escape(reason)}</p>"
    return HTMLResponse(_page("Cannot authorize the app", body), status_code=400)


def _approval_page(app: App, shops: Sequence[Shop], state: str | None) -> str:
    boxes = "".join(
        f'<li><label><input type="checkbox" name="shop_id" value="{escape(s.id)}" checked> '
        f"{escape(s.name)} ({escape(s.region)}, {escape(s.id)})</label></li>"
        for s in shops
    )
    hidden = f'<input type="hidden" name="service_id" value="{escape(app.service_id)}">'
    if state is not None:
        hidden += f'<input type="hidden" name="state" value="{escape(state)}">'
    body = (
        f"<h1>Authorize app {escape(app.app_key)}</h1>"
        "<p>The app asks to access these shops:</p>"
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}<ul>{boxes}</ul>'
        '<button type="submit" name="decision" value="authorize">Authorize</button> '
        '<button type="submit" name="decision" value="reject">Reject</button></form>'
    )
    return _page(f"Authorize app {app.app_key}", body)
