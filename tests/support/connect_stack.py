"""Both sandboxes and shopbridge's web app on loopback, wired as an operator configures a real
installation (public_url, the platform apps' credentials): for the connect flows' tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shopbridge.bootstrap import Shopbridge, bootstrap
from shopbridge.clock import SystemClock
from shopbridge.config import Settings
from shopbridge.store import SecretBox
from shopbridge_sandbox.rehearsal import free_port
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify.cli import demo_sandbox
from shopbridge_sandbox.shopify.sandbox import ShopifySandbox
from shopbridge_sandbox.tiktok.cli import seeded_sandbox
from shopbridge_sandbox.tiktok.sandbox import TikTokSandbox

SESSION_KEY = "connect-stack"


@dataclass
class ConnectStack:
    service: Shopbridge
    app_url: str
    shopify: ShopifySandbox
    shopify_url: str
    tiktok: TikTokSandbox
    tiktok_url: str
    secret_box: SecretBox
    shopify_server: BackgroundServer

    async def run_workers(
        self, count: int, seconds: float, act: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """`count` workers, each with its own platform clients and renewal identity (as
        separate `shopbridge worker` processes), running for `seconds` after `act()`."""
        services = [
            bootstrap(self.service.settings, clock=SystemClock(), secret_box=self.secret_box)
            for _ in range(count)
        ]
        stop = asyncio.Event()
        workers = [
            s.worker(worker_id=f"w{n}", reconcile_every=None) for n, s in enumerate(services)
        ]
        tasks = [asyncio.create_task(w.run(stop, idle_seconds=0.05)) for w in workers]
        try:
            if act is not None:
                await act()
            await asyncio.sleep(seconds)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for service in services:
                await service.aclose()


@contextmanager
def connect_stack(db_url: str, secret_box: SecretBox, **settings_: str) -> Iterator[ConnectStack]:
    """The stack; `settings_` override shopbridge's settings (e.g. shopify_grant)."""
    clock = SystemClock()
    shopify, tiktok = demo_sandbox(clock), seeded_sandbox(clock)
    shopify_server = BackgroundServer(shopify.app).start()
    tiktok_server = BackgroundServer(tiktok.app).start()
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    tiktok_app = tiktok.app_settings()
    tiktok.configure_app(redirect_url=f"{app_url}/tiktok/callback")
    shopify_app = shopify.app_settings()
    settings = Settings(
        database_url=db_url,
        public_url=app_url,
        shopify_client_id=shopify_app["client_id"],
        shopify_client_secret=shopify_app["client_secret"],
        shopify_api_url=shopify_server.base_url,
        tiktok_app_key=tiktok_app["app_key"],
        tiktok_app_secret=tiktok_app["app_secret"],
        tiktok_service_id=tiktok_app["service_id"],
        tiktok_authorize_url=f"{tiktok_server.base_url}/open/authorize",
        tiktok_api_url=tiktok_server.base_url,
        tiktok_auth_url=tiktok_server.base_url,
        **settings_,  # type: ignore[arg-type]
    )
    service = bootstrap(settings, clock=clock, secret_box=secret_box)
    web = BackgroundServer(service.web(wake=lambda: None, secret_key=SESSION_KEY), port=port)
    web.start()
    try:
        yield ConnectStack(
            service,
            app_url,
            shopify,
            shopify_server.base_url,
            tiktok,
            tiktok_server.base_url,
            secret_box,
            shopify_server,
        )
    finally:
        web.stop()  # its clients lived on the server's own loop, gone with it
        service.store.engine.dispose()
        shopify_server.stop()
        tiktok_server.stop()
