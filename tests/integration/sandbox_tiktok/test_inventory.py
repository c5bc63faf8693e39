"""Stock: reservation by orders, return on every cancellation, and the product APIs (§4.4)."""

from __future__ import annotations

import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok import SandboxError, ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient


def inventory_of(api: SignedClient, sku_id: str) -> dict[str, object]:
    found = api.ok("POST", "/product/202309/inventory/search", body={"sku_ids": [sku_id]})
    return found["inventory"][0]["skus"][0]  # type: ignore[no-any-return]


def test_creating_an_order_reserves_its_units(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """An unpaid order already takes its units out of sale and counts them as committed."""
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 3})
    sku = inventory_of(api, sandbox.sku_id(shop.shop_id, "TEE-RED-L"))
    assert sku["total_available_quantity"] == 7
    assert sku["total_committed_quantity"] == 3


@pytest.mark.parametrize(
    "cancel", ["buyer_cancel", "fraud_cancel", "timeout", "approved_request", "seller"]
)
def test_every_cancellation_returns_the_units(
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
    cancel: str,
) -> None:
    """Whatever cancels the order, its units come back to available."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2}, paid=cancel != "timeout")
    if cancel == "buyer_cancel":
        sandbox.buyer_cancel(order_id)
    elif cancel == "fraud_cancel":
        sandbox.fraud_cancel(order_id)
    elif cancel == "timeout":
        clock.advance(24 * 3600)
    elif cancel == "approved_request":
        clock.advance(7200)
        cancel_id = sandbox.request_cancellation(order_id)
        api.ok("POST", f"/return_refund/202309/cancellations/{cancel_id}/approve")
    else:
        body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_wrong_price"}
        api.ok("POST", "/return_refund/202309/cancellations", body=body)
    assert sandbox.order(order_id)["status"] == "CANCELLED"
    sku = inventory_of(api, sandbox.sku_id(shop.shop_id, "TEE-RED-L"))
    assert (sku["total_available_quantity"], sku["total_committed_quantity"]) == (10, 0)


def test_an_order_beyond_stock_is_refused_and_reserves_nothing(
    sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """Buyers cannot buy more than is available; a refused order holds no units."""
    with pytest.raises(SandboxError, match="out of stock"):
        sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2, "TEE-BLU-M": 6})
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10
    assert sandbox.inventory(shop.shop_id, "TEE-BLU-M") == 5


def test_inventory_update_sets_the_available_quantity(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """Update Inventory sets the sellable quantity per warehouse; 0 is accepted."""
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    product_id = api.ok("POST", "/product/202309/inventory/search", body={"sku_ids": [sku_id]})[
        "inventory"
    ][0]["product_id"]
    warehouse = sandbox.warehouse_ids(shop.shop_id)[0]
    body = {"skus": [{"id": sku_id, "inventory": [{"warehouse_id": warehouse, "quantity": 0}]}]}
    api.ok("POST", f"/product/202309/products/{product_id}/inventory/update", body=body)
    assert inventory_of(api, sku_id)["total_available_quantity"] == 0


def test_inventory_update_must_name_every_warehouse_of_the_sku(
    api: SignedClient, sandbox: TikTokSandbox
) -> None:
    """A SKU stocked in two warehouses refuses an update naming one: 12019028, no change."""
    shop = sandbox.add_shop(name="Two warehouses", region="US", warehouses=["East", "West"])
    east, west = sandbox.warehouse_ids(shop.shop_id)
    product_id = sandbox.add_product(
        shop.shop_id, "Mug", [SkuSpec("MUG", "9.00", warehouse_quantities={east: 4, west: 6})]
    )
    sku_id = sandbox.sku_id(shop.shop_id, "MUG")
    path = f"/product/202309/products/{product_id}/inventory/update"
    one = {"skus": [{"id": sku_id, "inventory": [{"warehouse_id": east, "quantity": 1}]}]}
    assert api.error("POST", path, body=one, shop=shop)[1] == 12019028
    assert sandbox.inventory(shop.shop_id, "MUG") == 10
    both = {
        "skus": [
            {
                "id": sku_id,
                "inventory": [
                    {"warehouse_id": east, "quantity": 1},
                    {"warehouse_id": west, "quantity": 2},
                ],
            }
        ]
    }
    api.ok("POST", path, body=both, shop=shop)
    assert sandbox.inventory(shop.shop_id, "MUG") == 3


@pytest.mark.parametrize("version", ["202502", "202309"])
def test_product_search_filters_by_seller_sku(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, version: str
) -> None:
    """Search Products (202502, and 202309 as ECOM calls it) finds a product by seller_sku."""
    sandbox.add_product(shop.shop_id, "Tote", [SkuSpec("TOTE", "24.50", 3)])
    found = api.ok(
        "POST",
        f"/product/{version}/products/search",
        {"page_size": "20"},
        {"seller_skus": ["TOTE"]},
    )
    assert [p["title"] for p in found["products"]] == ["Tote"]
    sku = found["products"][0]["skus"][0]
    assert sku["seller_sku"] == "TOTE"
    assert sku["price"]["sale_price"] == "24.50"
    assert sku["inventory"][0]["quantity"] == 3


def test_product_search_requires_a_page_size(api: SignedClient) -> None:
    """page_size is required on Search Products: 36009004 with HTTP 400."""
    assert api.error("POST", "/product/202502/products/search", body={})[:2] == (400, 36009004)
