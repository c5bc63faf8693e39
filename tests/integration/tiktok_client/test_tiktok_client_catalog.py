"""Warehouses, inventory and products against the TikTok sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokPermanent
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox


async def test_warehouses_include_the_default_one(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Get Warehouses lists the shop's warehouses with ids as strings."""
    warehouses = await client.get_warehouses()
    assert [w.id for w in warehouses] == sandbox.warehouse_ids(shop.shop_id)
    assert any(w.is_default for w in warehouses)


async def test_inventory_search_by_product_reports_available_units(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient, product_id: str
) -> None:
    """Inventory Search by product id reports each SKU's available units and warehouses."""
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 3})
    skus = {s.seller_sku: s for s in await client.search_inventory(product_ids=[product_id])}
    assert skus["TEE-RED-L"].total_available_quantity == 7
    assert skus["TEE-RED-L"].product_id == product_id
    assert skus["TEE-BLUE-M"].warehouse_ids == sandbox.warehouse_ids(shop.shop_id)


async def test_inventory_search_by_sku_id(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient, product_id: str
) -> None:
    """Inventory Search by sku id returns just that SKU."""
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-BLUE-M")
    (sku,) = await client.search_inventory(sku_ids=[sku_id])
    assert (sku.id, sku.product_id, sku.total_available_quantity) == (sku_id, product_id, 5)


def _cap_in_two_warehouses(sandbox: TikTokSandbox) -> tuple[ShopCredentials, str]:
    """A shop with warehouses East and West, and one SKU (CAP) stocked 2 + 2 in them."""
    two = sandbox.add_shop(name="Two warehouses", region="US", warehouses=["East", "West"])
    east, west = sandbox.warehouse_ids(two.shop_id)
    cap = SkuSpec("CAP", "9", warehouse_quantities={east: 2, west: 2})
    return two, sandbox.add_product(two.shop_id, title="Cap", skus=[cap])


async def test_update_inventory_sets_stock_in_every_warehouse(
    sandbox: TikTokSandbox, make_client: Callable[..., TikTokClient]
) -> None:
    """Update Inventory with every warehouse of the SKU sets its sellable total."""
    two, product_id = _cap_in_two_warehouses(sandbox)
    client = make_client(two)
    sku_id = sandbox.sku_id(two.shop_id, "CAP")
    east, west = sandbox.warehouse_ids(two.shop_id)
    await client.update_inventory(product_id, sku_id, {east: 6, west: 1})
    assert sandbox.inventory(two.shop_id, "CAP") == 7


async def test_update_inventory_missing_a_warehouse_is_refused(
    sandbox: TikTokSandbox, make_client: Callable[..., TikTokClient]
) -> None:
    """Leaving out one of the SKU's warehouses is refused with 12019028."""
    two, product_id = _cap_in_two_warehouses(sandbox)
    client = make_client(two)
    east, _ = sandbox.warehouse_ids(two.shop_id)
    with pytest.raises(TikTokPermanent) as caught:
        await client.update_inventory(product_id, sandbox.sku_id(two.shop_id, "CAP"), {east: 6})
    assert caught.value.code == 12019028


async def test_update_inventory_accepts_zero(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient, product_id: str
) -> None:
    """A SKU can be set to zero units (sold out elsewhere)."""
    (warehouse_id,) = sandbox.warehouse_ids(shop.shop_id)
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-BLUE-M")
    await client.update_inventory(product_id, sku_id, {warehouse_id: 0})
    assert sandbox.inventory(shop.shop_id, "TEE-BLUE-M") == 0


async def test_products_are_found_by_seller_sku(client: TikTokClient, product_id: str) -> None:
    """Search Products by seller SKU finds the product with its SKUs and prices."""
    page = await client.search_products(["TEE-BLUE-M"])
    (product,) = page.items
    assert product.id == product_id
    prices = {s.seller_sku: s.price.sale_price for s in product.skus if s.price}
    assert prices["TEE-BLUE-M"] == Decimal("17.50")


async def test_iter_products_pages_through_every_match(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """iter_products follows page tokens until every product with these SKUs is read."""
    skus = [f"SKU-{n}" for n in range(5)]
    created = {
        sandbox.add_product(shop.shop_id, title=sku, skus=[SkuSpec(sku, "3", 1)]) for sku in skus
    }
    found = {p.id async for p in client.iter_products(skus, page_size=2)}
    assert found == created
