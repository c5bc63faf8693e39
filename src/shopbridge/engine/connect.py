"""Create a connection: check both platforms answer with the given credentials, then store it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

from shopbridge.clock import Clock
from shopbridge.config import Settings
from shopbridge.credentials import Tokens
from shopbridge.domain.policy import Policy
from shopbridge.shopify import oauth
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyError
from shopbridge.store import ConnectionRecord, Store
from shopbridge.tiktok.client import DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL, TikTokClient
from shopbridge.tiktok.errors import TikTokError
from shopbridge.tiktok.models import Shop


class ConnectError(ValueError):
    """The connection cannot be made; the message says what to fix."""


@dataclass
class ConnectionRequest:
    name: str
    tiktok_app_key: str
    tiktok_app_secret: str
    shopify_domain: str
    shopify_access_token: str
    shopify_client_secret: str
    shopify_client_id: str = ""
    tiktok_access_token: str = ""
    tiktok_refresh_token: str = ""
    tiktok_auth_code: str = ""
    tiktok_shop_id: str = ""
    tiktok_api_base_url: str = DEFAULT_API_BASE_URL
    tiktok_auth_base_url: str = DEFAULT_AUTH_BASE_URL
    shopify_api_base_url: str | None = None
    shopify_location_id: str | None = None
    holdback_minutes: int = 60
    unpaid_window_minutes: int = 1440
    carrier_mapping: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"


async def create_connection(store: Store, clock: Clock, request: ConnectionRequest) -> int:
    """Verify the credentials against both platforms and store the connection; returns its id."""
    try:
        Policy.from_minutes(request.holdback_minutes, request.unpaid_window_minutes)
    except ValueError as error:
        raise ConnectError(str(error)) from None
    fields: dict[str, Any] = {}
    async with TikTokClient(
        app_key=request.tiktok_app_key,
        app_secret=request.tiktok_app_secret,
        clock=clock,
        access_token=request.tiktok_access_token,
        refresh_token=request.tiktok_refresh_token,
        api_base_url=request.tiktok_api_base_url,
        auth_base_url=request.tiktok_auth_base_url,
    ) as tiktok:
        try:
            if request.tiktok_auth_code:
                tokens = await tiktok.get_token(request.tiktok_auth_code)
                fields["tiktok_token_expires_at"] = tokens.access_token_expires_at
            elif not request.tiktok_access_token:
                raise ConnectError("give either --tiktok-access-token or --tiktok-auth-code")
            shops = await tiktok.get_authorized_shops()
        except TikTokError as error:
            raise ConnectError(
                _unreachable("TikTok Shop", error, "--tiktok-api-url and --tiktok-auth-url")
                or f"TikTok Shop refused the credentials: {error}"
            ) from None
        chosen = [s for s in shops if not request.tiktok_shop_id or s.id == request.tiktok_shop_id]
        if len(chosen) != 1:
            listed = ", ".join(f"{s.id} ({s.name}, {s.region})" for s in shops) or "none"
            raise ConnectError(
                f"choose the TikTok shop with --tiktok-shop-id; authorized: {listed}"
            )
        shop = chosen[0]
        fields.update(
            tiktok_access_token=tiktok.access_token,
            tiktok_refresh_token=tiktok.current_refresh_token,
            tiktok_shop_id=shop.id,
            tiktok_shop_cipher=shop.cipher,
            tiktok_region=shop.region,
        )
    shopify_tokens = await _shopify_tokens(request, clock)
    async with ShopifyClient(
        request.shopify_domain, shopify_tokens.access_token, base_url=request.shopify_api_base_url
    ) as shopify:
        try:
            locations = [loc for loc in await shopify.locations() if loc.is_active]
        except ShopifyError as error:
            raise ConnectError(
                _unreachable("Shopify", error, "--shopify-domain and --shopify-api-url")
                or f"Shopify refused the credentials: {error}"
            ) from None
    location = request.shopify_location_id or (locations[0].id if locations else None)
    if location is None or location not in {loc.id for loc in locations}:
        known = ", ".join(f"{loc.id} ({loc.name})" for loc in locations) or "none"
        raise ConnectError(f"choose an active Shopify location with --shopify-location-id: {known}")
    if store.connection_by_tiktok_shop(shop.id) is not None:
        raise ConnectError(f"TikTok shop {shop.id} is already connected")
    connection_id = store.add_connection(
        name=request.name,
        tiktok_app_key=request.tiktok_app_key,
        tiktok_app_secret=request.tiktok_app_secret,
        tiktok_api_base_url=request.tiktok_api_base_url,
        tiktok_auth_base_url=request.tiktok_auth_base_url,
        shopify_domain=shopify.shop,
        shopify_api_base_url=request.shopify_api_base_url,
        shopify_auth="static" if request.shopify_access_token else "client_credentials",
        shopify_client_id=request.shopify_client_id or None,
        shopify_client_secret=request.shopify_client_secret,
        shopify_location_id=location,
        holdback_minutes=request.holdback_minutes,
        unpaid_window_minutes=request.unpaid_window_minutes,
        carrier_mapping=request.carrier_mapping,
        timezone=request.timezone,
        **fields,
    )
    store.save_tokens(connection_id, "shopify", shopify_tokens)
    return connection_id


async def _shopify_tokens(request: ConnectionRequest, clock: Clock) -> Tokens:
    """The pasted legacy token, or one from the client-credentials grant."""
    if request.shopify_access_token:
        return Tokens(request.shopify_access_token)
    if not request.shopify_client_id:
        raise ConnectError(
            "give --shopify-access-token, or --shopify-client-id (an app of your own organization)"
        )
    base_url = request.shopify_api_base_url or f"https://{request.shopify_domain}"
    async with httpx.AsyncClient(timeout=15.0) as http:
        try:
            return await oauth.client_credentials(
                http,
                base_url,
                request.shopify_client_id,
                request.shopify_client_secret,
                clock.now(),
            )
        except oauth.ShopifyOAuthError as error:
            raise ConnectError(
                _unreachable("Shopify", error, "--shopify-domain and --shopify-api-url")
                or str(error)
            ) from None


def _unreachable(platform: str, error: BaseException, options: str) -> str | None:
    """What to tell the operator when `error` is the network's, not the platform's: no answer
    came back at all (a host name that does not resolve, a refused or dropped connection, a
    timeout), so the credentials were never judged. None when the platform did answer."""
    causes = _causes(error)
    transport = next((e for e in causes if isinstance(e, httpx.TransportError)), None)
    if transport is None:
        return None
    try:
        host = transport.request.url.host
    except RuntimeError:  # an error raised without its request: name no host
        host = ""
    at = f" at {host}" if host else ""
    if any(isinstance(e, socket.gaierror) for e in causes):
        why = f"the host name {host or 'given'} could not be resolved (DNS)"
    elif isinstance(transport, httpx.TimeoutException):
        why = f"no answer in time{at}"
    elif isinstance(transport, httpx.ConnectError):
        why = f"the connection{at} was refused or failed"
    else:
        why = f"the connection{at} broke ({type(transport).__name__})"
    return (
        f"could not reach {platform}: {why}; check {options} and this machine's network, "
        "then try again (nothing was saved)"
    )


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and every exception it was raised from or while handling, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


# -- the web UI's flows: one platform at a time ------------------------------------------------


async def connect_shopify(
    store: Store,
    settings: Settings,
    connection_id: int,
    shop: str,
    tokens: Tokens,
    grant: str,
) -> None:
    """Attach a Shopify store to the connection with tokens just obtained (an install's code
    exchange, or the client-credentials grant); checks the token works and picks a location."""
    other = store.connection_by_shopify_domain(shop)
    if other is not None and other.id != connection_id:
        raise ConnectError(f"{shop} is already connected as {other.name!r}")
    base_url = settings.shopify_api_url or None
    async with ShopifyClient(shop, tokens.access_token, base_url=base_url) as shopify:
        try:
            locations = [loc for loc in await shopify.locations() if loc.is_active]
        except ShopifyError as error:
            raise ConnectError(
                _unreachable("Shopify", error, "the setting shopify_api_url")
                or f"Shopify refused the new token: {error}"
            ) from None
    if not locations:
        raise ConnectError(f"{shop} has no active location to take stock from")
    current = store.get_connection(connection_id)
    keep = current.shopify_domain == shop and current.shopify_location_id
    store.update_connection(
        connection_id,
        shopify_domain=shop,
        shopify_api_base_url=base_url,
        shopify_auth=grant,
        shopify_client_id=settings.shopify_client_id,
        shopify_client_secret=settings.shopify_client_secret,
        shopify_location_id=current.shopify_location_id if keep else locations[0].id,
    )
    store.save_tokens(connection_id, "shopify", tokens)


def tiktok_client(settings: Settings, clock: Clock, tokens: Tokens | None = None) -> TikTokClient:
    """A client of the operator's TikTok Shop app (from Settings)."""
    return TikTokClient(
        app_key=settings.tiktok_app_key,
        app_secret=settings.tiktok_app_secret,
        clock=clock,
        access_token=tokens.access_token if tokens else "",
        refresh_token=(tokens.refresh_token or "") if tokens else "",
        api_base_url=settings.tiktok_api_url,
        auth_base_url=settings.tiktok_auth_url,
    )


