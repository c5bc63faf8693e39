"""Build what the worker needs for each stored connection: platform gateways and its policy.

Workers cache each connection's context (its HTTP clients keep their connections and pacing),
and check the connection's settings version on use, at most once a second: a change saved by
the UI or the CLI in any process reaches every worker within seconds.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import httpx

from shopbridge.clock import Clock
from shopbridge.credentials import Tokens
from shopbridge.domain.policy import Policy
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import PermanentError
from shopbridge.engine.shopify_gateway import ShopifyGateway
from shopbridge.engine.tiktok_gateway import TikTokGateway
from shopbridge.engine.tokens import Renew, StoredTokens, renew_shopify, renew_tiktok
from shopbridge.shopify.client import ShopifyClient
from shopbridge.store import ConnectionRecord, Store
from shopbridge.store.store import Platform
from shopbridge.tiktok.client import DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL, TikTokClient

VERSION_CHECK_SECONDS = 1.0  # real seconds between checks of one connection's settings version


def policy_for(record: ConnectionRecord) -> Policy:
    return Policy.from_minutes(
        holdback_minutes=record.holdback_minutes,
        unpaid_window_minutes=record.unpaid_window_minutes,
        region=record.tiktok_region or "US",
        create_after_holdback=record.create_after_holdback,
        restock_returns=record.restock_returns,
    )


@dataclass
class _Cached:
    version: int
    context: ConnectionContext
    checked_at: float  # time.monotonic() of the last version check


class Runtime:
    """Connection contexts built on first use, rebuilt when their settings version moves."""

    def __init__(
        self, store: Store, clock: Clock, *, check_every: float = VERSION_CHECK_SECONDS
    ) -> None:
        self.store = store
        self.clock = clock
        self.check_every = check_every
        self._cached: dict[int, _Cached] = {}
        self._clients: dict[int, tuple[TikTokClient, ShopifyClient]] = {}
        self._retired: list[TikTokClient | ShopifyClient] = []
        self._refreshing = threading.Lock()
        # Who renews tokens, in the database's renewal leases: this process.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._auth_http = httpx.AsyncClient(timeout=15.0)

    async def context(self, connection_id: int) -> ConnectionContext:
        if self._stale(connection_id):
            await asyncio.to_thread(self._refresh, connection_id)
        return self._cached[connection_id].context

    def policy(self, connection_id: int) -> Policy:
        if self._stale(connection_id):
            self._refresh(connection_id)
        return self._cached[connection_id].context.policy

    def forget(self, connection_id: int) -> None:
        """Check the settings version on next use (this process just changed them)."""
        cached = self._cached.get(connection_id)
        if cached is not None:
            cached.checked_at = float("-inf")

    async def aclose(self) -> None:
        for tiktok, shopify in self._clients.values():
            await tiktok.aclose()
            await shopify.aclose()
        for client in self._retired:
            await client.aclose()
        await self._auth_http.aclose()
        self._clients.clear()
        self._retired.clear()
        self._cached.clear()

    def _stale(self, connection_id: int) -> bool:
        cached = self._cached.get(connection_id)
        return cached is None or time.monotonic() - cached.checked_at >= self.check_every

    def _refresh(self, connection_id: int) -> None:
        """Sync (runs in a thread from `context`): one small read, a rebuild only on change."""
        with self._refreshing:
            version = self.store.connection_version(connection_id)
            cached = self._cached.get(connection_id)
            if cached is not None and cached.version == version:
                cached.checked_at = time.monotonic()
                return
            record = self.store.get_connection(connection_id)
            self._cached[connection_id] = _Cached(
                record.settings_version, self._build(record), time.monotonic()
            )

    def _tokens(
        self, record: ConnectionRecord, platform: Platform, renew: Renew | None
    ) -> StoredTokens:
        return StoredTokens(self.store, self.clock, record.id, platform, renew, owner=self.owner)

    def _build(self, record: ConnectionRecord) -> ConnectionContext:
        missing = [
            name
            for name in (
                "tiktok_app_key",
                "tiktok_app_secret",
                "tiktok_access_token",
                "tiktok_shop_cipher",
                "shopify_domain",
                "shopify_access_token",
            )
            if not getattr(record, name)
        ]
        if missing:
            raise PermanentError(
                f"connection {record.name!r} is missing {', '.join(missing)}: "
                "connect it in Settings or with `shopbridge connect`"
            )

        async def renew(tokens: Tokens) -> Tokens:
            return await renew_tiktok(tiktok, tokens)

        tiktok = TikTokClient(
            app_key=record.tiktok_app_key or "",
            app_secret=record.tiktok_app_secret or "",
            clock=self.clock,
            shop_cipher=record.tiktok_shop_cipher,
            api_base_url=record.tiktok_api_base_url or DEFAULT_API_BASE_URL,
            auth_base_url=record.tiktok_auth_base_url or DEFAULT_AUTH_BASE_URL,
            tokens=self._tokens(record, "tiktok", renew),
        )
        shopify = ShopifyClient(
            record.shopify_domain or "",
            self._tokens(record, "shopify", renew_shopify(record, self._auth_http, self.clock)),
            base_url=record.shopify_api_base_url,
        )
        connection_id = record.id
        old = self._clients.pop(connection_id, None)
        if old is not None:
            # An item may still be using them; they are closed when the runtime is.
            self._retired.extend(old)
        self._clients[connection_id] = (tiktok, shopify)
        return ConnectionContext(
            connection_id,
            TikTokGateway(tiktok),
            ShopifyGateway(
                shopify,
                location_id=record.shopify_location_id,
                inventory_behaviour=record.inventory_behaviour,
                sku_links=self.store.stock.links(record.id),
            ),
            policy_for(record),
            self.clock,
            dict(record.carrier_mapping),
        )
