"""Create a connection: check both platforms answer with the given credentials, then store it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopbridge.clock import Clock
from shopbridge.domain.policy import Policy
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyError
from shopbridge.store import Store
from shopbridge.tiktok.client import DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL, TikTokClient
from shopbridge.tiktok.errors import TikTokError


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
            raise ConnectError(f"TikTok Shop refused the credentials: {error}") from None
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
    async with ShopifyClient(
        request.shopify_domain, request.shopify_access_token, base_url=request.shopify_api_base_url
    ) as shopify:
        try:
            locations = [loc for loc in await shopify.locations() if loc.is_active]
        except ShopifyError as error:
            raise ConnectError(f"Shopify refused the credentials: {error}") from None
    location = request.shopify_location_id or (locations[0].id if locations else None)
    if location is None or location not in {loc.id for loc in locations}:
        known = ", ".join(f"{loc.id} ({loc.name})" for loc in locations) or "none"
        raise ConnectError(f"choose an active Shopify location with --shopify-location-id: {known}")
    if store.connection_by_tiktok_shop(shop.id) is not None:
        raise ConnectError(f"TikTok shop {shop.id} is already connected")
    return store.add_connection(
        name=request.name,
        tiktok_app_key=request.tiktok_app_key,
        tiktok_app_secret=request.tiktok_app_secret,
        tiktok_api_base_url=request.tiktok_api_base_url,
        tiktok_auth_base_url=request.tiktok_auth_base_url,
        shopify_domain=shopify.shop,
        shopify_api_base_url=request.shopify_api_base_url,
        shopify_access_token=request.shopify_access_token,
        shopify_client_secret=request.shopify_client_secret,
        shopify_location_id=location,
        holdback_minutes=request.holdback_minutes,
        unpaid_window_minutes=request.unpaid_window_minutes,
        carrier_mapping=request.carrier_mapping,
        timezone=request.timezone,
        **fields,
    )
