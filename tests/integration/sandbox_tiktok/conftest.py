from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SandboxHost, SignedClient, WebhookReceiver


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> TikTokSandbox:
    return TikTokSandbox(clock=clock, faults=Faults(seed=1))


@pytest.fixture(scope="session")
def host() -> Iterator[tuple[SandboxHost, BackgroundServer]]:
    shim = SandboxHost()
    with BackgroundServer(shim) as running:
        yield shim, running


@pytest.fixture
def server(
    host: tuple[SandboxHost, BackgroundServer], sandbox: TikTokSandbox
) -> Iterator[BackgroundServer]:
    """The loopback server, serving this test's sandbox."""
    shim, running = host
    shim.sandbox = sandbox
    yield running
    shim.sandbox = None


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[WebhookReceiver, BackgroundServer]]:
    hooks = WebhookReceiver()
    with BackgroundServer(hooks.app()) as running:
        hooks.url = f"{running.base_url}/webhooks/tiktok"
        yield hooks, running


@pytest.fixture
def receiver(
    receiver_server: tuple[WebhookReceiver, BackgroundServer],
) -> Iterator[WebhookReceiver]:
    """A webhook endpoint on loopback that answers 200 unless told otherwise."""
    hooks, _ = receiver_server
    hooks.reset()
    yield hooks
    hooks.reset()


def _stock(sandbox: TikTokSandbox, shop: ShopCredentials) -> None:
    sandbox.add_product(
        shop.shop_id,
        "Classic Tee",
        [SkuSpec("TEE-RED-L", "19.99", 10, "Red, L"), SkuSpec("TEE-BLU-M", "21.50", 5, "Blue, M")],
    )


@pytest.fixture
def shop(sandbox: TikTokSandbox) -> ShopCredentials:
    """A US shop (ON_HOLD flow) with TEE-RED-L x10 and TEE-BLU-M x5."""
    creds = sandbox.add_shop(name="Demo US", region="US")
    _stock(sandbox, creds)
    return creds


@pytest.fixture
def uk_shop(sandbox: TikTokSandbox) -> ShopCredentials:
    creds = sandbox.add_shop(name="Demo UK", region="GB")
    _stock(sandbox, creds)
    return creds


@pytest.fixture
def api(
    server: BackgroundServer, shop: ShopCredentials, clock: ManualClock
) -> Iterator[SignedClient]:
    client = SignedClient(server.base_url, shop, clock)
    yield client
    client.close()
