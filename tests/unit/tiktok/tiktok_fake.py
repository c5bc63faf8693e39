"""A small stateful fake of TikTok Shop to put behind `httpx.MockTransport` in unit tests.

The fake checks what the real platform checks first (signature, token) and answers
with the `{code, message, request_id, data}` envelope; each test queues the replies it
needs per endpoint and reads back the requests the client actually sent.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from shopbridge.tiktok import signing

API = "https://open-api.tiktokglobalshop.com"
AUTH = "https://auth.tiktok-shops.com"
APP_KEY = "29a39d"
APP_SECRET = "e59af819cc"
CIPHER = "ROW_cipher-1"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW_UNIX = int(NOW.timestamp())

Reply = dict[str, Any] | httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def envelope(
    code: int = 0, message: str = "Success", data: Any = None, status: int = 200
) -> httpx.Response:
    body = {"code": code, "message": message, "request_id": "req-1", "data": data}
    return httpx.Response(status, json=body)


def query_of(request: httpx.Request) -> dict[str, str]:
    """The decoded query, as the server sees it (and as TikTok signs it)."""
    return dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))


class FakeTikTok:
    """Checks sign and token like TikTok, then answers with whatever the test queued."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.valid_tokens = {"access-1"}
        self.refresh_tokens = {"refresh-1"}
        self.refreshes = 0
        self._replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)

    def queue(self, method: str, path: str, *replies: Reply) -> None:
        self._replies[(method, path)].extend(replies)

    def expire(self, token: str = "access-1") -> None:
        self.valid_tokens.discard(token)

    def sent(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == httpx.URL(AUTH).host:
            return self._auth(request)
        query = query_of(request)
        expected = signing.sign(APP_SECRET, request.url.path, query, request.content)
        if query.get("sign") != expected:
            return envelope(106001, "Invalid sign.", status=401)
        if request.headers.get("x-tts-access-token") not in self.valid_tokens:
            return envelope(
                105002,
                "Expired credentials. The x-tts-access-token header has expired.",
                status=401,
            )
        return self._next(request)

    def _next(self, request: httpx.Request) -> httpx.Response:
        queue = self._replies[(request.method, request.url.path)]
        if not queue:
            return envelope(36009009, f"no reply queued for {request.url.path}", status=404)
        reply = queue.popleft()
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        if callable(reply):
            return reply(request)
        return envelope(data=reply)

    def _auth(self, request: httpx.Request) -> httpx.Response:
        query = query_of(request)
        if query.get("app_secret") != APP_SECRET:
            return envelope(36004004, "invalid app_secret", status=400)
        if request.url.path == "/api/v2/token/refresh":
            if query.get("refresh_token") not in self.refresh_tokens:
                return envelope(36004005, "invalid refresh_token", status=400)
            self.refreshes += 1
        elif query.get("auth_code") != "code-1":
            return envelope(36004006, "invalid auth_code", status=400)
        n = len(self.valid_tokens) + self.refreshes + 1
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.valid_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return envelope(
            data={
                "access_token": access,
                "access_token_expire_in": NOW_UNIX + 7 * 86400,
                "refresh_token": refresh,
                "refresh_token_expire_in": NOW_UNIX + 365 * 86400,
                "open_id": 7010736057180325637,
                "seller_name": "Demo Shop",
                "seller_base_region": "US",
                "user_type": 0,
                "granted_scopes": ["seller.order.info"],
            }
        )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)
