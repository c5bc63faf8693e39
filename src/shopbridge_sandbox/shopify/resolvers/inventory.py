"""inventoryAdjustQuantities and inventorySetQuantities (each runs once per idempotency key)."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify import inventory
from shopbridge_sandbox.shopify.model import InventoryAdjustmentGroup, InventoryLevel, iso
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.resolvers.idempotency import once
from shopbridge_sandbox.shopify.resolvers.registry import (
    Info,
    attributes,
    ctx,
    resolves,
    user_errors,
)


def _check_target(
    info: Info, index: int, change: dict[str, Any], collection: str
) -> tuple[InventoryLevel | None, UserError | None]:
    context = ctx(info)
    shop = context.shop
    where = ["input", collection, str(index)]
    item = shop.item_by_gid(change["inventoryItemId"])
    if item is None:
        return None, UserError(
            [*where, "inventoryItemId"],
            "The specified inventory item could not be found.",
            "INVALID_INVENTORY_ITEM",
        )
    location = shop.location_by_gid(change["locationId"])
    if location is None:
        return None, UserError(
            [*where, "locationId"], "The specified location could not be found.", "INVALID_LOCATION"
        )
    level = shop.level(item, location)
    if level is None:
        return None, UserError(
            [*where, "locationId"],
            f"The item {item.sku} is not stocked at {location.name}.",
            "ITEM_NOT_STOCKED_AT_LOCATION",
        )
    return level, None


def _group(info: Info, spec: dict[str, Any]) -> InventoryAdjustmentGroup:
    world = ctx(info).world
    return InventoryAdjustmentGroup(
        world.ids.next("InventoryAdjustmentGroup"),
        spec["reason"],
        spec.get("referenceDocumentUri"),
        world.now(),
        [],
    )


def _stale(where: list[str], expected: int, actual: int) -> UserError:
    return UserError(
        [*where, "changeFromQuantity"],
        f"The quantity is {actual}, not {expected} as changeFromQuantity expected.",
        "CHANGE_FROM_QUANTITY_STALE",
    )


@resolves("Mutation", "inventoryAdjustQuantities")
def _adjust(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        errors: list[UserError] = []
        if input["name"] not in inventory.ADJUSTABLE_NAMES:
            errors.append(
                UserError(
                    ["input", "name"],
                    f"{input['name']!r} is not a quantity name that can be adjusted.",
                    "INVALID_QUANTITY_NAME",
                )
            )
        if input["reason"] not in inventory.REASONS:
            errors.append(
                UserError(["input", "reason"], "The reason is invalid.", "INVALID_REASON")
            )
        targets: list[tuple[InventoryLevel, dict[str, Any]]] = []
        for index, change in enumerate(input["changes"]):
            where = ["input", "changes", str(index)]
            level, error = _check_target(info, index, change, "changes")
            ledger = change.get("ledgerDocumentUri")
            if error is None and input["name"] != "available" and not ledger:
                # "Required for all quantity names except available" [InventoryChangeInput].
                error = UserError(
                    [*where, "ledgerDocumentUri"],
                    "A ledger document URI is required for this quantity name.",
                    "INVALID_LEDGER_DOCUMENT",
                )
            if error is None and ledger and ledger.startswith("gid://shopify/"):
                error = UserError(
                    [*where, "ledgerDocumentUri"],
                    "The ledger document URI cannot be a Shopify resource.",
                    "INTERNAL_LEDGER_DOCUMENT",
                )
            expected = change.get("changeFromQuantity")
            if error is None and level is not None and expected is not None:
                actual = level.quantity(input["name"])
                if actual != expected:
                    error = _stale(where, expected, actual)
            if error is not None:
                errors.append(error)
            elif level is not None:
                targets.append((level, change))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": user_errors(errors)}
        world, shop = ctx(info).world, ctx(info).shop
        group = _group(info, input)
        for level, change in targets:
            inventory.move(world, shop, level, **{input["name"]: change["delta"]})
            group.changes.append(_change(level, input["name"], change["delta"], change))
            if input["name"] == "available":
                group.changes.append(_change(level, "on_hand", change["delta"], change))
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    return once(info, {"input": input}, "inventoryAdjustmentGroup", run)


def _change(level: InventoryLevel, name: str, delta: int, change: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "delta": delta,
        "quantityAfterChange": level.quantity(name),
        "item": level.item,
        "location": level.location,
        "ledgerDocumentUri": change.get("ledgerDocumentUri"),
    }


@resolves("Mutation", "inventorySetQuantities")
def _set(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        errors: list[UserError] = []
        name = input["name"]
        if name not in inventory.SETTABLE_NAMES:
            errors.append(
                UserError(
                    ["input", "name"],
                    "The only accepted names are available and on_hand.",
                    "INVALID_NAME",
                )
            )
        if input["reason"] not in inventory.REASONS:
            errors.append(
                UserError(["input", "reason"], "The reason is invalid.", "INVALID_REASON")
            )
        targets: list[tuple[InventoryLevel, dict[str, Any]]] = []
        for index, row in enumerate(input["quantities"]):
            where = ["input", "quantities", str(index)]
            level, error = _check_target(info, index, row, "quantities")
            if error is None and "changeFromQuantity" not in row:
                # "This field is mandatory: you must explicitly pass in a value, even if
                # that value is null" [InventoryQuantityInput.changeFromQuantity, 2026-07].
                error = UserError(
                    [*where, "changeFromQuantity"],
                    "changeFromQuantity must be given (null skips the compare-and-swap check).",
                    "COMPARE_QUANTITY_REQUIRED",
                )
            if error is None and row["quantity"] < 0:
                error = UserError(
                    [*where, "quantity"],
                    "The quantity can't be negative.",
                    "INVALID_QUANTITY_NEGATIVE",
                )
            expected = row.get("changeFromQuantity")
            if error is None and level is not None and expected is not None:
                actual = level.quantity(name) if name in inventory.SETTABLE_NAMES else 0
                if actual != expected:
                    error = _stale(where, expected, actual)
            if error is not None:
                errors.append(error)
            elif level is not None:
                targets.append((level, row))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": user_errors(errors)}
        world, shop = ctx(info).world, ctx(info).shop
        group = _group(info, input)
        for level, row in targets:
            delta = row["quantity"] - level.quantity(name)
            inventory.move(world, shop, level, available=delta)
            group.changes.append(_change(level, "available", delta, row))
            group.changes.append(_change(level, "on_hand", delta, row))
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    return once(info, {"input": input}, "inventoryAdjustmentGroup", run)


attributes(
    "InventoryAdjustmentGroup",
    id=lambda g: g.gid,
    reason=lambda g: g.reason,
    referenceDocumentUri=lambda g: g.reference_document_uri,
    createdAt=lambda g: iso(g.created_at),
)


@resolves("InventoryAdjustmentGroup", "changes")
def _group_changes(
    group: InventoryAdjustmentGroup,
    info: Any,
    inventoryItemIds: list[str] | None = None,
    locationIds: list[str] | None = None,
    quantityNames: list[str] | None = None,
) -> list[dict[str, Any]]:
    return [
        c
        for c in group.changes
        if (inventoryItemIds is None or c["item"].gid in inventoryItemIds)
        and (locationIds is None or c["location"].gid in locationIds)
        and (quantityNames is None or c["name"] in quantityNames)
    ]
