"""Inventory mutations of 2026-07: the required @idempotent key and compare-and-swap."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .shopify_http import Admin

ADJUST = """
mutation Adj($in: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $in) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""

ADJUST_WITHOUT_KEY = """
mutation Adj($in: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $in) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

SET = """
mutation Set($in: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $in) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""


def adjustment(tee: dict[str, Any], store: StoreCredentials, delta: int) -> dict[str, Any]:
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://tiktok-mirror/Order/577000111222333",
        "changes": [
            {
                "inventoryItemId": tee["inventory_item_id"],
                "locationId": store.location_id,
                "delta": delta,
            }
        ],
    }


def setting(
    tee: dict[str, Any], store: StoreCredentials, name: str, quantity: int, **expected: Any
) -> dict[str, Any]:
    """InventorySetQuantitiesInput for the tee at the primary location; `expected` may hold
    changeFromQuantity (left out when not given)."""
    row = {
        "inventoryItemId": tee["inventory_item_id"],
        "locationId": store.location_id,
        "quantity": quantity,
        **expected,
    }
    return {"name": name, "reason": "correction", "quantities": [row]}


def test_the_same_idempotency_key_applies_an_adjustment_once(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """A retried inventoryAdjustQuantities with the same key returns the same group, moves once."""
    variables = {"in": adjustment(tee, store, -2), "key": "tts-577-adj-1"}

    first = admin.data(ADJUST, variables)["inventoryAdjustQuantities"]
    retry = admin.data(ADJUST, variables)["inventoryAdjustQuantities"]

    assert first["userErrors"] == []
    assert retry == first
    assert first["inventoryAdjustmentGroup"]["changes"] == [
        {"name": "available", "delta": -2, "quantityAfterChange": 8},
        {"name": "on_hand", "delta": -2, "quantityAfterChange": 8},
    ]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 8


def test_a_reused_key_with_other_input_is_a_mismatch(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """The same key with a different delta is IDEMPOTENCY_KEY_PARAMETER_MISMATCH, no change."""
    admin.data(ADJUST, {"in": adjustment(tee, store, -2), "key": "k-1"})

    other = admin.data(ADJUST, {"in": adjustment(tee, store, -5), "key": "k-1"})

    errors = other["inventoryAdjustQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 8


def test_an_inventory_mutation_without_idempotent_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """2026-07 requires @idempotent on inventoryAdjustQuantities: an error, stock untouched."""
    body = admin.gql(ADJUST_WITHOUT_KEY, {"in": adjustment(tee, store, -2)})

    assert body["data"] == {"inventoryAdjustQuantities": None}
    [error] = body["errors"]
    assert "@idempotent" in error["message"]
    assert error["path"] == ["inventoryAdjustQuantities"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_a_blank_idempotency_key_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """A whitespace-only key counts as no key."""
    body = admin.gql(ADJUST, {"in": adjustment(tee, store, -2), "key": "  "})

    assert "@idempotent" in body["errors"][0]["message"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_set_quantities_with_a_stale_change_from_quantity_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """inventorySetQuantities expecting 9 when 10 are available: CHANGE_FROM_QUANTITY_STALE."""
    set_input = setting(tee, store, "available", 4, changeFromQuantity=9)

    stale = admin.data(SET, {"in": set_input, "key": "set-1"})["inventorySetQuantities"]

    assert [e["code"] for e in stale["userErrors"]] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_set_quantities_with_a_current_change_from_quantity_applies(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """inventorySetQuantities(on_hand: 4, changeFromQuantity: 10) moves available by -6."""
    set_input = setting(tee, store, "on_hand", 4, changeFromQuantity=10)

    done = admin.data(SET, {"in": set_input, "key": "set-2"})["inventorySetQuantities"]

    assert done["userErrors"] == []
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["on_hand"]) == (4, 4)


def test_set_quantities_without_change_from_quantity_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """changeFromQuantity must be passed explicitly (null allowed) on inventorySetQuantities."""
    set_input = setting(tee, store, "available", 4)

    refused = admin.data(SET, {"in": set_input, "key": "set-3"})["inventorySetQuantities"]

    assert refused["inventoryAdjustmentGroup"] is None
    assert [e["field"] for e in refused["userErrors"]] == [
        ["input", "quantities", "0", "changeFromQuantity"]
    ]
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_levels_read_back_through_inventory_item_quantities(
    admin: Admin, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """inventoryItem → inventoryLevel(locationId) → quantities(names:) reports each state."""
    data = admin.data(
        """query Q($item: ID!, $loc: ID!) { inventoryItem(id: $item) { sku
             inventoryLevel(locationId: $loc) { location { id }
               quantities(names: ["available", "committed", "on_hand", "incoming"]) {
                 name quantity } } } }""",
        {"item": tee["inventory_item_id"], "loc": store.location_id},
    )

    level = data["inventoryItem"]["inventoryLevel"]
    assert level["location"] == {"id": store.location_id}
    assert level["quantities"] == [
        {"name": "available", "quantity": 10},
        {"name": "committed", "quantity": 0},
        {"name": "on_hand", "quantity": 10},
        {"name": "incoming", "quantity": 0},
    ]


def test_idempotent_on_a_mutation_that_does_not_support_it_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """orderCreate documents no idempotency support, so @idempotent on it is an error."""
    body = admin.gql(
        """mutation($order: OrderCreateOrderInput!) {
             orderCreate(order: $order) @idempotent(key: "k") { order { id } } }""",
        {"order": {"lineItems": [{"variantId": tee["id"], "quantity": 1}]}},
    )

    assert "not supported on orderCreate" in body["errors"][0]["message"]
    assert sandbox.orders(store.name) == []


def test_set_quantities_with_a_null_change_from_quantity_skips_the_check(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """An explicit null changeFromQuantity sets the quantity without compare-and-swap."""
    set_input = setting(tee, store, "available", 3, changeFromQuantity=None)

    done = admin.data(SET, {"in": set_input, "key": "set-4"})["inventorySetQuantities"]

    assert done["userErrors"] == []
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 3
