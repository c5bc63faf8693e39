"""The shopbridge ASGI app."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopbridge import __version__
from shopbridge.store import Store
from shopbridge.web.webhooks import shopify_receiver, tiktok_receiver


def create_app(store: Store, wake: Callable[[], None] = lambda: None) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/webhooks/tiktok", tiktok_receiver(store, wake), methods=["POST"]),
            Route("/webhooks/shopify", shopify_receiver(store, wake), methods=["POST"]),
        ]
    )
