"""Catalogue and inventory calls of ShopifyClient against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyUserError
from shopbridge.shopify.models import InventoryDelta, InventoryTarget, OrderLine
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec


async def test_variants_by_sku_returns_exact_matches_only(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """Known SKUs map to their variants and inventory items; unknown SKUs are absent."""
    sandbox.add_product(
        store.name, title="Cap", variants=[VariantSpec(sku="CAP-BLUE", price="9.50")]
    )
    found = await shopify.variants_by_sku(["TEE-RED-L", "CAP-BLUE", "NOPE-1"])
    assert sorted(found) == ["CAP-BLUE", "TEE-RED-L"]
    tee_variant = found["TEE-RED-L"]
    assert (tee_variant.id, tee_variant.inventory_item_id) == (tee["id"], tee["inventory_item_id"])
    assert str(tee_variant.price) == "19.99"
    assert tee_variant.inventory_policy == "DENY"


async def test_variants_by_sku_batches_many_skus(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """More SKUs than fit one query are looked up in batches and all found."""
    skus = [f"SKU-{n:03d}" for n in range(120)]
    sandbox.add_product(store.name, title="Many", variants=[VariantSpec(sku=s) for s in skus])
    found = await shopify.variants_by_sku(skus)
    assert sorted(found) == skus


async def test_inventory_levels_read_available_committed_on_hand(
    shopify: ShopifyClient, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """After a 3-unit order the level reads available 7, committed 3, on_hand 10."""
    await shopify.create_order(
        source_identifier="42",
        currency="USD",
        lines=[OrderLine(variant_id=tee["id"], quantity=3, unit_price="19.99")],
    )
    levels = await shopify.inventory_levels([tee["inventory_item_id"]], store.location_id)
    level = levels[tee["inventory_item_id"]]
    assert (level.available, level.committed, level.on_hand) == (7, 3, 10)


async def test_adjust_inventory_applies_once_per_idempotency_key(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """Sending the same adjustment twice with one key changes stock once."""
    change = InventoryDelta(
        inventory_item_id=tee["inventory_item_id"], location_id=store.location_id, delta=-4
    )
    for _ in range(2):
        group = await shopify.adjust_inventory(
            [change], reason="correction", idempotency_key="tts-577-adj-1"
        )
        assert group is not None
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 6


async def test_set_inventory_sets_the_absolute_quantity(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """inventorySetQuantities with a matching changeFromQuantity sets available."""
    target = InventoryTarget(
        inventory_item_id=tee["inventory_item_id"],
        location_id=store.location_id,
        quantity=25,
        change_from_quantity=10,
    )
    await shopify.set_inventory([target], reason="correction", idempotency_key="set-1")
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 25


async def test_set_inventory_with_stale_compare_quantity_is_refused(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """A changeFromQuantity that no longer matches raises CHANGE_FROM_QUANTITY_STALE."""
    target = InventoryTarget(
        inventory_item_id=tee["inventory_item_id"],
        location_id=store.location_id,
        quantity=25,
        change_from_quantity=3,
    )
    with pytest.raises(ShopifyUserError) as caught:
        await shopify.set_inventory([target], reason="correction", idempotency_key="set-2")
    assert caught.value.has_code("CHANGE_FROM_QUANTITY_STALE")
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


async def test_locations_lists_the_shop_location(
    shopify: ShopifyClient, store: StoreCredentials
) -> None:
    """locations() returns the shop's active location."""
    locations = await shopify.locations()
    assert [(loc.id, loc.is_active) for loc in locations] == [(store.location_id, True)]
