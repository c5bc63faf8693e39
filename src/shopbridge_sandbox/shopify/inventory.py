"""Inventory quantities and how they move, as Shopify's do.

Placing an order with a DECREMENT_* behaviour moves units available → committed;
fulfilling consumes committed (so on_hand drops); cancelling with restock moves
committed → available [shopify_api.md §1 "How an order commits inventory", §4].
"""

from __future__ import annotations

from shopbridge_sandbox.shopify import rest
from shopbridge_sandbox.shopify.model import (
    UNAVAILABLE_STATES,
    InventoryItem,
    InventoryLevel,
    Location,
    Shop,
)
from shopbridge_sandbox.shopify.world import World

# Reason values Shopify accepts on inventory mutations (shopify.dev "inventory states" page,
# read through a mirror [shopify_api.md §6]; the full list is UNCONFIRMED there).
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
# Names inventoryAdjustQuantities may change; inventorySetQuantities only takes
# `available` or `on_hand` (InventorySetQuantitiesInput.name description).
ADJUSTABLE_NAMES = frozenset(
    {"available", "incoming", "reserved", "damaged", "safety_stock", "quality_control"}
)
SETTABLE_NAMES = frozenset({"available", "on_hand"})
READABLE_NAMES = frozenset(
    {"available", "committed", "on_hand", "unavailable", "incoming", *UNAVAILABLE_STATES}
)


def level_for(world: World, shop: Shop, item: InventoryItem, location: Location) -> InventoryLevel:
    """The item's level at `location`, stocking it there (all zero) if it was not yet."""
    level = shop.level(item, location)
    if level is None:
        level = InventoryLevel(world.ids.next("InventoryLevel"), item, location, world.now())
        shop.levels.append(level)
    return level


def move(world: World, shop: Shop, level: InventoryLevel, **deltas: int) -> None:
    """Apply quantity deltas (by stored name) and tell subscribers when `available` moved."""
    for name, delta in deltas.items():
        level.quantities[name] += delta
    level.updated_at = world.now()
    if deltas.get("available"):
        world.emit(shop, "inventory_levels/update", rest.inventory_level(level))


def set_on_hand(world: World, shop: Shop, level: InventoryLevel, on_hand: int) -> None:
    """Setting on_hand moves `available` by the difference; committed stays as it is."""
    move(world, shop, level, available=on_hand - level.quantity("on_hand"))
