"""The reads inventory sync makes, validated against the 2026-07 schema, with their cost
(2 per connection + `first` × node, 1 per object, lists by their ids or names)."""

from __future__ import annotations

from typing import Any

import pytest

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec

from .operations import ORDER_CREATE, order_input
from .shopify_http import Admin

LOCATION_LEVELS = """
query($id: ID!, $first: Int!, $after: String) {
  location(id: $id) {
    inventoryLevels(first: $first, after: $after) {
      nodes { item { id sku } quantities(names: ["available"]) { name quantity } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

ITEMS_BY_ID = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id sku
      inventoryLevels(first: 10) {
        nodes { location { id } quantities(names: ["available"]) { name quantity } }
      }
    }
  }
}
"""

VARIANTS = """
query($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    nodes { id sku inventoryItem { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ITEM = "query($id: ID!) { inventoryItem(id: $id) { id sku } }"


@pytest.fixture
def catalogue(sandbox: ShopifySandbox, store: StoreCredentials) -> dict[str, dict[str, str]]:
    """Three SKUs at the primary location (10, 4, 0 available); per SKU its variant and
    inventory item ids."""
    made = sandbox.add_product(
        store.name,
        "Tee",
        [
            VariantSpec(sku="TEE-RED-L", price="19.99", available=10),
            VariantSpec(sku="TEE-BLU-M", price="19.99", available=4),
        ],
    )
    cap = sandbox.add_product(store.name, "Cap", [VariantSpec(sku="CAP", price="9.00")])
    ids: dict[str, dict[str, str]] = made["variants"] | cap["variants"]
    return ids


def cost(body: dict[str, Any]) -> tuple[int, int]:
    charged = body["extensions"]["cost"]
    return charged["requestedQueryCost"], charged["actualQueryCost"]


def available(quantity: int) -> dict[str, Any]:
    return {"quantities": [{"name": "available", "quantity": quantity}]}


def test_a_locations_levels_page_through_with_their_items(
    admin: Admin, store: StoreCredentials, catalogue: dict[str, dict[str, str]]
) -> None:
    """location.inventoryLevels(first: 2) then (after: endCursor) lists every level once,
    each with its item's id and SKU and its available quantity."""
    first = admin.gql(LOCATION_LEVELS, {"id": store.location_id, "first": 2})
    page = first["data"]["location"]["inventoryLevels"]
    rest = admin.gql(
        LOCATION_LEVELS,
        {"id": store.location_id, "first": 2, "after": page["pageInfo"]["endCursor"]},
    )
    last = rest["data"]["location"]["inventoryLevels"]

    assert "errors" not in first and "errors" not in rest
    assert page["nodes"] + last["nodes"] == [
        {"item": {"id": catalogue[sku]["inventory_item_id"], "sku": sku}} | available(n)
        for sku, n in (("TEE-RED-L", 10), ("TEE-BLU-M", 4), ("CAP", 0))
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert last["pageInfo"]["hasNextPage"] is False
    # location 1 + connection 2 + first × (level 1 + item 1 + one quantity 1)
    assert cost(first) == (9, 9)
    assert cost(rest) == (9, 6)


def test_a_full_page_of_location_levels_costs_753_points(
    admin: Admin, store: StoreCredentials, catalogue: dict[str, dict[str, str]]
) -> None:
    """first: 250 is requested at 1 + 2 + 250 × 3 = 753 and charged for the 3 levels found;
    first: 251 is refused."""
    full = admin.gql(LOCATION_LEVELS, {"id": store.location_id, "first": 250})
    too_many = admin.gql(LOCATION_LEVELS, {"id": store.location_id, "first": 251})

    assert len(full["data"]["location"]["inventoryLevels"]["nodes"]) == 3
    assert cost(full) == (753, 1 + 2 + 3 * 3)
    assert "first must be between 0 and 250" in too_many["errors"][0]["message"]


def test_a_new_locations_levels_are_its_own(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, catalogue: Any
) -> None:
    """A location lists only what is stocked there."""
    pop_up = sandbox.add_location(store.name, "Pop-up")
    sandbox.set_available(store.name, "CAP", 7, pop_up)

    data = admin.data(LOCATION_LEVELS, {"id": pop_up, "first": 10})

    assert data["location"]["inventoryLevels"]["nodes"] == [
        {"item": {"id": catalogue["CAP"]["inventory_item_id"], "sku": "CAP"}} | available(7)
    ]


def test_items_by_id_show_their_levels_at_every_location(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, catalogue: Any
) -> None:
    """nodes(ids:) with one item: its levels per location; requested 1 × (1 + 2 + 10 × 3)
    = 33 points, charged 1 + 2 + 2 levels × 3 = 9."""
    pop_up = sandbox.add_location(store.name, "Pop-up")
    sandbox.set_available(store.name, "TEE-RED-L", 2, pop_up)
    item = catalogue["TEE-RED-L"]["inventory_item_id"]

    body = admin.gql(ITEMS_BY_ID, {"ids": [item]})

    assert "errors" not in body
    assert body["data"]["nodes"] == [
        {
            "id": item,
            "sku": "TEE-RED-L",
            "inventoryLevels": {
                "nodes": [
                    {"location": {"id": store.location_id}} | available(10),
                    {"location": {"id": pop_up}} | available(2),
                ]
            },
        }
    ]
    assert cost(body) == (33, 9)


def test_items_by_id_are_charged_per_id(
    admin: Admin, store: StoreCredentials, catalogue: dict[str, dict[str, str]]
) -> None:
    """An unknown id answers null (charged 1); 30 ids request 990 points, 31 ids 1023, which
    is over the single-query maximum and refused before running."""
    item = catalogue["CAP"]["inventory_item_id"]
    unknown = "gid://shopify/InventoryItem/999999"

    two = admin.gql(ITEMS_BY_ID, {"ids": [item, unknown]})
    thirty = admin.gql(ITEMS_BY_ID, {"ids": [item] * 30})
    refused = admin.gql(ITEMS_BY_ID, {"ids": [item] * 31})

    assert two["data"]["nodes"][1] is None
    assert cost(two) == (66, (1 + 2 + 3) + 1)
    assert cost(thirty) == (990, 30 * 6)
    assert refused["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert refused["errors"][0]["extensions"]["cost"] == 1023
    assert "data" not in refused


def test_nodes_finds_every_kind_it_keeps(
    admin: Admin, store: StoreCredentials, catalogue: dict[str, dict[str, str]]
) -> None:
    """nodes(ids:) answers orders, variants and locations too, each as its own type."""
    order = admin.data(ORDER_CREATE, {"order": order_input(catalogue["CAP"]["id"])})
    order_id = order["orderCreate"]["order"]["id"]
    ids = [order_id, catalogue["CAP"]["id"], store.location_id]

    data = admin.data("query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": ids})

    assert data["nodes"] == [
        {"__typename": "Order", "id": order_id},
        {"__typename": "ProductVariant", "id": catalogue["CAP"]["id"]},
        {"__typename": "Location", "id": store.location_id},
    ]


def test_variants_page_through_with_their_inventory_items(
    admin: Admin, catalogue: dict[str, dict[str, str]]
) -> None:
    """productVariants(first: 2, after:) walks the catalogue; 2 + 2 × 2 points per page."""
    first = admin.gql(VARIANTS, {"first": 2})
    page = first["data"]["productVariants"]
    rest = admin.data(VARIANTS, {"first": 2, "after": page["pageInfo"]["endCursor"]})

    assert page["nodes"] + rest["productVariants"]["nodes"] == [
        {"id": ids["id"], "sku": sku, "inventoryItem": {"id": ids["inventory_item_id"]}}
        for sku, ids in catalogue.items()
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert rest["productVariants"]["pageInfo"]["hasNextPage"] is False
    assert cost(first) == (6, 6)
    assert cost(admin.gql(VARIANTS, {"first": 250}))[0] == 2 + 250 * 2


def test_an_inventory_item_is_read_by_id(
    admin: Admin, catalogue: dict[str, dict[str, str]]
) -> None:
    """inventoryItem(id:) answers its id and SKU for 1 point; an unknown id answers null."""
    item = catalogue["TEE-BLU-M"]["inventory_item_id"]

    found = admin.gql(ITEM, {"id": item})
    missing = admin.data(ITEM, {"id": "gid://shopify/InventoryItem/999999"})

    assert found["data"] == {"inventoryItem": {"id": item, "sku": "TEE-BLU-M"}}
    assert cost(found) == (1, 1)
    assert missing == {"inventoryItem": None}
