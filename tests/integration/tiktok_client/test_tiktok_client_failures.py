"""Error paths against the TikTok sandbox: refusals, expiry, throttling, faults, webhooks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokPermanent, TikTokRetryable
from shopbridge.tiktok.models import OrderStatus
from shopbridge.tiktok.pacing import Pacer
from shopbridge.tiktok.signing import verify_webhook
from shopbridge.tiktok.webhooks import delivery_key, parse_notification
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, remembering the status of every response."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_wrong_app_secret_is_permanent_106001(
    make_client: Callable[..., TikTokClient],
) -> None:
    """A request signed with the wrong secret is refused as invalid sign, not retried."""
    transport = CountingTransport()
    client = make_client(app_secret="wrong-secret", transport=transport)
    with pytest.raises(TikTokPermanent) as caught:
        await client.get_warehouses()
    assert caught.value.code == 106001
    assert len(transport.statuses) == 1


async def test_cipher_of_another_shop_is_permanent_101000(
    sandbox: TikTokSandbox, make_client: Callable[..., TikTokClient]
) -> None:
    """This shop's token with another shop's cipher is a token/shop mismatch."""
    other = sandbox.add_shop(name="Other", region="US")
    client = make_client(shop_cipher=other.shop_cipher)
    with pytest.raises(TikTokPermanent) as caught:
        await client.get_warehouses()
    assert caught.value.code == 101000


async def test_expired_token_is_refreshed_and_the_call_succeeds(
    clock: ManualClock,
    make_client: Callable[..., TikTokClient],
    refreshed_tokens: list[object],
) -> None:
    """Eight days on, the access token has expired; the client refreshes and carries on."""
    transport = CountingTransport()
    client = make_client(transport=transport)
    old_token = client.access_token
    clock.advance(timedelta(days=8))
    assert await client.get_warehouses()
    assert len(refreshed_tokens) == 1
    assert client.access_token != old_token
    assert transport.statuses == [401, 200, 200]  # refused, refresh on the auth host, retried


async def test_rate_limit_429s_are_retried_until_every_call_succeeds(
    make_client: Callable[..., TikTokClient],
) -> None:
    """80 simultaneous calls without client pacing hit the 50/s limit; retries absorb it."""
    transport = CountingTransport()
    client = make_client(transport=transport, pacer=Pacer(rate=10_000))
    results = await asyncio.gather(*(client.get_warehouses() for _ in range(80)))
    assert all(results)
    assert transport.statuses.count(429) >= 30
    assert transport.statuses.count(200) == 80


async def test_shared_pacing_keeps_two_clients_of_a_shop_under_the_limit(
    make_client: Callable[..., TikTokClient],
) -> None:
    """Two clients of one shop sharing a pacer send 60 calls at once without a single 429."""
    pacer = Pacer()
    transports = [CountingTransport(), CountingTransport()]
    clients = [make_client(transport=t, pacer=pacer) for t in transports]
    await asyncio.gather(*(clients[n % 2].get_warehouses() for n in range(60)))
    statuses = transports[0].statuses + transports[1].statuses
    assert statuses == [200] * 60


def _seed_with_one_fault_then_a_pass(rate: float) -> int:
    """A Faults seed whose first draw injects a fault at `rate` and whose second does not."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() < rate <= draws.random():
            return seed
    raise AssertionError("no such seed")


async def test_injected_5xx_is_retried(make_client: Callable[..., TikTokClient]) -> None:
    """A 5xx from the platform is retried and the call then succeeds."""
    sandbox_faults_seed = _seed_with_one_fault_then_a_pass(0.5)
    clock = ManualClock()
    sandbox = TikTokSandbox(clock=clock, faults=Faults(seed=sandbox_faults_seed))
    shop = sandbox.add_shop(name="Flaky", region="US")
    sandbox.faults.settings.update({"api_error_rate": 0.5})
    transport = CountingTransport()
    with BackgroundServer(sandbox.app) as server:
        client = make_client(shop, api_base_url=server.base_url, clock=clock, transport=transport)
        assert await client.get_warehouses()
    assert transport.statuses[0] in (500, 503)
    assert transport.statuses[1] == 200


async def test_persistent_5xx_ends_in_retryable(
    sandbox: TikTokSandbox, make_client: Callable[..., TikTokClient]
) -> None:
    """When every attempt fails with 5xx, the third failure is raised as TikTokRetryable."""
    sandbox.faults.settings.update({"api_error_rate": 1.0})
    transport = CountingTransport()
    client = make_client(transport=transport)
    with pytest.raises(TikTokRetryable) as caught:
        await client.get_warehouses()
    assert caught.value.code == 36009003
    assert len(transport.statuses) == 3


async def test_timeouts_end_in_retryable(
    sandbox: TikTokSandbox, make_client: Callable[..., TikTokClient]
) -> None:
    """A platform that answers too late is given up on after three timed-out attempts."""
    sandbox.faults.settings.update({"api_timeout_rate": 1.0, "api_timeout_seconds": 0.5})
    client = make_client(timeout=0.1)
    with pytest.raises(TikTokRetryable, match="Timeout"):
        await client.get_warehouses()


@pytest.fixture
def receiver() -> Iterator[tuple[BackgroundServer, list[tuple[bytes, str]]]]:
    """A loopback webhook endpoint that keeps every raw body with its Authorization header."""
    received: list[tuple[bytes, str]] = []

    async def hook(request: Request) -> Response:
        received.append((await request.body(), request.headers.get("authorization", "")))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/webhooks/tiktok", hook, methods=["POST"])])
    with BackgroundServer(app) as server:
        yield server, received


@pytest.mark.usefixtures("product_id", "server")
async def test_sandbox_webhooks_verify_and_parse(
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    receiver: tuple[BackgroundServer, list[tuple[bytes, str]]],
) -> None:
    """Every pushed notification verifies, parses, has a unique key; CANCEL reads as CANCELLED."""
    hook_server, received = receiver
    sandbox.set_webhook_url(shop.shop_id, f"{hook_server.base_url}/webhooks/tiktok")
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    sandbox.buyer_cancel(order_id)
    await sandbox.tick()
    for _ in range(200):
        if len(received) >= 3:
            break
        await asyncio.sleep(0.02)
    notifications = [parse_notification(body) for body, _ in received]
    assert all(verify_webhook(shop.app_key, shop.app_secret, b, auth) for b, auth in received)
    assert len({delivery_key(b, n) for (b, _), n in zip(received, notifications, strict=True)}) == (
        len(received)
    )
    statuses = [n.order_status_change.order_status for n in notifications if n.order_status_change]
    # Pushed several at once, the notifications may arrive in any order (as TikTok's may).
    assert sorted(statuses) == sorted([OrderStatus.UNPAID, OrderStatus.CANCELLED])
    cancellations = [n.cancellation_status_change for n in notifications if n.type == 11]
    assert cancellations
    assert cancellations[0] is not None
    assert cancellations[0].order_id == order_id
