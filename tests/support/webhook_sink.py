"""A loopback webhook endpoint for tests: records every POST to its path, answers `status`."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


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
    """Serve `app()` (e.g. with BackgroundServer) and point a sandbox at `url`."""

    path: str = "/webhooks"
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

        return Starlette(routes=[Route(self.path, hook, methods=["POST"])])

    def reset(self) -> None:
        with self._lock:
            self.status = 200
            self.received.clear()

    def with_header(self, name: str, value: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.headers.get(name) == value]
