"""Drive and read both sandboxes over HTTP, through their control APIs.

The scenario (buyers, TikTok, the merchant in the Shopify admin) and the invariant checker talk to
the sandboxes only through these small clients, so each sandbox can run in a process of its own
(a rehearsal) as well as in-process on a background server (the demo, the end-to-end tests).
A control call the sandbox refuses (the order moved on, say) raises `Refused` with its words;
a Shopify checkout refused because the variant is sold out raises `SoldOut`, a `Refused`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx


class Refused(Exception):
    """The sandbox refused a control call (HTTP 4xx): the story took another turn."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SoldOut(Refused):
    """A Shopify checkout refused (HTTP 409): the variant denies overselling and too few units
    are available at the location. Nothing changed in the store."""


# Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them from its
# side: a request written into a connection the server is closing fails with a ReadError, and a
# POST cannot be retried blindly (was the order created?).
LIMITS = httpx.Limits(keepalive_expiry=2.0)


class _Driver:
    def __init__(self, base_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=30.0, limits=LIMITS)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        response = await self._http.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, params=params
        )
        if response.status_code >= 400:
            try:
                message = str(response.json().get("error", response.text))
            except ValueError:
                message = response.text
            raise Refused(response.status_code, message)
        return response.json()


class TikTokDriver(_Driver):
    """The TikTok Shop sandbox's control API: shops, buyers' acts, TikTok's own acts."""

    async def create_shop(
        self, name: str, region: str = "US", warehouses: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Credentials of a new shop: app_key, app_secret, tokens, shop_id, shop_cipher, ...,
        and its warehouse_ids (one per name in `warehouses`, else a single default one)."""
        body: dict[str, Any] = {"name": name, "region": region}
        if warehouses:
            body["warehouses"] = list(warehouses)
        result: dict[str, Any] = await self._call("POST", "/shops", body)
        return result

    async def add_product(
        self, shop_id: str, title: str, skus: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """`skus`: [{"seller_sku", "price", "quantity"}], or "warehouse_quantities"
        ({warehouse_id: units}) instead of "quantity" to stock several warehouses."""
        result: dict[str, Any] = await self._call(
            "POST", f"/shops/{shop_id}/products", {"title": title, "skus": list(skus)}
        )
        return result

    async def set_webhook(self, shop_id: str, url: str | None) -> None:
        await self._call("PUT", f"/shops/{shop_id}/webhook", {"url": url})

    async def create_order(
        self, shop_id: str, items: Mapping[str, int], *, on_hold_flow: bool | None = None
    ) -> str:
        body: dict[str, Any] = {"shop_id": shop_id, "items": dict(items)}
        if on_hold_flow is not None:
            body["on_hold_flow"] = on_hold_flow
        return str((await self._call("POST", "/orders", body))["id"])

    async def pay(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/pay")

    async def fail_payment(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/fail_payment")

    async def buyer_cancel(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/buyer_cancel")

    async def fraud_cancel(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/fraud_cancel")

    async def request_cancellation(self, order_id: str) -> str:
        """The buyer asks to cancel; returns the cancellation's id."""
        return str(
            (await self._call("POST", f"/orders/{order_id}/request_cancellation"))["cancel_id"]
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/orders/{order_id}")
        return result

    async def cancel_items(self, order_id: str, line_item_ids: list[str], role: str) -> None:
        """TikTok (or the seller) cancels these units; the order lives on while any unit does."""
        body = {"line_item_ids": line_item_ids, "role": role}
        await self._call("POST", f"/orders/{order_id}/cancel_items", body)

    async def combine(self, shop_id: str, order_ids: list[str]) -> str:
        """TikTok packs these orders of one buyer together; returns the package id."""
        body = {"order_ids": order_ids}
        result = await self._call("POST", f"/shops/{shop_id}/packages/combine", body)
        return str(result["package_id"])

    async def collect(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/collect")

    async def deliver(self, order_id: str) -> None:
        await self._call("POST", f"/orders/{order_id}/deliver")

    async def create_return(self, order_id: str, line_item_ids: list[str]) -> str:
        """The buyer asks to return these units (return and refund); returns its id."""
        body = {"line_item_ids": line_item_ids, "return_type": "RETURN_AND_REFUND"}
        result = await self._call("POST", f"/orders/{order_id}/returns", body)
        return str(result["return_id"])

    async def advance_return(self, return_id: str, status: str) -> None:
        await self._call("POST", f"/returns/{return_id}/advance", {"status": status})

    async def orders(self, shop_id: str, updated_since: int | None = None) -> list[dict[str, Any]]:
        """The shop's orders (as `order` shows them), those updated at or after a Unix time."""
        params = {} if updated_since is None else {"updated_since": updated_since}
        result = await self._call("GET", f"/shops/{shop_id}/orders", params=params)
        return list(result["orders"])

    async def inventory(self, shop_id: str, seller_sku: str) -> int:
        """Units a buyer can order now, over every warehouse of the SKU."""
        return int(
            (await self._call("GET", f"/shops/{shop_id}/inventory/{seller_sku}"))["available"]
        )

    async def warehouse_stock(self, shop_id: str, seller_sku: str) -> dict[str, int]:
        """Available units per warehouse id of the SKU."""
        stock = await self._call("GET", f"/shops/{shop_id}/inventory/{seller_sku}")
        return {str(k): int(v) for k, v in stock["warehouses"].items()}

    async def promotion_lock(self, shop_id: str, seller_sku: str, locked: bool = True) -> None:
        """Lock (or unlock) the SKU for a promotion: while locked, Update Inventory may not
        lower its stock (12052393 in data.errors)."""
        await self._call(
            "POST", f"/shops/{shop_id}/skus/{seller_sku}/promotion_lock", {"locked": locked}
        )

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("PUT", "/faults", knobs)
        return result

    async def clock(self) -> datetime:
        return datetime.fromisoformat((await self._call("GET", "/clock"))["now"])

    async def tick(self) -> None:
        await self._call("POST", "/tick")


class ShopifyDriver(_Driver):
    """The Shopify sandbox's control API: stores, the merchant's acts in the admin."""

    async def create_shop(self, name: str, plan: str = "standard") -> dict[str, Any]:
        """Credentials of a new store: domain, access_token, client_secret, location_ids, ..."""
        result: dict[str, Any] = await self._call("POST", "/shops", {"name": name, "plan": plan})
        return result

    async def add_product(
        self, shop: str, title: str, variants: Sequence[Mapping[str, Any]]
    ) -> Any:
        """`variants`: [{"sku", "price", "available"}]."""
        return await self._call(
            "POST", f"/shops/{shop}/products", {"title": title, "variants": list(variants)}
        )

    async def subscribe(self, shop: str, topic: str, url: str) -> str:
        return str(
            (await self._call("POST", f"/shops/{shop}/webhooks", {"topic": topic, "url": url}))[
                "id"
            ]
        )

    async def orders(
        self,
        shop: str,
        *,
        updated_since: datetime | None = None,
        source_identifier: str | None = None,
    ) -> list[dict[str, Any]]:
        """The store's orders as snapshots, optionally only those updated at or after a moment,
        or only those mirroring one TikTok order."""
        params: dict[str, str] = {}
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        if source_identifier is not None:
            params["source_identifier"] = source_identifier
        return list(await self._call("GET", f"/shops/{shop}/orders", params=params))

    async def order(self, shop: str, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/shops/{shop}/orders/{order_id}")
        return result

    async def fulfill(
        self,
        shop: str,
        order_id: str,
        company: str | None,
        number: str,
        units: dict[str, int] | None = None,
    ) -> str:
        """Fulfil the order, or only `units` (SKU -> quantity) of it: one box."""
        body: dict[str, Any] = {"company": company, "number": number, "units": units}
        return str(
            (await self._call("POST", f"/shops/{shop}/orders/{order_id}/fulfill", body))["id"]
        )

    async def inventory(
        self, shop: str, sku: str, location_id: str | None = None
    ) -> dict[str, int]:
        """available / committed / on_hand ... of the SKU, over every location unless one
        is named."""
        params = {} if location_id is None else {"location_id": location_id}
        result: dict[str, int] = await self._call(
            "GET", f"/shops/{shop}/inventory/{sku}", params=params
        )
        return result

    async def sell(
        self,
        shop: str,
        sku: str,
        quantity: int = 1,
        channel: str = "online_store",
        location_id: str | None = None,
    ) -> dict[str, Any]:
        """A buyer's paid checkout in the online store or at POS ("pos"), committing stock
        at the location: {"order_id", "name", "available" left there}. Raises `SoldOut` when
        the variant denies overselling and too few units are available."""
        body: dict[str, Any] = {"sku": sku, "quantity": quantity, "channel": channel}
        if location_id is not None:
            body["location_id"] = location_id
        try:
            result: dict[str, Any] = await self._call("POST", f"/shops/{shop}/sales", body)
        except Refused as refused:
            if refused.status == 409:
                raise SoldOut(refused.status, str(refused)) from None
            raise
        return result

    async def set_available(
        self, shop: str, sku: str, available: int, location_id: str | None = None
    ) -> dict[str, int]:
        """The merchant sets the available count in the admin; the SKU's quantities there."""
        body: dict[str, Any] = {"sku": sku, "available": available}
        if location_id is not None:
            body["location_id"] = location_id
        result: dict[str, int] = await self._call("POST", f"/shops/{shop}/inventory/set", body)
        return result

    async def adjust(
        self, shop: str, sku: str, delta: int, location_id: str | None = None
    ) -> dict[str, int]:
        """The merchant adjusts available by `delta`; the SKU's quantities there."""
        body: dict[str, Any] = {"sku": sku, "delta": delta}
        if location_id is not None:
            body["location_id"] = location_id
        result: dict[str, int] = await self._call("POST", f"/shops/{shop}/inventory/adjust", body)
        return result

    async def add_location(self, shop: str, name: str) -> str:
        """A new active location; its gid."""
        return str((await self._call("POST", f"/shops/{shop}/locations", {"name": name}))["id"])

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/faults", knobs)
        return result

    async def drain_bucket(self, shop: str, available: float = 0.0) -> None:
        """Empty the store's cost bucket: every client is THROTTLED until it refills."""
        await self._call("POST", f"/shops/{shop}/bucket", {"available": available})

    async def tick(self) -> None:
        await self._call("POST", "/tick")
