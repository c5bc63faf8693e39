"""A tiny signed HTTP client and a webhook receiver, for talking to the sandbox over loopback.

Deliberately independent of shopbridge's own TikTok client: these tests pin the sandbox to
the wire format in tiktok_shop_api.md, not to another implementation of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from shopbridge.clock import Clock
from shopbridge.tiktok.signing import sign
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox
from support.webhook_sink import WebhookSink

_UNSET: Any = object()
# httpx builds an SSL context per client (~0.15 s of certificate loading) even for plain http;
# sharing one keeps a client per test cheap. Nothing here ever leaves 127.0.0.1.
LOOPBACK_TLS = ssl.create_default_context()


# A fresh connection per request: on a reused one, BackgroundServer's accepted sockets lack
# TCP_NODELAY (its listening socket has proto 0, so asyncio skips nodelay), and Nagle plus
# delayed ACK add ~40 ms to every keep-alive response; a new connection costs ~2 ms.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


def loopback_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10.0, verify=LOOPBACK_TLS, limits=NO_KEEPALIVE)


class SandboxHost:
    """One loopback server for the whole session, serving whichever sandbox a test put in.

    Starting uvicorn per test costs ~0.4 s; this keeps the directory fast. Its lifespan does
    what `TikTokSandbox.app`'s own does (timers and webhook pushes in the background); one
    test serves `sandbox.app` directly to cover that lifespan itself.
    """

    def __init__(self) -> None:
        self.sandbox: TikTokSandbox | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        sandbox = self.sandbox
        assert sandbox is not None, "no sandbox is being served"
        await sandbox.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        stop = asyncio.Event()
        task: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                task = asyncio.create_task(self._background(stop))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop.set()
                if task is not None:
                    await task
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _background(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sandbox = self.sandbox
            if sandbox is not None:
                sandbox.apply_timers()
                await sandbox.pump_webhooks(wait=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)


class SignedClient:
    """Signs each request like §1.3: sorted query, path, exact body bytes, app secret."""

    def __init__(self, base_url: str, shop: ShopCredentials, clock: Clock) -> None:
        self.shop = shop
        self.clock = clock
        self.http = loopback_client(base_url)

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        *,
        cipher: str | None = _UNSET,
        token: str | None = _UNSET,
        timestamp: int | None = None,
        secret: str | None = None,
        tamper: bytes | None = None,
        shop: ShopCredentials | None = None,
    ) -> httpx.Response:
        creds = shop or self.shop
        params = {
            "app_key": creds.app_key,
            "timestamp": str(timestamp or int(self.clock.now().timestamp())),
            **(query or {}),
        }
        cipher = creds.shop_cipher if cipher is _UNSET else cipher
        if cipher:
            params["shop_cipher"] = cipher
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        params["sign"] = sign(secret or creds.app_secret, path, params, raw)
        headers = {"content-type": "application/json"}
        token = creds.access_token if token is _UNSET else token
        if token:
            headers["x-tts-access-token"] = token
        return self.http.request(
            method, path, params=params, content=tamper or raw, headers=headers
        )

    def ok(self, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The `data` of a call that must succeed."""
        response = self.request(method, path, *args, **kwargs)
        envelope = response.json()
        assert response.status_code == 200, envelope
        assert envelope["code"] == 0, envelope
        return envelope["data"]  # type: ignore[no-any-return]

    def error(self, method: str, path: str, *args: Any, **kwargs: Any) -> tuple[int, int, str]:
        """(HTTP status, envelope code, message) of a call that must fail."""
        response = self.request(method, path, *args, **kwargs)
        envelope = response.json()
        assert envelope["code"] != 0, envelope
        assert envelope["data"] is None
        assert envelope["request_id"]
        return response.status_code, envelope["code"], envelope["message"]


@dataclass
class WebhookReceiver(WebhookSink):
    """Records every webhook POSTed to /webhooks/tiktok."""

    path: str = "/webhooks/tiktok"

    def of_type(self, topic: int) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json for r in self.received if r.json["type"] == topic]
