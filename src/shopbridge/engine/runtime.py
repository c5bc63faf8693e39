"""Build what the worker needs for each stored connection: platform gateways and its policy."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from shopbridge.clock import Clock
from shopbridge.domain.policy import Policy
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import PermanentError
from shopbridge.engine.shopify_gateway import ShopifyGateway
from shopbridge.engine.tiktok_gateway import TikTokGateway
from shopbridge.shopify.client import ShopifyClient
from shopbridge.store import ConnectionRecord, Store
from shopbridge.tiktok.client import DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL, TikTokClient
from shopbridge.tiktok.models import TokenSet


def policy_for(record: ConnectionRecord) -> Policy:
    return Policy.from_minutes(
        holdback_minutes=record.holdback_minutes,
        unpaid_window_minutes=record.unpaid_window_minutes,
        region=record.tiktok_region or "US",
    )


class Runtime:
    """Connection contexts built on first use and kept, with their HTTP clients, until closed."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._contexts: dict[int, ConnectionContext] = {}
        self._clients: dict[int, tuple[TikTokClient, ShopifyClient]] = {}
        self._retired: list[TikTokClient | ShopifyClient] = []

    def context(self, connection_id: int) -> ConnectionContext:
        if connection_id not in self._contexts:
            self._contexts[connection_id] = self._build(self.store.get_connection(connection_id))
        return self._contexts[connection_id]

    def forget(self, connection_id: int) -> None:
        """Drop a cached context (after its settings changed); its clients close on `aclose`."""
        self._contexts.pop(connection_id, None)

    async def aclose(self) -> None:
        for tiktok, shopify in self._clients.values():
            await tiktok.aclose()
            await shopify.aclose()
        for client in self._retired:
            await client.aclose()
        self._clients.clear()
        self._retired.clear()
        self._contexts.clear()

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
                "set them with `shopbridge connect`"
            )
        connection_id = record.id

        async def save_tokens(tokens: TokenSet) -> None:
            await run_in_threadpool(
                self.store.update_connection,
                connection_id,
                tiktok_access_token=tokens.access_token,
                tiktok_refresh_token=tokens.refresh_token,
                tiktok_token_expires_at=tokens.access_token_expires_at,
            )

        tiktok = TikTokClient(
            app_key=record.tiktok_app_key or "",
            app_secret=record.tiktok_app_secret or "",
            clock=self.clock,
            access_token=record.tiktok_access_token or "",
            refresh_token=record.tiktok_refresh_token or "",
            shop_cipher=record.tiktok_shop_cipher,
            api_base_url=record.tiktok_api_base_url or DEFAULT_API_BASE_URL,
            auth_base_url=record.tiktok_auth_base_url or DEFAULT_AUTH_BASE_URL,
            on_tokens_refreshed=save_tokens,
        )
        shopify = ShopifyClient(
            record.shopify_domain or "",
            record.shopify_access_token or "",
            base_url=record.shopify_api_base_url,
        )
        old = self._clients.pop(connection_id, None)
        if old is not None:
            self._retired.extend(old)
        self._clients[connection_id] = (tiktok, shopify)
        return ConnectionContext(
            connection_id,
            TikTokGateway(tiktok),
            ShopifyGateway(
                shopify,
                location_id=record.shopify_location_id,
                inventory_behaviour=record.inventory_behaviour,
            ),
            policy_for(record),
            self.clock,
            dict(record.carrier_mapping),
        )
