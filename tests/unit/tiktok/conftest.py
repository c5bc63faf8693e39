"""Fixtures: the fake TikTok Shop and clients wired to it through httpx.MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from tiktok_fake import APP_KEY, APP_SECRET, CIPHER, NOW, FakeTikTok

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.models import TokenSet
from shopbridge.tiktok.pacing import Pacer


@pytest.fixture
def fake() -> FakeTikTok:
    return FakeTikTok()


@pytest.fixture
def refreshed_tokens() -> list[TokenSet]:
    return []


@pytest.fixture
async def make_client(
    fake: FakeTikTok, refreshed_tokens: list[TokenSet]
) -> AsyncIterator[Callable[..., TikTokClient]]:
    """Builds clients wired to the fake (no real waits, no shared pacer); closes them all."""
    clients: list[TikTokClient] = []

    async def remember(tokens: TokenSet) -> None:
        refreshed_tokens.append(tokens)

    def build(**overrides: Any) -> TikTokClient:
        settings: dict[str, Any] = {
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "access_token": "access-1",
            "refresh_token": "refresh-1",
            "shop_cipher": CIPHER,
            "clock": ManualClock(NOW),
            "transport": httpx.MockTransport(fake.handle),
            "on_tokens_refreshed": remember,
            "pacer": Pacer(rate=10_000),
            "backoff_seconds": 0.001,
            "throttled_backoff_seconds": 0.001,
        }
        settings.update(overrides)
        client = TikTokClient(**settings)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: Callable[..., TikTokClient]) -> TikTokClient:
    return make_client()
