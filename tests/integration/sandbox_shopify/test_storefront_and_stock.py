"""What inventory sync watches on Shopify: storefront and POS sales, the merchant's counts,
new locations, and the inventory_levels/update payload (shopify_api_wave2.md §2.4, §6)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec

from .shopify_http import Admin, WebhookSink

LEVEL_GID = re.compile(r"gid://shopify/InventoryLevel/(\d+)\?inventory_item_id=(\d+)")


def numeric(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def control(admin: Admin, path: str, body: dict[str, Any]) -> Any:
    """POST to the demo shop's control API; the answer of a call that must succeed."""
    answer = admin.http.post(f"/_sandbox/shops/demo/{path}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def stock_at(admin: Admin, location_id: str) -> dict[str, int]:
    answer = admin.http.get(
        "/_sandbox/shops/demo/inventory/TEE-RED-L", params={"location_id": location_id}
    )
    assert answer.status_code == 200, answer.text
    stock: dict[str, int] = answer.json()
    return stock


async def test_an_online_store_sale_is_a_paid_web_order_that_commits_stock(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """A storefront checkout of 2: a paid "web" order, available 10 → 8, committed 2,
    orders/create and inventory_levels/update sent."""
    sandbox.subscribe_webhook(store.name, "orders/create", sink.url)
    sandbox.subscribe_webhook(store.name, "inventory_levels/update", sink.url)

    sold = control(admin, "sales", {"sku": "TEE-RED-L", "quantity": 2})
    await sandbox.tick()

    assert sorted(sold) == ["available", "name", "order_id"]
    assert (sold["name"], sold["available"]) == ("#1001", 8)
    order = sandbox.order(store.name, sold["order_id"])
    assert (order["source_name"], order["financial_status"]) == ("web", "PAID")
    assert (order["total"], order["outstanding"]) == ("39.98", "0.00")
    [line] = order["line_items"]
    assert (line["sku"], line["quantity"], line["committed"]) == ("TEE-RED-L", 2, 2)
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (8, 2, 10)
    [created] = sink.topic("orders/create")
    assert created.json["admin_graphql_api_id"] == sold["order_id"]
    assert created.json["id"] == numeric(sold["order_id"])
    assert (created.json["source_name"], created.json["financial_status"]) == ("web", "paid")
    assert created.json["line_items"][0]["sku"] == "TEE-RED-L"
    [level] = sink.topic("inventory_levels/update")
    assert level.json["available"] == 8


def test_a_pos_sale_commits_stock_at_its_own_location(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """A POS sale at a second location is a "pos" order and moves only that location's stock."""
    shop_floor = control(admin, "locations", {"name": "Shop floor"})["id"]
    control(
        admin,
        "inventory/set",
        {"sku": "TEE-RED-L", "available": 3, "location_id": numeric(shop_floor)},
    )

    sold = control(
        admin, "sales", {"sku": "TEE-RED-L", "channel": "pos", "location_id": shop_floor}
    )

    assert sold["available"] == 2
    assert sandbox.order(store.name, sold["order_id"])["source_name"] == "pos"
    floor = stock_at(admin, shop_floor)
    assert (floor["available"], floor["committed"]) == (2, 1)
    warehouse = stock_at(admin, store.location_id)
    assert (warehouse["available"], warehouse["committed"]) == (10, 0)


async def test_a_deny_variant_without_enough_stock_is_sold_out(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """Checkout of 11 when 10 are available (DENY): 409 "sold out", no order, no webhook."""
    sandbox.subscribe_webhook(store.name, "orders/create", sink.url)
    sandbox.subscribe_webhook(store.name, "inventory_levels/update", sink.url)

    refused = admin.http.post(
        "/_sandbox/shops/demo/sales", json={"sku": "TEE-RED-L", "quantity": 11}
    )
    await sandbox.tick()

    assert refused.status_code == 409
    assert "sold out" in refused.json()["error"]
    assert sandbox.orders(store.name) == []
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"]) == (10, 0)
    assert sink.received == []


def test_a_continue_variant_sells_into_negative(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """With inventory policy CONTINUE, selling 3 of 1 leaves available at -2."""
    sandbox.add_product(
        store.name,
        "Preorder cap",
        [VariantSpec(sku="CAP-PRE", price="12.00", available=1, inventory_policy="CONTINUE")],
    )

    sold = control(admin, "sales", {"sku": "CAP-PRE", "quantity": 3})

    assert sold["available"] == -2
    stock = sandbox.inventory(store.name, "CAP-PRE")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (-2, 3, 1)


def test_a_sale_names_a_known_sku_location_and_channel(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """Unknown SKU or location: 404; unknown channel or a quantity of 0: 400; nothing sold."""
    sales = "/_sandbox/shops/demo/sales"

    no_sku = admin.http.post(sales, json={"sku": "NOPE"})
    no_location = admin.http.post(sales, json={"sku": "TEE-RED-L", "location_id": 999999})
    bad_channel = admin.http.post(sales, json={"sku": "TEE-RED-L", "channel": "tiktok"})
    zero = admin.http.post(sales, json={"sku": "TEE-RED-L", "quantity": 0})

    assert (no_sku.status_code, no_location.status_code) == (404, 404)
    assert "NOPE" in no_sku.json()["error"]
    assert "999999" in no_location.json()["error"]
    assert (bad_channel.status_code, zero.status_code) == (400, 400)
    assert "channel" in bad_channel.json()["error"]
    assert "quantity" in zero.json()["error"]
    assert sandbox.orders(store.name) == []


async def test_setting_available_emits_one_update_only_when_it_changes(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """The merchant sets 4 (one inventory_levels/update), then 4 again (none)."""
    sandbox.subscribe_webhook(store.name, "inventory_levels/update", sink.url)

    first = control(admin, "inventory/set", {"sku": "TEE-RED-L", "available": 4})
    again = control(admin, "inventory/set", {"sku": "TEE-RED-L", "available": 4})
    await sandbox.tick()

    assert (first["available"], first["on_hand"]) == (4, 4)
    assert again == first
    [hook] = sink.topic("inventory_levels/update")
    assert hook.json["available"] == 4


def test_setting_available_refuses_what_is_not_a_count_or_not_there(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """Strings, fractions, booleans and negatives are 400; unknown SKU or location 404."""
    path = "/_sandbox/shops/demo/inventory/set"

    refusals = [
        admin.http.post(path, json={"sku": "TEE-RED-L", "available": bad})
        for bad in ("4", 4.5, True, -1)
    ]
    no_sku = admin.http.post(path, json={"sku": "NOPE", "available": 1})
    no_location = admin.http.post(
        path,
        json={"sku": "TEE-RED-L", "available": 1, "location_id": "gid://shopify/Location/999"},
    )

    assert [r.status_code for r in refusals] == [400, 400, 400, 400]
    assert all("available" in r.json()["error"] for r in refusals)
    assert (no_sku.status_code, no_location.status_code) == (404, 404)
    assert "no variant with SKU 'NOPE'" in no_sku.json()["error"]
    assert "no location gid://shopify/Location/999" in no_location.json()["error"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_a_new_location_is_active_and_can_be_stocked(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """POST /locations makes an active location; adjusting stock there stocks the item."""
    made = control(admin, "locations", {"name": "Pop-up"})

    adjusted = control(
        admin, "inventory/adjust", {"sku": "TEE-RED-L", "delta": 5, "location_id": made["id"]}
    )
    listed = admin.data("{ locations(first: 10) { nodes { id name isActive } } }")
    level = admin.data(
        """query($item: ID!, $loc: ID!) { inventoryItem(id: $item) {
             inventoryLevel(locationId: $loc) {
               quantities(names: ["available"]) { quantity } } } }""",
        {"item": tee["inventory_item_id"], "loc": made["id"]},
    )

    assert re.fullmatch(r"gid://shopify/Location/\d+", made["id"])
    assert {"id": made["id"], "name": "Pop-up", "isActive": True} in listed["locations"]["nodes"]
    assert made["id"] in sandbox.credentials(store.name).location_ids
    assert adjusted["available"] == 5
    assert level["inventoryItem"]["inventoryLevel"]["quantities"] == [{"quantity": 5}]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 15


def test_a_location_name_is_required_and_unique(admin: Admin, store: StoreCredentials) -> None:
    """A second location with the primary's name, or none, is refused with 400."""
    taken = admin.http.post("/_sandbox/shops/demo/locations", json={"name": "Main warehouse"})
    blank = admin.http.post("/_sandbox/shops/demo/locations", json={"name": " "})

    assert (taken.status_code, blank.status_code) == (400, 400)
    assert "already has a location named 'Main warehouse'" in taken.json()["error"]


async def test_inventory_levels_update_carries_the_rest_shape(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """The payload is exactly Shopify's REST level: numeric ids, available, an ISO 8601
    updated_at with a numeric offset, and the level's gid carrying the item id."""
    sandbox.subscribe_webhook(store.name, "inventory_levels/update", sink.url)

    control(admin, "inventory/adjust", {"sku": "TEE-RED-L", "delta": -1})
    await sandbox.tick()

    [hook] = sink.topic("inventory_levels/update")
    payload = hook.json
    item_id = numeric(tee["inventory_item_id"])
    assert sorted(payload) == [
        "admin_graphql_api_id",
        "available",
        "inventory_item_id",
        "location_id",
        "updated_at",
    ]
    assert payload["inventory_item_id"] == item_id
    assert payload["location_id"] == numeric(store.location_id)
    assert payload["available"] == 9
    assert payload["updated_at"] == "2026-11-02T09:00:00+00:00"
    assert datetime.fromisoformat(payload["updated_at"]).utcoffset() is not None
    match = LEVEL_GID.fullmatch(payload["admin_graphql_api_id"])
    assert match is not None and int(match[2]) == item_id
