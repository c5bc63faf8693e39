"""Platform tokens kept in the database and renewed before they expire, by one process at a time.

Every process that talks to a platform for a connection holds a `StoredTokens` (the clients'
`TokenSource`). It hands out the token it last read; a few minutes before that token expires, or
when the platform refuses it, it reads the database again (another process may have renewed it
already) and, if the token is still the old one, takes the connection's renewal lease and renews
it. A renewal rotates the refresh token, so two processes racing would lose one: the lease makes
the others wait for the one renewal and then read its result. A renewer killed mid-way leaves a
lease that lapses; the next one renews with the stored refresh token (Shopify keeps the previous
refresh token valid until its replacement is used).

A renewal the platform refuses (a revoked or unknown refresh token, an uninstalled app) is
`AccessLost`: the connection needs reconnecting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import structlog

from shopbridge.clock import Clock, clock_span
from shopbridge.credentials import Tokens
from shopbridge.engine.ports import AccessLost, RetryableError
from shopbridge.shopify import oauth
from shopbridge.store import ConnectionRecord, Store
from shopbridge.store.store import Platform
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokError, TikTokRetryable

log = structlog.get_logger(__name__)

# A renewal: the current tokens in, new tokens out. Raises AccessLost when refused for good,
# RetryableError when the platform could not be reached.
Renew = Callable[[Tokens], Awaitable[Tokens]]

RENEW_MARGIN = timedelta(minutes=5)  # renew this long before expiry (Shopify's own libraries)
LEASE_SECONDS = 30.0  # real: a renewal is one HTTP call; a dead renewer's lease lapses
WAIT_SECONDS = 0.2  # real seconds between looks while another process renews


class StoredTokens:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        connection_id: int,
        platform: Platform,
        renew: Renew | None,
        *,
        owner: str,
        margin: timedelta = RENEW_MARGIN,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.connection_id = connection_id
        self.platform = platform
        self.owner = owner
        self._renew = renew
        self._margin = margin
        self._lease_seconds = lease_seconds
        self._current: Tokens | None = None
        self._seen: tuple[str, timedelta] | None = None  # a token and its renewal margin
        self._lock = asyncio.Lock()  # one renewal at a time within this process too

    async def token(self) -> str:
        current = self._current
        if current is None or (self._renew is not None and self._due(current)):
            current = await self._fresh(current.access_token if current else None)
        return current.access_token

    async def rejected(self, token: str) -> bool:
        if self._renew is None:
            return False
        fresh = await self._fresh(token, force=True)
        return fresh.access_token != token

    def _due(self, tokens: Tokens) -> bool:
        """Renew `margin` before expiry, or a fifth of the life it had when first seen if that
        is shorter (a token living a few seconds is not renewed on every call)."""
        if tokens.expires_at is None:
            return False
        now = self.clock.now()
        if self._seen is None or self._seen[0] != tokens.access_token:
            life = max(tokens.expires_at - now, timedelta(0))
            self._seen = (tokens.access_token, min(self._margin, life / 5))
        return tokens.due(now, self._seen[1])

    async def _fresh(self, seen: str | None, *, force: bool = False) -> Tokens:
        """Tokens newer than `seen` and not due, renewing them here if nobody else has."""
        async with self._lock:
            deadline = time.monotonic() + 2 * self._lease_seconds
            while True:
                stored = await self._read()
                if self._usable(stored, seen, force):
                    self._current = stored
                    return stored
                if self._renew is None:
                    self._current = stored
                    return stored
                taken = await asyncio.to_thread(
                    self.store.take_token_lease,
                    self.connection_id,
                    self.platform,
                    self.owner,
                    self.clock.now() + clock_span(self.clock, self._lease_seconds),
                )
                if taken:
                    return await self._renew_holding_lease(seen, force)
                if time.monotonic() > deadline:
                    raise RetryableError(
                        f"another process has been renewing the {self.platform} token for "
                        "too long; trying again later"
                    )
                await asyncio.sleep(WAIT_SECONDS)

    async def _renew_holding_lease(self, seen: str | None, force: bool) -> Tokens:
        assert self._renew is not None
        try:
            stored = await self._read()  # renewed by someone between our look and the lease?
            if self._usable(stored, seen, force):
                await asyncio.to_thread(
                    self.store.release_token_lease, self.connection_id, self.platform, self.owner
                )
                self._current = stored
                return stored
            renewed = await self._renew(stored)
        except BaseException:
            await asyncio.to_thread(
                self.store.release_token_lease, self.connection_id, self.platform, self.owner
            )
            raise
        await asyncio.to_thread(
            self.store.save_tokens, self.connection_id, self.platform, renewed, self.owner
        )
        log.info("tokens.renewed", connection=self.connection_id, platform=self.platform)
        self._current = renewed
        return renewed

    def _usable(self, stored: Tokens, seen: str | None, force: bool) -> bool:
        if stored.access_token != seen:
            return not self._due(stored) or self._renew is None
        return not force and not self._due(stored)

    async def _read(self) -> Tokens:
        stored = await asyncio.to_thread(self.store.tokens, self.connection_id, self.platform)
        if stored is None:
            raise AccessLost(self.platform, f"the connection has no {self.platform} token")
        return stored


def renew_shopify(record: ConnectionRecord, http: httpx.AsyncClient, clock: Clock) -> Renew | None:
    """How this connection renews its Shopify token: the refresh-token grant after an install,
    the client-credentials grant for an app of the merchant's own organization, or not at all
    (a legacy admin token does not expire)."""
    base_url = record.shopify_api_base_url or f"https://{record.shopify_domain}"
    client_id, secret = record.shopify_client_id or "", record.shopify_client_secret or ""
    if record.shopify_auth == "static":
        return None

    async def renew(tokens: Tokens) -> Tokens:
        now = clock.now()
        try:
            if record.shopify_auth == "client_credentials":
                return await oauth.client_credentials(http, base_url, client_id, secret, now)
            if not tokens.refresh_token:
                raise AccessLost("shopify", "Shopify gave no refresh token: connect the shop again")
            return await oauth.refresh(http, base_url, client_id, secret, tokens.refresh_token, now)
        except oauth.ShopifyOAuthError as error:
            if error.retryable:
                raise RetryableError(str(error)) from error
            raise AccessLost(
                "shopify",
                f"{error}. The app was uninstalled or its access revoked: Reconnect the store.",
            ) from error

    return renew


async def renew_tiktok(client: TikTokClient, tokens: Tokens) -> Tokens:
    """TikTok's refresh grant (the refresh token may rotate: the new one is stored at once)."""
    if not tokens.refresh_token:
        raise AccessLost("tiktok", "TikTok gave no refresh token: connect the shop again")
    try:
        granted = await client.refresh_with(tokens.refresh_token)
    except TikTokRetryable as error:
        raise RetryableError(f"TikTok token refresh: {error}") from error
    except TikTokError as error:
        raise AccessLost(
            "tiktok",
            f"TikTok Shop refused to renew the token ({error}): the seller deauthorized the app "
            "or the authorization expired. Reconnect the shop.",
        ) from error
    return Tokens(
        granted.access_token,
        granted.access_token_expires_at,
        granted.refresh_token,
        granted.refresh_token_expires_at,
    )
