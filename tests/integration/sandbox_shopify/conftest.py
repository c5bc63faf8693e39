from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec

from .shopify_http import Admin, SandboxHost, WebhookSink


class StoppedMonotonic:
    """Monotonic time for the leaky bucket that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def monotonic() -> StoppedMonotonic:
    return StoppedMonotonic()


@pytest.fixture
def sandbox(clock: ManualClock, monotonic: StoppedMonotonic) -> ShopifySandbox:
    # The 2026-07 schema is built once per process (cached), so this is cheap after the first.
    return ShopifySandbox(clock=clock, faults=Faults(seed=1), monotonic=monotonic)


@pytest.fixture
def store(sandbox: ShopifySandbox) -> StoreCredentials:
    return sandbox.add_shop("demo", plan="standard")


@pytest.fixture
def tee(sandbox: ShopifySandbox, store: StoreCredentials) -> dict[str, Any]:
    """SKU TEE-RED-L at 19.99 with 10 available (policy DENY); its variant and item ids."""
    product = sandbox.add_product(
        store.name,
        title="Tee",
        variants=[VariantSpec(sku="TEE-RED-L", price="19.99", available=10)],
    )
    ids: dict[str, Any] = product["variants"]["TEE-RED-L"]
    return ids


@pytest.fixture(scope="session")
def host() -> Iterator[tuple[SandboxHost, BackgroundServer]]:
    shim = SandboxHost()
    with BackgroundServer(shim) as running:
        yield shim, running


@pytest.fixture
def server(
    host: tuple[SandboxHost, BackgroundServer], sandbox: ShopifySandbox
) -> Iterator[BackgroundServer]:
    """The loopback server, serving this test's sandbox."""
    shim, running = host
    with shim.serving(sandbox):
        yield running


@pytest.fixture
def admin(server: BackgroundServer, store: StoreCredentials) -> Iterator[Admin]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield Admin(http, store.access_token)


@pytest.fixture(scope="session")
def sink_server() -> Iterator[tuple[WebhookSink, BackgroundServer]]:
    sink = WebhookSink()
    with BackgroundServer(sink.app()) as running:
        sink.url = f"{running.base_url}/webhooks/shopify"
        yield sink, running


@pytest.fixture
def sink(sink_server: tuple[WebhookSink, BackgroundServer]) -> Iterator[WebhookSink]:
    """A webhook endpoint on loopback that answers 200 unless told otherwise."""
    hooks, _ = sink_server
    hooks.reset()
    yield hooks
    hooks.reset()
