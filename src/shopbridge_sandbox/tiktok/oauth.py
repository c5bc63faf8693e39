"""The auth host's token endpoints (§5): unsigned GETs carrying app_key and app_secret.

`GET /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code` and
`GET /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token`.
The `*_expire_in` fields are absolute Unix timestamps, not durations. A refresh rotates both
tokens (see `grants.py`). Served by the same app as the API (the real one lives on
auth.tiktok-shops.com).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.models import Grant
from shopbridge_sandbox.tiktok.orders import unix
from shopbridge_sandbox.tiktok.state import Marketplace

# Sandbox choice, UNCONFIRMED: the auth host's error codes are not in the fact sheet.
INVALID_GRANT = 36004004
INVALID_APP = 36004001
GRANTED_SCOPES = ["seller.order.info", "seller.fulfillment.basic", "seller.product.basic"]


def token_routes(market: Marketplace) -> list[Route]:
    def answer(code: int, message: str, data: dict[str, Any] | None) -> JSONResponse:
        request_id = f"{market.clock.now():%Y%m%d%H%M%S}{market.ids.hex(20).upper()}"
        body = {"code": code, "message": message, "request_id": request_id, "data": data}
        return JSONResponse(body, status_code=200 if code == 0 else 400)

    def checked_app(request: Request) -> str | None:
        app_key = request.query_params.get("app_key", "")
        app = market.grants.apps.get(app_key)
        if app is None or app.app_secret != request.query_params.get("app_secret"):
            return None
        return app_key

    def grant_view(grant: Grant) -> dict[str, Any]:
        shop = market.shop(grant.shop_id)  # the seller's first shop names the seller
        return {
            "access_token": grant.access_token,
            "access_token_expire_in": unix(grant.access_expires_at),
            "refresh_token": grant.refresh_token,
            "refresh_token_expire_in": unix(grant.refresh_expires_at),
            "open_id": shop.id[::-1],
            "seller_name": shop.name,
            "seller_base_region": shop.region,
            "user_type": 0,
            "granted_scopes": GRANTED_SCOPES,
        }

    async def get_token(request: Request) -> JSONResponse:
        app_key = checked_app(request)
        if app_key is None:
            return answer(INVALID_APP, "Invalid app_key or app_secret", None)
        if request.query_params.get("grant_type") != "authorized_code":
            return answer(INVALID_GRANT, "grant_type must be authorized_code", None)
        try:
            grant = market.grants.redeem_code(app_key, request.query_params.get("auth_code", ""))
        except (NotFound, SandboxError) as exc:
            return answer(INVALID_GRANT, str(exc), None)
        return answer(0, "success", grant_view(grant))

    async def refresh_token(request: Request) -> JSONResponse:
        app_key = checked_app(request)
        if app_key is None:
            return answer(INVALID_APP, "Invalid app_key or app_secret", None)
        if request.query_params.get("grant_type") != "refresh_token":
            return answer(INVALID_GRANT, "grant_type must be refresh_token", None)
        try:
            grant = market.grants.refresh(app_key, request.query_params.get("refresh_token", ""))
        except (NotFound, SandboxError) as exc:
            return answer(INVALID_GRANT, str(exc), None)
        return answer(0, "success", grant_view(grant))

    return [
        Route("/api/v2/token/get", get_token, methods=["GET"]),
        Route("/api/v2/token/refresh", refresh_token, methods=["GET"]),
    ]
