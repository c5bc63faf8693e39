"""Loopback helpers for the Shopify sandbox tests: an Admin GraphQL client and a webhook sink."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookSink:
    """Records every webhook POSTed to it; answers `status` (200 unless a test says otherwise)."""

    status: int = 200
    url: str = ""
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                self.received.append(Received(body, dict(request.headers)))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/webhooks/shopify", hook, methods=["POST"])])

    def reset(self) -> None:
        with self._lock:
            self.status = 200
            self.received.clear()

    def topic(self, topic: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.headers.get("x-shopify-topic") == topic]
