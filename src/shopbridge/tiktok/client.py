"""Async client for the TikTok Shop Open API (version 202309) and its auth host.

One client speaks for one shop (one access token, one `shop_cipher`). Every call:
- carries `app_key`, `timestamp` (Unix seconds from the injected `Clock`), `shop_cipher` on
  shop-scoped paths only, and `sign` over the path, the sorted query and the exact body bytes
  sent (tiktok_shop_api.md §1.2-1.3); the token travels in `x-tts-access-token`;
- is paced under TikTok's 50 requests/s per endpoint per shop, shared by every client of the
  shop in the process (`pacing`, §6.3);
- retries throttling, 5xx, timeouts and connection errors up to `max_attempts` with
  exponential backoff and jitter, then raises `TikTokRetryable` for the caller's outbox;
- on 105002 (expired token) refreshes the token once on the auth host and repeats the call
  once; `on_tokens_refreshed` lets the owner persist the new tokens.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from shopbridge import metrics
from shopbridge.clock import Clock
from shopbridge.credentials import TokenSource
from shopbridge.tiktok import signing
from shopbridge.tiktok.errors import (
    TikTokError,
    TikTokPermanent,
    TikTokRetryable,
    TikTokTokenExpired,
    classify,
)
from shopbridge.tiktok.models import (
    Cancellation,
    InventorySku,
    Order,
    Package,
    Page,
    Product,
    Return,
    SellerCancelResult,
    ShippedPackage,
    ShippingProvider,
    Shop,
    TokenSet,
    Warehouse,
)
from shopbridge.tiktok.pacing import SHARED_PACER, Pacer

TOKEN_REFUSED_CODES = frozenset({105001, 36009004})
DEFAULT_API_BASE_URL = "https://open-api.tiktokglobalshop.com"
DEFAULT_AUTH_BASE_URL = "https://auth.tiktok-shops.com"

ORDER_IDS_PER_DETAIL_CALL = 50  # Get Order Detail takes at most 50 ids (§4.1)
SKU_IDS_PER_INVENTORY_SEARCH = 600  # Inventory Search: ≤600 sku_ids or ≤100 product_ids (§4.4)
PRODUCT_IDS_PER_INVENTORY_SEARCH = 100
RATE_LIMIT_WINDOW_SECONDS = 1.0  # TikTok counts requests per second (§6.3)
RETURNS_PAGE_SIZE = 50  # Search Returns takes 10 to 50 a page (wave2 §6.1)

# TikTok refuses shop_cipher on these paths with 36009004 (§1.2).
_CIPHERLESS_PATH = re.compile(r"^/(authorization|seller)/\d{6}/")

TokensRefreshed = Callable[[TokenSet], Awaitable[None]]
ModelT = TypeVar("ModelT", bound=BaseModel)
QueryValue = str | int | bool | Sequence[str] | None

log = structlog.get_logger(__name__)


def _token_refused(error: TikTokError) -> bool:
    """The token itself was refused: expired (105002), invalid, e.g. replaced by a refresh in
    another process (36009004), or deauthorized (105001)."""
    return isinstance(error, TikTokTokenExpired) or error.code in TOKEN_REFUSED_CODES


@dataclass(frozen=True)
class _Reply:
    data: dict[str, Any]
    request_id: str | None
    endpoint: str


class TikTokClient:
    """The TikTok Shop calls shopbridge needs, for one authorized shop."""

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        clock: Clock,
        access_token: str = "",
        refresh_token: str = "",
        shop_cipher: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        auth_base_url: str = DEFAULT_AUTH_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        on_tokens_refreshed: TokensRefreshed | None = None,
        tokens: TokenSource | None = None,
        pacer: Pacer = SHARED_PACER,
        max_attempts: int = 3,
        backoff_seconds: float = 0.25,
        throttled_backoff_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._app_key = app_key
        self._app_secret = app_secret
        self._clock = clock
        self._access_token = access_token
        self._refresh_token = refresh_token
        self.shop_cipher = shop_cipher
        self._api_base_url = api_base_url.rstrip("/")
        self._auth_base_url = auth_base_url.rstrip("/")
        self._on_tokens_refreshed = on_tokens_refreshed
        # Given: tokens come from (and are renewed by) the source, shared with other processes.
        self._tokens = tokens
        self._pacer = pacer
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._throttled_backoff_seconds = throttled_backoff_seconds
        self._refresh_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> TikTokClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def access_token(self) -> str:
        return self._access_token

    @property
    def current_refresh_token(self) -> str:
        return self._refresh_token

    # -- shops and tokens --------------------------------------------------------------

    async def get_authorized_shops(self) -> list[Shop]:
        """The shops this token may act for, each with the cipher for shop-scoped calls."""
        reply = await self._api("GET", "/authorization/202309/shops")
        return _parse_list(Shop, reply, "shops")

    async def shop_webhooks(self) -> dict[str, str]:
        """Event type -> the address TikTok pushes it to, for this shop (wave2 §2)."""
        reply = await self._api("GET", "/event/202309/webhooks")
        rows = reply.data.get("webhooks") or []
        return {
            str(row.get("event_type")): str(row.get("address"))
            for row in rows
            if isinstance(row, dict) and row.get("event_type")
        }

    async def update_shop_webhook(self, event_type: str, address: str) -> None:
        """Point one event type of this shop at `address` (one address per type; overwrites)."""
        await self._api(
            "PUT", "/event/202309/webhooks", body={"event_type": event_type, "address": address}
        )

    async def get_token(self, auth_code: str) -> TokenSet:
        """Exchange a seller's single-use auth code (30 min) for tokens, and use them (§5)."""
        tokens = await self._token_call(
            "/api/v2/token/get", {"auth_code": auth_code, "grant_type": "authorized_code"}
        )
        self._access_token, self._refresh_token = tokens.access_token, tokens.refresh_token
        return tokens

    async def refresh_with(self, refresh_token: str) -> TokenSet:
        """New tokens for `refresh_token`, only returned (the caller stores and hands them out)."""
        return await self._token_call(
            "/api/v2/token/refresh", {"refresh_token": refresh_token, "grant_type": "refresh_token"}
        )

    async def refresh_token(self) -> TokenSet:
        """Get fresh tokens with the refresh token, use them, and report them to the owner."""
        tokens = await self._token_call(
            "/api/v2/token/refresh",
            {"refresh_token": self._refresh_token, "grant_type": "refresh_token"},
        )
        self._access_token, self._refresh_token = tokens.access_token, tokens.refresh_token
        if self._on_tokens_refreshed is not None:
            await self._on_tokens_refreshed(tokens)
        return tokens

    # -- orders ------------------------------------------------------------------------

    async def search_orders(
        self,
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        *,
        page_size: int = 50,
        sort_field: str = "update_time",
        sort_order: str = "ASC",
        page_token: str | None = None,
        order_status: str | None = None,
        create_time_ge: datetime | None = None,
        create_time_lt: datetime | None = None,
    ) -> Page[Order]:
        """One page of orders matching the filters (Get Order List, §4.1)."""
        reply = await self._api(
            "POST",
            "/order/202309/orders/search",
            query={
                "page_size": page_size,
                "page_token": page_token,
                "sort_field": sort_field,
                "sort_order": sort_order,
            },
            body={
                "order_status": order_status,
                "create_time_ge": _unix(create_time_ge),
                "create_time_lt": _unix(create_time_lt),
                "update_time_ge": _unix(update_time_ge),
                "update_time_lt": _unix(update_time_lt),
            },
        )
        return _page(Order, reply, "orders", tolerant=True)

    async def iter_order_pages(
        self,
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page[Order]]:
        """Every page of orders matching the filters, with the orders that did not parse."""
        seen: set[str] = set()
        page_token: str | None = None
        while True:
            page = await self.search_orders(
                update_time_ge, update_time_lt, page_token=page_token, **filters
            )
            yield page
            page_token = page.next_page_token
            if page_token is None or page_token in seen:
                return
            seen.add(page_token)

    def iter_orders(
        self,
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        **filters: Any,
    ) -> AsyncIterator[Order]:
        """Every order matching the filters, page after page."""

        async def fetch(page_token: str | None) -> Page[Order]:
            return await self.search_orders(
                update_time_ge, update_time_lt, page_token=page_token, **filters
            )

        return _all_pages(fetch, "POST /order/202309/orders/search")

    async def get_orders(self, ids: Iterable[str]) -> list[Order]:
        """The current state of these orders, asked for 50 at a time (Get Order Detail)."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        orders: list[Order] = []
        for start in range(0, len(unique), ORDER_IDS_PER_DETAIL_CALL):
            chunk = unique[start : start + ORDER_IDS_PER_DETAIL_CALL]
            reply = await self._api("GET", "/order/202309/orders", query={"ids": chunk})
            orders.extend(_parse_list(Order, reply, "orders"))
        return orders

    # -- cancellations -----------------------------------------------------------------

    async def search_cancellations(
        self,
        *,
        order_ids: Sequence[str] | None = None,
        cancel_ids: Sequence[str] | None = None,
        cancel_status: Sequence[str] | None = None,
        cancel_types: Sequence[str] | None = None,
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        create_time_ge: datetime | None = None,
        create_time_lt: datetime | None = None,
        page_size: int = 50,
        sort_field: str = "update_time",
        sort_order: str = "ASC",
        page_token: str | None = None,
    ) -> Page[Cancellation]:
        """One page of cancellation records (Search Cancellations, §4.2)."""
        reply = await self._api(
            "POST",
            "/return_refund/202309/cancellations/search",
            query={
                "page_size": page_size,
                "page_token": page_token,
                "sort_field": sort_field,
                "sort_order": sort_order,
            },
            body={
                "order_ids": _list_or_none(order_ids),
                "cancel_ids": _list_or_none(cancel_ids),
                "cancel_status": _list_or_none(cancel_status),
                "cancel_types": _list_or_none(cancel_types),
                "create_time_ge": _unix(create_time_ge),
                "create_time_lt": _unix(create_time_lt),
                "update_time_ge": _unix(update_time_ge),
                "update_time_lt": _unix(update_time_lt),
            },
        )
        return _page(Cancellation, reply, "cancellations")

    def iter_cancellations(self, **filters: Any) -> AsyncIterator[Cancellation]:
        """Every cancellation record matching the filters, page after page."""

        async def fetch(page_token: str | None) -> Page[Cancellation]:
            return await self.search_cancellations(page_token=page_token, **filters)

        return _all_pages(fetch, "POST /return_refund/202309/cancellations/search")

    async def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> None:
        """Approve a buyer's cancellation request; the key makes a repeat harmless."""
        await self._api(
            "POST",
            "/return_refund/202309/cancellations/{cancel_id}/approve",
            path_params={"cancel_id": cancel_id},
            query={"idempotency_key": idempotency_key},
        )

    async def reject_cancellation(
        self, cancel_id: str, reason: str, comment: str, idempotency_key: str
    ) -> None:
        """Reject a buyer's cancellation request with a reason key from the reject reasons.

        In the US this call is retired: ship the package instead, which rejects the request.
        """
        await self._api(
            "POST",
            "/return_refund/202309/cancellations/{cancel_id}/reject",
            path_params={"cancel_id": cancel_id},
            query={"idempotency_key": idempotency_key},
            body={"reject_reason": reason, "comment": comment or None},
        )

    async def cancel_order(
        self,
        order_id: str,
        reason: str,
        idempotency_key: str | None = None,
        line_item_ids: Sequence[str] | None = None,
        skus: Sequence[tuple[str, int]] | None = None,
    ) -> SellerCancelResult:
        """Cancel an order as the seller, e.g. `seller_cancel_reason_out_of_stock` (§4.2).

        With `line_item_ids` or `skus` ((sku_id, quantity) pairs) only those units go: an
        item-level cancel, US and UK only, out of stock only (25005010 otherwise; 25005011
        for units that are gone or too many). Both travel as top-level siblings (wave2 §4).
        """
        reply = await self._api(
            "POST",
            "/return_refund/202309/cancellations",
            query={"idempotency_key": idempotency_key},
            body={
                "order_id": order_id,
                "cancel_reason": reason,
                "order_line_item_ids": _list_or_none(line_item_ids),
                "skus": None
                if skus is None
                else [{"sku_id": str(sku_id), "quantity": int(n)} for sku_id, n in skus],
            },
        )
        return _parse(SellerCancelResult, reply.data, reply)

    # -- returns -----------------------------------------------------------------------

    async def search_returns(
        self,
        *,
        order_ids: Sequence[str] | None = None,
        return_ids: Sequence[str] | None = None,
        return_status: Sequence[str] | None = None,
        return_types: Sequence[str] | None = None,
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        create_time_ge: datetime | None = None,
        create_time_lt: datetime | None = None,
        page_size: int = RETURNS_PAGE_SIZE,
        sort_field: str = "update_time",
        sort_order: str = "ASC",
        page_token: str | None = None,
    ) -> Page[Return]:
        """One page of returns and refunds (Search Returns, wave2 §6.1; page_size 10 to 50)."""
        reply = await self._api(
            "POST",
            "/return_refund/202309/returns/search",
            query={
                "page_size": page_size,
                "page_token": page_token,
                "sort_field": sort_field,
                "sort_order": sort_order,
            },
            body={
                "order_ids": _list_or_none(order_ids),
                "return_ids": _list_or_none(return_ids),
                "return_status": _list_or_none(return_status),
                "return_types": _list_or_none(return_types),
                "create_time_ge": _unix(create_time_ge),
                "create_time_lt": _unix(create_time_lt),
                "update_time_ge": _unix(update_time_ge),
                "update_time_lt": _unix(update_time_lt),
            },
        )
        return _page(Return, reply, "return_orders")

    def iter_returns(self, **filters: Any) -> AsyncIterator[Return]:
        """Every return matching the filters, page after page (50 a page)."""

        async def fetch(page_token: str | None) -> Page[Return]:
            return await self.search_returns(page_token=page_token, **filters)

        return _all_pages(fetch, "POST /return_refund/202309/returns/search")

    # -- fulfilment --------------------------------------------------------------------

    async def mark_package_shipped(
        self,
        order_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        line_item_ids: Sequence[str] | None = None,
    ) -> ShippedPackage:
        """Tell TikTok the order (or these line items) shipped with this tracking (§4.3)."""
        reply = await self._api(
            "POST",
            "/fulfillment/202309/orders/{order_id}/packages",
            path_params={"order_id": order_id},
            body={
                "tracking_number": tracking_number,
                "shipping_provider_id": shipping_provider_id,
                "order_line_item_ids": _list_or_none(line_item_ids),
            },
        )
        return _parse(ShippedPackage, reply.data, reply)

    async def ship_package(
        self,
        package_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        handover_method: str = "DROP_OFF",
    ) -> None:
        """Ship a package TikTok made (split or combined) with the seller's own carrier: every
        order in it moves on (Ship Package, §4.3)."""
        await self._api(
            "POST",
            "/fulfillment/202309/packages/{package_id}/ship",
            path_params={"package_id": package_id},
            body={
                "handover_method": handover_method,
                "self_shipment": {
                    "tracking_number": tracking_number,
                    "shipping_provider_id": shipping_provider_id,
                },
            },
        )

    async def update_package_shipping_info(
        self, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> None:
        """Correct a shipped package's tracking: once, within 72 h (wave2 §5.5: 21011051 a
        second time, 21011049 past the window)."""
        await self._api(
            "POST",
            "/fulfillment/202309/packages/{package_id}/shipping_info/update",
            path_params={"package_id": package_id},
            body={"tracking_number": tracking_number, "shipping_provider_id": shipping_provider_id},
        )

    async def get_package(self, package_id: str) -> Package:
        """Get Package Detail (wave2 §5.6): its status, units, orders and tracking."""
        reply = await self._api(
            "GET",
            "/fulfillment/202309/packages/{package_id}",
            path_params={"package_id": package_id},
        )
        return _parse(Package, reply.data, reply)

    async def get_shipping_providers(self, delivery_option_id: str) -> list[ShippingProvider]:
        """The carriers TikTok accepts for an order's delivery option."""
        reply = await self._api(
            "GET",
            "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers",
            path_params={"delivery_option_id": delivery_option_id},
        )
        return _parse_list(ShippingProvider, reply, "shipping_providers")

    async def get_warehouses(self) -> list[Warehouse]:
        reply = await self._api("GET", "/logistics/202309/warehouses")
        return _parse_list(Warehouse, reply, "warehouses")

    # -- products and inventory --------------------------------------------------------

    async def search_inventory(
        self,
        *,
        sku_ids: Sequence[str] | None = None,
        product_ids: Sequence[str] | None = None,
    ) -> list[InventorySku]:
        """Stock per SKU and warehouse, by SKU ids or by product ids (not both)."""
        if (sku_ids is None) == (product_ids is None):
            raise ValueError("search_inventory takes either sku_ids or product_ids")
        key, ids, per_call = (
            ("sku_ids", list(sku_ids), SKU_IDS_PER_INVENTORY_SEARCH)
            if sku_ids is not None
            else ("product_ids", list(product_ids or ()), PRODUCT_IDS_PER_INVENTORY_SEARCH)
        )
        skus: list[InventorySku] = []
        for start in range(0, len(ids), per_call):
            reply = await self._api(
                "POST",
                "/product/202309/inventory/search",
                body={key: ids[start : start + per_call]},
            )
            for product in reply.data.get("inventory") or []:
                product_id = product.get("product_id")
                for sku in product.get("skus") or []:
                    skus.append(_parse(InventorySku, {"product_id": product_id, **sku}, reply))
        return skus

    async def update_inventory(
        self, product_id: str, sku_id: str, quantities_by_warehouse: Mapping[str, int]
    ) -> None:
        """Set one SKU's stock; TikTok wants every warehouse of the SKU listed (12019028)."""
        errors = await self.update_product_inventory(product_id, {sku_id: quantities_by_warehouse})
        for error in errors.values():
            raise error

    async def update_product_inventory(
        self, product_id: str, quantities: Mapping[str, Mapping[str, int]]
    ) -> dict[str, TikTokError]:
        """Set the stock of several SKUs of one product in one call (sku id -> warehouse id ->
        quantity, every warehouse of each SKU). Returns the SKUs TikTok refused, by sku id:
        per-SKU failures come back inside a code-0 reply while the others apply (§4.4)."""
        if not quantities or any(not by_warehouse for by_warehouse in quantities.values()):
            raise ValueError("update_inventory needs the quantity of every warehouse of the SKU")
        reply = await self._api(
            "POST",
            "/product/202309/products/{product_id}/inventory/update",
            path_params={"product_id": product_id},
            body={
                "skus": [
                    {
                        "id": sku_id,
                        "inventory": [
                            {"warehouse_id": warehouse_id, "quantity": int(quantity)}
                            for warehouse_id, quantity in by_warehouse.items()
                        ],
                    }
                    for sku_id, by_warehouse in quantities.items()
                ]
            },
        )
        refused: dict[str, TikTokError] = {}
        for error in reply.data.get("errors") or []:
            detail = error.get("detail") if isinstance(error, dict) else None
            sku_id = str((detail or {}).get("sku_id") or "")
            if sku_id not in quantities:  # not about one SKU: the whole call failed
                for each in quantities:
                    refused[each] = _sku_error(error, reply)
                break
            refused[sku_id] = _sku_error(error, reply)
        return refused

    async def search_products(
        self,
        seller_skus: Sequence[str] | None = None,
        *,
        status: str | None = None,
        page_size: int = 100,
        page_token: str | None = None,
    ) -> Page[Product]:
        """One page of products, e.g. those carrying these seller SKUs (§4.4)."""
        reply = await self._api(
            "POST",
            "/product/202502/products/search",
            query={"page_size": page_size, "page_token": page_token},
            body={"status": status, "seller_skus": _list_or_none(seller_skus)},
        )
        return _page(Product, reply, "products")

    def iter_products(
        self, seller_skus: Sequence[str] | None = None, **filters: Any
    ) -> AsyncIterator[Product]:
        async def fetch(page_token: str | None) -> Page[Product]:
            return await self.search_products(seller_skus, page_token=page_token, **filters)

        return _all_pages(fetch, "POST /product/202502/products/search")

    # -- the wire ----------------------------------------------------------------------

    async def _api(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> _Reply:
        path = template.format(
            **{name: quote(str(value), safe="") for name, value in (path_params or {}).items()}
        )
        endpoint = f"{method} {path}"
        if self.shop_cipher is None and not _CIPHERLESS_PATH.match(path):
            raise ValueError(f"{endpoint} is shop-scoped: the client needs a shop_cipher")
        content = _body_bytes(body)
        pace_key = (self._api_base_url, self._app_key, self.shop_cipher, method, template)
        token_used = await self._token()

        async def attempt() -> _Reply:
            return await self._send_api(method, path, endpoint, query or {}, content, token_used)

        try:
            return await self._with_retries(attempt, pace_key, endpoint)
        except TikTokError as error:
            if self._tokens is not None and _token_refused(error):
                # Another process may have renewed it (a refresh ends the old token at once):
                # the source reads the stored one, or renews it, or says it cannot.
                if not await self._tokens.rejected(token_used):
                    raise
            elif isinstance(error, TikTokTokenExpired):
                await self._refresh_after_expiry(token_used, endpoint)
            else:
                raise
            token_used = await self._token()
            # A second refusal right after a renewal is raised: retrying more cannot help.
            return await self._with_retries(attempt, pace_key, endpoint)

    async def _token(self) -> str:
        return await self._tokens.token() if self._tokens is not None else self._access_token

    async def _send_api(
        self,
        method: str,
        path: str,
        endpoint: str,
        query: Mapping[str, QueryValue],
        content: bytes,
        token: str,
    ) -> _Reply:
        params = _query_params(
            {
                **query,
                "app_key": self._app_key,
                "timestamp": int(self._clock.now().timestamp()),
                "shop_cipher": None if _CIPHERLESS_PATH.match(path) else self.shop_cipher,
            }
        )
        params["sign"] = signing.sign(self._app_secret, path, params, content)
        headers = {
            "content-type": "application/json",
            "x-tts-access-token": token,
        }
        return await self._send(
            method, self._api_base_url + path, endpoint, params, headers, content
        )

    async def _token_call(self, path: str, query: Mapping[str, str]) -> TokenSet:
        # The auth host takes the secret itself in the query and is not signed (§5).
        endpoint = f"GET {path}"
        params = _query_params({**query, "app_key": self._app_key, "app_secret": self._app_secret})

        async def attempt() -> _Reply:
            return await self._send("GET", self._auth_base_url + path, endpoint, params, {}, b"")

        pace_key = (self._auth_base_url, self._app_key, None, "GET", path)
        reply = await self._with_retries(attempt, pace_key, endpoint)
        return _parse(TokenSet, reply.data, reply)

    async def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: dict[str, str],
        headers: dict[str, str],
        content: bytes,
    ) -> _Reply:
        try:
            response = await self._http.request(
                method, url, params=params, headers=headers, content=content or None
            )
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TikTokRetryable(None, reason, None, endpoint, None) from exc
        return _read_envelope(response, endpoint)

    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[_Reply]],
        pace_key: tuple[Any, ...],
        endpoint: str,
    ) -> _Reply:
        for number in range(1, self._max_attempts + 1):
            try:
                async with self._pacer.slot(pace_key):
                    return await attempt()
            except TikTokRetryable as exc:
                if _is_rate_limited(exc):
                    metrics.tiktok_rate_limited()
                if number == self._max_attempts:
                    raise
                delay = self._backoff(number, rate_limited=_is_rate_limited(exc))
                log.warning(
                    "tiktok.retry", endpoint=endpoint, attempt=number, delay=delay, error=str(exc)
                )
                # Real time on purpose: these waits are short transport backoffs, and with a
                # ManualClock `clock.sleep` would never return unless a test moved time.
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt_number: int, *, rate_limited: bool) -> float:
        if rate_limited:
            # Retrying inside the same one-second window only earns another 429: wait it out.
            return self._throttled_backoff_seconds * random.uniform(1.0, 1.5)
        ceiling = self._backoff_seconds * 2 ** (attempt_number - 1)
        return random.uniform(ceiling / 2, ceiling)

    async def _refresh_after_expiry(self, token_used: str, endpoint: str) -> None:
        async with self._refresh_lock:
            if self._access_token != token_used:
                return  # a concurrent call already refreshed while this one waited
            log.info("tiktok.token_refresh", endpoint=endpoint)
            await self.refresh_token()