async def authorize_tiktok(
    store: Store, settings: Settings, clock: Clock, connection_id: int, code: str
) -> list[Shop]:
    """Exchange a seller's authorization code; store the tokens on the connection and return
    the shops they may act for (the caller picks one with `choose_tiktok_shop`)."""
    async with tiktok_client(settings, clock) as tiktok:
        try:
            granted = await tiktok.get_token(code)
            shops = await tiktok.get_authorized_shops()
        except TikTokError as error:
            raise ConnectError(
                _unreachable("TikTok Shop", error, "the settings tiktok_api_url, tiktok_auth_url")
                or f"TikTok Shop refused the authorization: {error}"
            ) from None
    store.update_connection(
        connection_id,
        tiktok_app_key=settings.tiktok_app_key,
        tiktok_app_secret=settings.tiktok_app_secret,
        tiktok_api_base_url=settings.tiktok_api_url,
        tiktok_auth_base_url=settings.tiktok_auth_url,
    )
    store.save_tokens(
        connection_id,
        "tiktok",
        Tokens(
            granted.access_token,
            granted.access_token_expires_at,
            granted.refresh_token,
            granted.refresh_token_expires_at,
        ),
    )
    if not shops:
        raise ConnectError("the authorization covers no TikTok shop: authorize one shop at least")
    return shops


