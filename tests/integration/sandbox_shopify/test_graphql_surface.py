"""The endpoint, authentication and the real 2026-07 schema."""

from __future__ import annotations

from typing import Any

import httpx

from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec

from .shopify_http import GRAPHQL_PATH, Admin


def test_an_invalid_operation_fails_validation_with_locations(admin: Admin) -> None:
    """A field that is not in the 2026-07 schema is a validation error with its location."""
    body = admin.gql("{\n  shop { nmae }\n}")

    assert "data" not in body
    [error] = body["errors"]
    assert "Cannot query field 'nmae' on type 'Shop'" in error["message"]
    assert error["locations"] == [{"line": 2, "column": 10}]


def test_a_removed_argument_fails_validation(admin: Admin) -> None:
    """2026-07 has no `compareQuantity` on InventoryQuantityInput, so using it is refused."""
    body = admin.gql(
        """mutation { inventorySetQuantities(input: {name: "available", reason: "correction",
             quantities: [{inventoryItemId: "gid://shopify/InventoryItem/1",
                           locationId: "gid://shopify/Location/1", quantity: 1,
                           compareQuantity: 0}]}) @idempotent(key: "k") { userErrors { code } } }"""
    )

    assert any("compareQuantity" in e["message"] for e in body["errors"])
    assert "data" not in body


def test_an_unimplemented_field_errors_clearly(admin: Admin, tee: dict[str, Any]) -> None:
    """A schema field the sandbox has no resolver for answers with an error naming it."""
    body = admin.gql(
        "query($id: ID!) { productVariant(id: $id) { sku barcode } }", {"id": tee["id"]}
    )

    assert body["data"] == {"productVariant": {"sku": "TEE-RED-L", "barcode": None}}
    [error] = body["errors"]
    assert error["message"] == "ProductVariant.barcode is not implemented by the shopbridge sandbox"
    assert error["path"] == ["productVariant", "barcode"]


def test_a_wrong_token_is_answered_401(server: BackgroundServer, store: StoreCredentials) -> None:
    """An unknown access token gets Shopify's 401 body."""
    with httpx.Client(base_url=server.base_url) as http:
        response = http.post(
            GRAPHQL_PATH,
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": "shpat_wrong"},
        )

    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_another_api_version_is_not_found(
    server: BackgroundServer, store: StoreCredentials
) -> None:
    """Only 2026-07 is served; any other version path is a 404."""
    with httpx.Client(base_url=server.base_url) as http:
        response = http.post(
            "/admin/api/2025-07/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": store.access_token},
        )

    assert response.status_code == 404


def test_every_response_carries_the_calculated_cost(admin: Admin, tee: dict[str, Any]) -> None:
    """A query is charged its requested cost and refunded down to what it really returned."""
    body = admin.gql('{ productVariants(first: 10, query: "sku:TEE-RED-L") { nodes { id sku } } }')

    cost = body["extensions"]["cost"]
    # connection 2 + 10 × one node (object 1, scalars 0); one node came back: 2 + 1
    assert cost["requestedQueryCost"] == 12
    assert cost["actualQueryCost"] == 3
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1997,
        "restoreRate": 100.0,
    }


def test_an_unknown_search_filter_is_refused(admin: Admin) -> None:
    """A filter the sandbox does not implement errors instead of matching every order."""
    body = admin.gql('{ orders(first: 5, query: "source_identifer:577") { nodes { id } } }')

    assert "source_identifer" in body["errors"][0]["message"]
    assert body["data"] is None


def test_variants_are_found_by_several_skus_joined_with_or(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """productVariants(query: "sku:A OR sku:B") answers every listed SKU and nothing else."""
    sandbox.add_product(
        store.name,
        title="Mug",
        variants=[VariantSpec(sku="MUG-1", price="5.00"), VariantSpec(sku="MUG-2", price="5.00")],
    )

    found = admin.data(
        '{ productVariants(first: 10, query: "sku:TEE-RED-L OR sku:MUG-2") { nodes { sku } } }'
    )

    assert found["productVariants"]["nodes"] == [{"sku": "TEE-RED-L"}, {"sku": "MUG-2"}]


def test_locations_lists_every_active_location_of_the_shop(
    admin: Admin, sandbox: ShopifySandbox
) -> None:
    """locations(first:) answers the shop's locations, primary first."""
    shop = sandbox.add_shop("two-sites", locations=["Austin", "Reno"])
    admin.token = shop.access_token

    found = admin.data("{ locations(first: 10) { nodes { id name isActive } } }")

    assert found["locations"]["nodes"] == [
        {"id": shop.location_ids[0], "name": "Austin", "isActive": True},
        {"id": shop.location_ids[1], "name": "Reno", "isActive": True},
    ]


def test_a_variable_of_the_wrong_type_is_a_request_error(admin: Admin) -> None:
    """A variable that does not coerce to its declared type fails the request without data."""
    body = admin.gql("query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": "ten"})

    assert "data" not in body
    assert "$n" in body["errors"][0]["message"]


def test_an_unimplemented_sort_key_is_refused(admin: Admin) -> None:
    """orders(sortKey: TOTAL_PRICE) errors rather than answering in another order."""
    body = admin.gql("{ orders(first: 5, sortKey: TOTAL_PRICE) { nodes { id } } }")

    assert "TOTAL_PRICE" in body["errors"][0]["message"]
    assert body["data"] is None


def test_a_product_lists_its_variants_in_position_order(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """Product.variants with its default sort key (POSITION) answers in creation order."""
    made = sandbox.add_product(
        store.name,
        title="Sock",
        variants=[VariantSpec(sku="SOCK-S"), VariantSpec(sku="SOCK-M"), VariantSpec(sku="SOCK-L")],
    )

    product = admin.data(
        "query($id: ID!) { product(id: $id) { title variants(first: 5) { nodes { sku } } } }",
        {"id": made["id"]},
    )["product"]

    assert product["variants"]["nodes"] == [{"sku": "SOCK-S"}, {"sku": "SOCK-M"}, {"sku": "SOCK-L"}]
