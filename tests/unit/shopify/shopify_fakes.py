"""Fakes for the Shopify client unit tests: scripted endpoint, fake monotonic time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx


class FakeTime:
    """Monotonic time that moves only when someone sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a suspension point, as a real sleep is


def cost(requested: int = 10, available: float = 1990, maximum: float = 2000, rate: float = 100):
    """An `extensions.cost` block as Shopify sends it."""
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": requested,
        "throttleStatus": {
            "maximumAvailable": maximum,
            "currentlyAvailable": available,
            "restoreRate": rate,
        },
    }


Reply = httpx.Response | Exception | Callable[[dict[str, Any]], httpx.Response]


class ScriptedShopify:
    """A stand-in Shopify endpoint over httpx.MockTransport: answers from a script, in order,
    and keeps every request it saw (URL, headers, decoded JSON body)."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def then(self, *replies: Reply) -> ScriptedShopify:
        self.script.extend(replies)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        if not self.script:
            raise AssertionError(f"unscripted request {body.get('operationName')}")
        reply = self.script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(body)
        return reply

    @property
    def operations(self) -> list[str]:
        return [b["operationName"] for b in self.bodies]


def ok(data: dict[str, Any], requested: int = 10, available: float = 1990) -> httpx.Response:
    return httpx.Response(
        200, json={"data": data, "extensions": {"cost": cost(requested, available)}}
    )


def throttled(requested: int = 10, available: float = 3, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {**cost(requested, available), "actualQueryCost": None}},
        },
    )
