"""The marketplace the sandbox simulates: shops, the catalogue and its stock; apps and what
sellers granted them live in `grants.GrantBook` (`market.grants`).

One `threading.RLock` guards it all, because the ASGI app runs on a server thread while tests
call the Python API from theirs. Order lifecycles live in `orders.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from decimal import Decimal

from shopbridge.clock import Clock
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.grants import GrantBook
from shopbridge_sandbox.tiktok.ids import IdFactory
from shopbridge_sandbox.tiktok.models import (
    Cancellation,
    Order,
    Package,
    Product,
    Return,
    Shop,
    Sku,
    SkuSpec,
    Warehouse,
)

REGIONS = ("US", "GB", "UK", "DE", "FR", "IT", "ES", "IE", "JP")


class Marketplace:
    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self.clock = clock
        self.ids = ids
        self.lock = threading.RLock()
        self.grants = GrantBook(clock, ids, self.lock)
        self.shops: dict[str, Shop] = {}
        self.products: dict[str, Product] = {}
        self.skus: dict[str, Sku] = {}
        self.orders: dict[str, Order] = {}
        self.cancellations: dict[str, Cancellation] = {}
        self.packages: dict[str, Package] = {}
        self.returns: dict[str, Return] = {}

    # -- shops ----------------------------------------------------------------------------

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
            self.grants.app(app_key)
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

    def package(self, package_id: str) -> Package:
        package = self.packages.get(package_id)
        if package is None or package.dissolved:
            raise NotFound(f"no package {package_id!r}")
        return package

    def return_request(self, return_id: str) -> Return:
        try:
            return self.returns[return_id]
        except KeyError:
            raise NotFound(f"no return {return_id!r}") from None
