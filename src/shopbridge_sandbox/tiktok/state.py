"""The marketplace the sandbox simulates: apps, shops, grants, the catalogue and its stock.

One `threading.RLock` guards it all, because the ASGI app runs on a server thread while tests
call the Python API from theirs. Order lifecycles live in `orders.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from shopbridge.clock import Clock
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.ids import IdFactory
from shopbridge_sandbox.tiktok.models import (
    Cancellation,
    Grant,
    Order,
    Product,
    Shop,
    Sku,
    SkuSpec,
    Warehouse,
)

# §5: "the access token lasts 7 days"; the refresh token's life is the authorization period the
# seller granted, commonly about a year (UNCONFIRMED); an auth code lives 30 minutes, used once.
ACCESS_TOKEN_LIFETIME = timedelta(days=7)
REFRESH_TOKEN_LIFETIME = timedelta(days=365)
AUTH_CODE_LIFETIME = timedelta(minutes=30)

REGIONS = ("US", "GB", "UK", "DE", "FR", "IT", "ES", "IE", "JP")


class Marketplace:
    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self.clock = clock
        self.ids = ids
        self.lock = threading.RLock()
        self.apps: dict[str, str] = {}  # app_key -> app_secret
        self.shops: dict[str, Shop] = {}
        self.grants_by_access_token: dict[str, Grant] = {}
        self.grants_by_refresh_token: dict[str, Grant] = {}
        self.auth_codes: dict[str, tuple[str, str, datetime]] = {}
        self.products: dict[str, Product] = {}
        self.skus: dict[str, Sku] = {}
        self.orders: dict[str, Order] = {}
        self.cancellations: dict[str, Cancellation] = {}

    # -- apps, shops and grants ------------------------------------------------------------

    def register_app(self, app_key: str | None = None, app_secret: str | None = None) -> str:
        with self.lock:
            key = app_key or self.ids.hex(14)
            self.apps[key] = app_secret or self.apps.get(key) or self.ids.hex(40)
            return key

    def add_shop(
        self,
        name: str,
        region: str,
        app_key: str,
        webhook_url: str | None = None,
        warehouse_names: Iterable[str] = (),
    ) -> Shop:
        if region not in REGIONS:
            raise ValueError(f"region {region!r} is not one of {', '.join(REGIONS)}")
        with self.lock:
            if app_key not in self.apps:
                raise NotFound(f"no app with app_key {app_key!r}")
            names = list(warehouse_names) or [f"{name} warehouse"]
            warehouses = [
                Warehouse(self.ids.numeric("72"), wname, is_default=(i == 0))
                for i, wname in enumerate(names)
            ]
            shop = Shop(
                id=self.ids.numeric("749"),
                cipher=self.ids.cipher(),
                code=f"{region}LC{self.ids.numeric('', 6)}",
                name=name,
                region=region,
                app_key=app_key,
                warehouses=warehouses,
                delivery_option_id=self.ids.numeric("709"),
                webhook_url=webhook_url,
            )
            self.shops[shop.id] = shop
            return shop

    def shop(self, shop_id: str) -> Shop:
        try:
            return self.shops[shop_id]
        except KeyError:
            raise NotFound(f"no shop {shop_id!r}") from None

    def shop_by_cipher(self, cipher: str) -> Shop | None:
        return next((s for s in self.shops.values() if s.cipher == cipher), None)

    def issue_grant(self, app_key: str, shop_id: str) -> Grant:
        with self.lock:
            now = self.clock.now()
            grant = Grant(
                app_key=app_key,
                shop_id=shop_id,
                access_token=self.ids.token("TTP_"),
                refresh_token=self.ids.token("TTP_"),
                access_expires_at=now + ACCESS_TOKEN_LIFETIME,
                refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
            )
            self.grants_by_access_token[grant.access_token] = grant
            self.grants_by_refresh_token[grant.refresh_token] = grant
            return grant

    def refresh_grant(self, app_key: str, refresh_token: str) -> Grant:
        """A new access token; the refresh token and its expiry stay (the old access token
        keeps working until its own expiry)."""
        with self.lock:
            old = self.grants_by_refresh_token.get(refresh_token)
            if old is None or old.app_key != app_key:
                raise NotFound("refresh_token is invalid")
            if self.clock.now() >= old.refresh_expires_at:
                raise SandboxError("refresh_token has expired; the seller must re-authorize")
            grant = Grant(
                app_key=app_key,
                shop_id=old.shop_id,
                access_token=self.ids.token("TTP_"),
                refresh_token=old.refresh_token,
                access_expires_at=self.clock.now() + ACCESS_TOKEN_LIFETIME,
                refresh_expires_at=old.refresh_expires_at,
            )
            self.grants_by_access_token[grant.access_token] = grant
            self.grants_by_refresh_token[grant.refresh_token] = grant
            return grant

    def issue_auth_code(self, shop_id: str, app_key: str) -> str:
        with self.lock:
            self.shop(shop_id)
            code = self.ids.token("ROW_", 32)
            self.auth_codes[code] = (app_key, shop_id, self.clock.now() + AUTH_CODE_LIFETIME)
            return code

    def redeem_auth_code(self, app_key: str, code: str) -> Grant:
        with self.lock:
            entry = self.auth_codes.pop(code, None)  # single use (§5)
            if entry is None or entry[0] != app_key:
                raise NotFound("auth_code is invalid or already used")
            _, shop_id, expires_at = entry
            if self.clock.now() >= expires_at:
                raise SandboxError("auth_code has expired (30 minutes)")
            return self.issue_grant(app_key, shop_id)

    # -- catalogue and stock ---------------------------------------------------------------

    def add_product(self, shop_id: str, title: str, specs: Iterable[SkuSpec]) -> Product:
        with self.lock:
            shop = self.shop(shop_id)
            warehouse_ids = {w.id for w in shop.warehouses}
            product_id = self.ids.numeric("17295")
            skus = []
            for spec in specs:
                if self.find_sku(shop_id, spec.seller_sku) is not None:
                    raise SandboxError(f"seller_sku {spec.seller_sku!r} already exists in the shop")
                stock = spec.warehouse_quantities or {shop.warehouses[0].id: spec.quantity}
                unknown = set(stock) - warehouse_ids
                if unknown:
                    raise NotFound(f"warehouses {sorted(unknown)} are not the shop's")
                skus.append(
                    Sku(
                        id=self.ids.numeric("17293"),
                        product_id=product_id,
                        seller_sku=spec.seller_sku,
                        name=spec.name or spec.seller_sku,
                        price=Decimal(str(spec.price)),
                        available={wid: int(q) for wid, q in stock.items()},
                        committed=dict.fromkeys(stock, 0),
                    )
                )
            if not skus:
                raise SandboxError("a product needs at least one SKU")
            now = self.clock.now()
            product = Product(product_id, shop_id, title, skus, create_time=now, update_time=now)
            self.products[product.id] = product
            for sku in skus:
                self.skus[sku.id] = sku
            return product

    def find_sku(self, shop_id: str, seller_sku: str) -> Sku | None:
        for product in self.products.values():
            if product.shop_id == shop_id:
                for sku in product.skus:
                    if sku.seller_sku == seller_sku:
                        return sku
        return None

    def sku(self, shop_id: str, seller_sku: str) -> Sku:
        sku = self.find_sku(shop_id, seller_sku)
        if sku is None:
            raise NotFound(f"shop {shop_id} has no seller_sku {seller_sku!r}")
        return sku

    def reserve_unit(self, sku: Sku, preferred_warehouse: str) -> str:
        """Takes one unit out of sale for an order; returns the warehouse it came from."""
        order = [preferred_warehouse, *sorted(w for w in sku.available if w != preferred_warehouse)]
        for wid in order:
            if sku.available.get(wid, 0) > 0:
                sku.available[wid] -= 1
                sku.committed[wid] = sku.committed.get(wid, 0) + 1
                return wid
        raise SandboxError(f"seller_sku {sku.seller_sku!r} is out of stock")

    def return_unit(self, sku: Sku, warehouse_id: str, shipped: bool) -> None:
        sku.available[warehouse_id] = sku.available.get(warehouse_id, 0) + 1
        if not shipped:
            sku.committed[warehouse_id] -= 1

    def ship_unit(self, sku: Sku, warehouse_id: str) -> None:
        sku.committed[warehouse_id] -= 1

    def order(self, order_id: str) -> Order:
        try:
            return self.orders[order_id]
        except KeyError:
            raise NotFound(f"no order {order_id!r}") from None

    def cancellation(self, cancel_id: str) -> Cancellation:
        try:
            return self.cancellations[cancel_id]
        except KeyError:
            raise NotFound(f"no cancellation {cancel_id!r}") from None
