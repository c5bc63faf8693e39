"""What inventory sync meets on TikTok: stock per warehouse, Update Inventory for several SKUs,
the promotion lock (wave2 §3.1) and the per-API rate limit (wave2 §7)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.driver import Refused, TikTokDriver
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient, loopback_client

PROMOTION_LOCKED = {
    "code": 12052393,
    "message": "Product locked for Promotion and stock can't be updated below current stock",
}


class FrozenMonotonic:
    """Real-time stand-in for the rate limiter that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox(clock: ManualClock) -> TikTokSandbox:
    return TikTokSandbox(clock=clock, faults=Faults(seed=1), rate_limit_clock=FrozenMonotonic())


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(f"{server.base_url}/_sandbox") as client:
        yield client


@pytest.fixture
async def driver(server: BackgroundServer) -> AsyncIterator[TikTokDriver]:
    client = TikTokDriver(server.base_url)
    yield client
    await client.aclose()


@pytest.fixture
def hoodies(sandbox: TikTokSandbox, shop: ShopCredentials) -> str:
    """A product of two SKUs in the shop's one warehouse: HOOD-S x5, HOOD-M x8."""
    return sandbox.add_product(
        shop.shop_id, "Hoodie", [SkuSpec("HOOD-S", "40.00", 5), SkuSpec("HOOD-M", "40.00", 8)]
    )


def update_path(product_id: str) -> str:
    return f"/product/202309/products/{product_id}/inventory/update"


def setting(
    sandbox: TikTokSandbox, shop: ShopCredentials, quantities: dict[str, int]
) -> dict[str, Any]:
    """An Update Inventory body setting each seller SKU to its quantity in the shop's one
    warehouse."""
    [warehouse] = sandbox.warehouse_ids(shop.shop_id)
    return {
        "skus": [
            {
                "id": sandbox.sku_id(shop.shop_id, seller_sku),
                "inventory": [{"warehouse_id": warehouse, "quantity": quantity}],
            }
            for seller_sku, quantity in quantities.items()
        ]
    }


def test_update_inventory_for_two_products_shares_one_rate_window(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, hoodies: str
) -> None:
    """The limit is per API, not per path: 25 updates of each of two products pass, the 51st
    update in the second (of either product) is HTTP 429 / 36009002; other APIs still answer."""
    mugs = sandbox.add_product(shop.shop_id, "Mug", [SkuSpec("MUG", "9.00", 3)])
    mug = setting(sandbox, shop, {"MUG": 3})
    hood = setting(sandbox, shop, {"HOOD-S": 5})

    for _ in range(25):
        api.ok("POST", update_path(mugs), body=mug)
        api.ok("POST", update_path(hoodies), body=hood)

    assert api.error("POST", update_path(hoodies), body=hood)[:2] == (429, 36009002)
    assert api.error("POST", update_path(mugs), body=mug)[:2] == (429, 36009002)
    api.ok("POST", "/product/202309/inventory/search", body={"product_ids": [hoodies]})


def test_a_shop_lists_a_sku_in_several_warehouses(control: httpx.Client) -> None:
    """A shop made with three warehouses; a SKU stocked in two of them reads back its total,
    its per-warehouse split and nothing committed."""
    shop = control.post(
        "/shops", json={"name": "Multi", "region": "US", "warehouses": ["East", "West", "North"]}
    ).json()
    east, west, north = shop["warehouse_ids"]
    sku = {"seller_sku": "MUG", "price": "9.00", "warehouse_quantities": {east: 4, west: 6}}
    made = control.post(f"/shops/{shop['shop_id']}/products", json={"title": "Mug", "skus": [sku]})

    stock = control.get(f"/shops/{shop['shop_id']}/inventory/MUG").json()

    assert made.status_code == 200
    assert north not in stock["warehouses"]
    assert stock == {
        "seller_sku": "MUG",
        "available": 10,
        "warehouses": {east: 4, west: 6},
        "committed": 0,
        "promotion_locked": False,
    }


