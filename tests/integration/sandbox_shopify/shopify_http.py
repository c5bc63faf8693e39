"""Loopback helpers for the Shopify sandbox tests: an Admin GraphQL client and a webhook sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from shopbridge_sandbox.shopify import ShopifySandbox
from support.webhook_sink import Received
from support.webhook_sink import WebhookSink as BaseSink

GRAPHQL_PATH = "/admin/api/2026-07/graphql.json"


@dataclass
class Admin:
    """Posts Admin GraphQL requests with the shop's access token, over real HTTP."""

    http: httpx.Client
    token: str

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(
            GRAPHQL_PATH,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.token},
        )

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a request that must succeed without GraphQL errors."""
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class WebhookSink(BaseSink):
    """Records every webhook POSTed to /webhooks/shopify."""

    path: str = "/webhooks/shopify"

    def topic(self, topic: str) -> list[Received]:
        return self.with_header("x-shopify-topic", topic)


class SandboxHost:
    """One loopback server for the whole session, serving whichever sandbox a test put in.

    Starting uvicorn per test costs ~0.3 s. While a sandbox is served, its own
    `run_in_background` runs on the server's loop, exactly as under the app's lifespan;
    one test serves `sandbox.app` directly to cover that lifespan itself.
    """

    def __init__(self) -> None:
        self.sandbox: ShopifySandbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self._loop = asyncio.get_running_loop()
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        sandbox = self.sandbox
        assert sandbox is not None, "no sandbox is being served"
        await sandbox.app(scope, receive, send)

    @contextlib.contextmanager
    def serving(self, sandbox: ShopifySandbox) -> Iterator[None]:
        assert self._loop is not None, "the host server has not started"
        stop = asyncio.Event()
        background = asyncio.run_coroutine_threadsafe(sandbox.run_in_background(stop), self._loop)
        self.sandbox = sandbox
        try:
            yield
        finally:
            self.sandbox = None
            self._loop.call_soon_threadsafe(stop.set)
            background.result(timeout=10)
