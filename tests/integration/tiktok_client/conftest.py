"""The TikTok sandbox on a loopback port and a `TikTokClient` speaking to it over real HTTP.

Both share one `ManualClock`, so the client's `timestamp` stays inside the sandbox's window
and a test can move TikTok's calendar (token expiry, the remorse hour) in one step. The
sandbox, its server and the clock live for a module; each test works in a shop of its own,
only moves the clock forward, and has any fault knob it turned reset afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.models import TokenSet
from shopbridge.tiktok.pacing import Pacer
from shopbridge_sandbox.faults import Faults, FaultSettings
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def sandbox(clock: ManualClock) -> TikTokSandbox:
    """One sandbox per module (starting a server costs ~0.4 s); tests keep to their own shop."""
    return TikTokSandbox(clock=clock, faults=Faults(seed=7))


@pytest.fixture(autouse=True)
def _no_faults_left_behind(sandbox: TikTokSandbox) -> Iterator[None]:
    yield
    sandbox.faults.settings.update(FaultSettings().as_dict())


@pytest.fixture(scope="module")
def server(sandbox: TikTokSandbox) -> Iterator[BackgroundServer]:
    with BackgroundServer(sandbox.app) as running:
        yield running


@pytest.fixture
def shop(sandbox: TikTokSandbox) -> ShopCredentials:
    """A new shop for each test: its orders, tokens and rate-limit budget are its own."""
    return sandbox.add_shop(name="Demo US", region="US")


@pytest.fixture
def product_id(sandbox: TikTokSandbox, shop: ShopCredentials) -> str:
    return sandbox.add_product(
        shop.shop_id,
        title="Tee",
        skus=[
            SkuSpec(seller_sku="TEE-RED-L", price="19.99", quantity=10),
            SkuSpec(seller_sku="TEE-BLUE-M", price="17.50", quantity=5),
        ],
    )


@pytest.fixture
def refreshed_tokens() -> list[TokenSet]:
    return []


@pytest.fixture
async def make_client(
    server: BackgroundServer,
    shop: ShopCredentials,
    clock: ManualClock,
    refreshed_tokens: list[TokenSet],
) -> AsyncIterator[Callable[..., TikTokClient]]:
    """Builds clients for `shop` on the sandbox (both hosts on its URL); closes them all."""
    clients: list[TikTokClient] = []

    async def remember(tokens: TokenSet) -> None:
        refreshed_tokens.append(tokens)

    def build(credentials: ShopCredentials | None = None, **overrides: Any) -> TikTokClient:
        creds = credentials or shop
        settings: dict[str, Any] = {
            "app_key": creds.app_key,
            "app_secret": creds.app_secret,
            "access_token": creds.access_token,
            "refresh_token": creds.refresh_token,
            "shop_cipher": creds.shop_cipher,
            "clock": clock,
            "api_base_url": server.base_url,
            "auth_base_url": server.base_url,
            "on_tokens_refreshed": remember,
            "pacer": Pacer(),
            "timeout": 5.0,
            "backoff_seconds": 0.02,
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