def test_a_buyers_order_takes_units_from_any_warehouse_with_stock(
    control: httpx.Client, sandbox: TikTokSandbox
) -> None:
    """5 units of a SKU with 4 in East and 6 in West: East empties, West gives the fifth; a
    SKU stocked only in a second warehouse sells from there."""
    shop = sandbox.add_shop(name="Multi", region="US", warehouses=["East", "West"])
    east, west = sandbox.warehouse_ids(shop.shop_id)
    sandbox.add_product(
        shop.shop_id,
        "Mugs",
        [
            SkuSpec("MUG", "9.00", warehouse_quantities={east: 4, west: 6}),
            SkuSpec("MUG-WEST", "9.00", warehouse_quantities={west: 2}),
        ],
    )

    mugs = control.post("/orders", json={"shop_id": shop.shop_id, "items": {"MUG": 5}})
    west_only = control.post("/orders", json={"shop_id": shop.shop_id, "items": {"MUG-WEST": 1}})

    assert (mugs.status_code, west_only.status_code) == (200, 200)
    stock = control.get(f"/shops/{shop.shop_id}/inventory/MUG").json()
    assert (stock["available"], stock["warehouses"], stock["committed"]) == (
        5,
        {east: 0, west: 5},
        5,
    )
    assert control.get(f"/shops/{shop.shop_id}/inventory/MUG-WEST").json()["warehouses"] == {
        west: 1
    }


def test_a_sku_sold_out_in_every_warehouse_cannot_be_ordered(
    api: SignedClient, control: httpx.Client, sandbox: TikTokSandbox
) -> None:
    """Once Update Inventory sets every warehouse to 0, a buyer's order is refused (409) and
    holds nothing: the buyer cannot buy what TikTok shows as sold out."""
    shop = sandbox.add_shop(name="Multi", region="US", warehouses=["East", "West"])
    east, west = sandbox.warehouse_ids(shop.shop_id)
    product_id = sandbox.add_product(
        shop.shop_id, "Mug", [SkuSpec("MUG", "9.00", warehouse_quantities={east: 1, west: 2})]
    )
    zero = {
        "skus": [
            {
                "id": sandbox.sku_id(shop.shop_id, "MUG"),
                "inventory": [
                    {"warehouse_id": east, "quantity": 0},
                    {"warehouse_id": west, "quantity": 0},
                ],
            }
        ]
    }
    api.ok("POST", update_path(product_id), body=zero, shop=shop)

    refused = control.post("/orders", json={"shop_id": shop.shop_id, "items": {"MUG": 1}})

    assert refused.status_code == 409
    assert "out of stock" in refused.json()["error"]
    stock = control.get(f"/shops/{shop.shop_id}/inventory/MUG").json()
    assert (stock["available"], stock["committed"]) == (0, 0)
    assert sandbox.order_ids(shop.shop_id) == []


def test_one_update_sets_several_skus_of_a_product(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, hoodies: str
) -> None:
    """Both SKUs of the product named in one call are set; the answer has no errors."""
    data = api.ok(
        "POST", update_path(hoodies), body=setting(sandbox, shop, {"HOOD-S": 1, "HOOD-M": 2})
    )

    assert data.get("errors", []) == []
    assert sandbox.inventory(shop.shop_id, "HOOD-S") == 1
    assert sandbox.inventory(shop.shop_id, "HOOD-M") == 2


def test_one_bad_sku_entry_refuses_the_whole_update(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, hoodies: str
) -> None:
    """A quantity out of range on the second SKU refuses the call; the first SKU is untouched."""
    body = setting(sandbox, shop, {"HOOD-S": 1, "HOOD-M": 100_000})

    assert api.error("POST", update_path(hoodies), body=body)[1] == 12052251
    assert sandbox.inventory(shop.shop_id, "HOOD-S") == 5
    assert sandbox.inventory(shop.shop_id, "HOOD-M") == 8