# -- helpers ---------------------------------------------------------------------------


def _unix(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("times sent to TikTok must be timezone-aware")
    return int(moment.timestamp())


def _list_or_none(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def _query_params(values: Mapping[str, QueryValue]) -> dict[str, str]:
    """Query values as TikTok signs them; empty ones are left out entirely (§1.3, SKIT)."""
    params: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            text = ",".join(str(v) for v in value)  # arrays are comma-joined (§1.3)
        if text != "":
            params[key] = text
    return dict(sorted(params.items()))


def _body_bytes(body: Mapping[str, Any] | None) -> bytes:
    """Compact JSON, serialised once; no bytes at all when there is nothing to send.

    The signature covers these exact bytes (§1.3), and how TikTok signs a literal `{}` is
    unconfirmed, so an empty body is sent as no body.
    """
    fields = {k: v for k, v in (body or {}).items() if v is not None}
    if not fields:
        return b""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def _read_envelope(response: httpx.Response, endpoint: str) -> _Reply:
    status = response.status_code
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("code"), int):
        snippet = response.text[:200].strip() or "empty body"
        raise classify(None, f"unexpected reply: {snippet}", None, endpoint, status)
    code = document["code"]
    message = str(document.get("message") or "no message")
    request_id = document.get("request_id")
    request_id = str(request_id) if request_id else None
    if code != 0 or status >= 400:
        raise classify(code if code != 0 else None, message, request_id, endpoint, status)
    data = document.get("data")
    return _Reply(data if isinstance(data, dict) else {}, request_id, endpoint)


def _is_rate_limited(error: TikTokError) -> bool:
    return error.http_status == 429 or error.code == 36009002


def _parse(model: type[ModelT], document: Any, reply: _Reply) -> ModelT:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise TikTokPermanent(
            None,
            f"unexpected {model.__name__} in the reply: {problems}",
            reply.request_id,
            reply.endpoint,
            200,
        ) from None


def _parse_list(model: type[ModelT], reply: _Reply, key: str) -> list[ModelT]:
    return [_parse(model, item, reply) for item in reply.data.get(key) or []]


def _page(model: type[ModelT], reply: _Reply, key: str, *, tolerant: bool = False) -> Page[ModelT]:
    """One page of `key`; with `tolerant`, an item that does not parse is set aside in
    `unreadable` (its id, if it has one, and why) instead of failing the whole page."""
    total = reply.data.get("total_count")
    items: list[ModelT] = []
    unreadable: list[tuple[str | None, str]] = []
    for item in reply.data.get(key) or []:
        try:
            items.append(_parse(model, item, reply))
        except TikTokPermanent as error:
            if not tolerant:
                raise
            raw_id = item.get("id") if isinstance(item, dict) else None
            item_id = (
                str(raw_id) if isinstance(raw_id, str | int) and str(raw_id).isdigit() else None
            )
            unreadable.append((item_id, error.message))
    return Page(
        items=items,
        next_page_token=reply.data.get("next_page_token") or None,
        total_count=total if isinstance(total, int) else None,
        unreadable=tuple(unreadable),
    )


async def _all_pages(
    fetch: Callable[[str | None], Awaitable[Page[ModelT]]], endpoint: str
) -> AsyncIterator[ModelT]:
    seen: set[str] = set()
    page_token: str | None = None
    while True:
        page = await fetch(page_token)
        for item in page.items:
            yield item
        page_token = page.next_page_token
        if page_token is None:
            return
        if page_token in seen:
            message = f"pagination returned page_token {page_token!r} twice"
            raise TikTokPermanent(None, message, None, endpoint, None)
        seen.add(page_token)


def _sku_error(error: Mapping[str, Any], reply: _Reply) -> TikTokError:
    detail = error.get("detail") or {}
    code = error.get("code")
    message = str(error.get("message") or "inventory update refused")
    if detail.get("sku_id"):
        message += f" (sku {detail['sku_id']})"
    for extra in detail.get("extra_errors") or []:
        message += f"; warehouse {extra.get('warehouse_id')}: {extra.get('message')}"
    return classify(
        code if isinstance(code, int) else None, message, reply.request_id, reply.endpoint, 200
    )