async def tiktok_shops(
    store: Store, settings: Settings, clock: Clock, connection_id: int
) -> list[Shop]:
    """The shops the connection's stored TikTok token may act for."""
    tokens = store.tokens(connection_id, "tiktok")
    if tokens is None:
        raise ConnectError("connect TikTok Shop first")
    async with tiktok_client(settings, clock, tokens) as tiktok:
        try:
            return await tiktok.get_authorized_shops()
        except TikTokError as error:
            raise ConnectError(
                _unreachable("TikTok Shop", error, "the setting tiktok_api_url")
                or f"TikTok Shop refused the stored token: {error}"
            ) from None


def choose_tiktok_shop(store: Store, connection_id: int, shop: Shop) -> None:
    other = store.connection_by_tiktok_shop(shop.id)
    if other is not None and other.id != connection_id:
        raise ConnectError(f"TikTok shop {shop.name} is already connected as {other.name!r}")
    store.update_connection(
        connection_id,
        tiktok_shop_id=shop.id,
        tiktok_shop_cipher=shop.cipher,
        tiktok_region=shop.region,
    )


def ready(record: ConnectionRecord) -> bool:
    """Both platforms are connected: a TikTok shop with its token, a Shopify store with its."""
    return bool(
        record.tiktok_shop_id
        and record.tiktok_shop_cipher
        and record.tiktok_access_token
        and record.shopify_domain
        and record.shopify_access_token
    )


def activate_if_ready(store: Store, connection_id: int) -> bool:
    """A connection set up (or reconnected) on both sides starts working: held work resumes and
    a reconciliation pass runs at once. True when it is now active."""
    record = store.get_connection(connection_id)
    if not ready(record):
        return False
    if record.status in ("setting_up", "needs_reconnect"):
        store.reconnected(connection_id)
    return True