def test_a_promotion_locked_sku_is_not_lowered_while_the_others_apply(
    api: SignedClient,
    control: httpx.Client,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    hoodies: str,
) -> None:
    """Locked HOOD-S set 5 → 3 next to HOOD-M 8 → 2: code 0, data.errors names HOOD-S with
    12052393, HOOD-S stays 5 and HOOD-M becomes 2."""
    locked = control.post(
        f"/shops/{shop.shop_id}/skus/HOOD-S/promotion_lock", json={"locked": True}
    )

    response = api.request(
        "POST", update_path(hoodies), body=setting(sandbox, shop, {"HOOD-S": 3, "HOOD-M": 2})
    )

    assert locked.json()["promotion_locked"] is True
    assert (response.status_code, response.json()["code"]) == (200, 0)
    assert response.json()["data"]["errors"] == [
        PROMOTION_LOCKED
        | {"detail": {"sku_id": sandbox.sku_id(shop.shop_id, "HOOD-S"), "extra_errors": []}}
    ]
    assert sandbox.inventory(shop.shop_id, "HOOD-S") == 5
    assert sandbox.inventory(shop.shop_id, "HOOD-M") == 2


def test_a_promotion_locked_sku_may_rise_and_an_unlocked_one_fall(
    api: SignedClient,
    control: httpx.Client,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    hoodies: str,
) -> None:
    """The lock only stops decreases: 5 → 7 applies while locked; after unlocking 7 → 1 does."""
    lock = f"/shops/{shop.shop_id}/skus/HOOD-S/promotion_lock"
    control.post(lock, json={"locked": True})

    raised = api.ok("POST", update_path(hoodies), body=setting(sandbox, shop, {"HOOD-S": 7}))
    unlocked = control.post(lock, json={"locked": False}).json()
    lowered = api.ok("POST", update_path(hoodies), body=setting(sandbox, shop, {"HOOD-S": 1}))

    assert (raised.get("errors", []), lowered.get("errors", [])) == ([], [])
    assert unlocked["promotion_locked"] is False
    assert sandbox.inventory(shop.shop_id, "HOOD-S") == 1


def test_a_promotion_lock_needs_a_boolean_and_a_known_sku(
    control: httpx.Client, shop: ShopCredentials
) -> None:
    """locked must be true or false (400); an unknown seller SKU is 404."""
    not_bool = control.post(
        f"/shops/{shop.shop_id}/skus/TEE-RED-L/promotion_lock", json={"locked": "yes"}
    )
    unknown = control.post(f"/shops/{shop.shop_id}/skus/NOPE/promotion_lock", json={})

    assert not_bool.status_code == 400
    assert "locked" in not_bool.json()["error"]
    assert unknown.status_code == 404


async def test_the_driver_reads_warehouse_stock_and_locks_a_sku(
    driver: TikTokDriver, sandbox: TikTokSandbox
) -> None:
    """create_shop(warehouses=...), warehouse_stock and promotion_lock over the control API."""
    shop = await driver.create_shop("Multi", warehouses=["East", "West"])
    east, west = shop["warehouse_ids"]
    await driver.add_product(
        shop["shop_id"],
        "Mug",
        [{"seller_sku": "MUG", "price": "9.00", "warehouse_quantities": {east: 4, west: 6}}],
    )

    split = await driver.warehouse_stock(shop["shop_id"], "MUG")
    await driver.promotion_lock(shop["shop_id"], "MUG")

    assert split == {east: 4, west: 6}
    assert await driver.inventory(shop["shop_id"], "MUG") == 10
    assert sandbox.stock(shop["shop_id"], "MUG")["promotion_locked"] is True
    with pytest.raises(Refused) as refused:
        await driver.warehouse_stock(shop["shop_id"], "NOPE")
    assert refused.value.status == 404
