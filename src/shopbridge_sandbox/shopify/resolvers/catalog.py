"""Products, variants, inventory items and levels, locations, the shop itself."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from shopbridge_sandbox.shopify.inventory import READABLE_NAMES
from shopbridge_sandbox.shopify.model import (
    InventoryItem,
    InventoryLevel,
    Location,
    Product,
    Variant,
    iso,
    money,
    parse_gid,
)
from shopbridge_sandbox.shopify.resolvers.registry import (
    attributes,
    connection,
    ctx,
    resolves,
)
from shopbridge_sandbox.shopify.search import Term, filter_items

attributes(
    "Product",
    id=lambda p: p.gid,
    legacyResourceId=lambda p: str(p.id),
    title=lambda p: p.title,
    createdAt=lambda p: iso(p.created_at),
    updatedAt=lambda p: iso(p.created_at),
)


@resolves("Product", "variants")
def _product_variants(
    product: Product, info: Any, sortKey: str | None = None, **page: Any
) -> dict[str, Any]:
    # POSITION (the schema default) is the order the variants were created in.
    return connection(product.variants, sortKey=None if sortKey == "POSITION" else sortKey, **page)


def _available(variant: Variant, info: Any) -> int:
    shop = ctx(info).shop
    return sum(lv.quantity("available") for lv in shop.levels_of(variant.inventory_item))


attributes(
    "ProductVariant",
    id=lambda v: v.gid,
    legacyResourceId=lambda v: str(v.id),
    sku=lambda v: v.sku,
    title=lambda v: v.title,
    displayName=lambda v: f"{v.product.title} - {v.title}",
    price=lambda v: money(v.price),
    inventoryPolicy=lambda v: v.inventory_policy,
    product=lambda v: v.product,
    inventoryItem=lambda v: v.inventory_item,
    createdAt=lambda v: iso(v.created_at),
    updatedAt=lambda v: iso(v.created_at),
)


@resolves("ProductVariant", "inventoryQuantity")
def _variant_quantity(variant: Variant, info: Any) -> int:
    return _available(variant, info)


def _sku_matches(variant: Variant, term: Term) -> bool:
    return variant.sku == term.value


@resolves("QueryRoot", "productVariants")
def _product_variants_root(_: Any, info: Any, query: str | None = None, **page: Any) -> Any:
    variants = ctx(info).shop.variants()
    found = filter_items(variants, query, {"sku": _sku_matches}, "productVariants")
    return connection(found, **page)


@resolves("QueryRoot", "productVariant")
def _product_variant(_: Any, info: Any, id: str) -> Variant | None:
    found: Variant | None = ctx(info).shop.find(ctx(info).shop.variants(), id, "ProductVariant")
    return found


@resolves("QueryRoot", "product")
def _product(_: Any, info: Any, id: str) -> Product | None:
    found: Product | None = ctx(info).shop.find(ctx(info).shop.products, id, "Product")
    return found


attributes(
    "InventoryItem",
    id=lambda i: i.gid,
    legacyResourceId=lambda i: str(i.id),
    sku=lambda i: i.sku,
    tracked=lambda i: i.tracked,
    variant=lambda i: i.variant,
    createdAt=lambda i: iso(i.created_at),
    updatedAt=lambda i: iso(i.created_at),
)


@resolves("InventoryItem", "inventoryLevel")
def _item_level(item: InventoryItem, info: Any, locationId: str, **_: Any) -> Any:
    shop = ctx(info).shop
    location = shop.location_by_gid(locationId)
    return shop.level(item, location) if location else None


@resolves("InventoryItem", "inventoryLevels")
def _item_levels(item: InventoryItem, info: Any, query: str | None = None, **page: Any) -> Any:
    if query:
        raise GraphQLError(
            "InventoryItem.inventoryLevels(query:) is not implemented by the sandbox"
        )
    page.pop("includeInactive", None)  # every level is at an active location
    return connection(ctx(info).shop.levels_of(item), **page)


@resolves("QueryRoot", "inventoryItem")
def _inventory_item(_: Any, info: Any, id: str) -> InventoryItem | None:
    return ctx(info).shop.item_by_gid(id)


@resolves("QueryRoot", "inventoryLevel")
def _inventory_level(_: Any, info: Any, id: str) -> InventoryLevel | None:
    number = parse_gid(id, "InventoryLevel")
    return next((lv for lv in ctx(info).shop.levels if lv.id == number), None)


attributes(
    "InventoryLevel",
    id=lambda lv: lv.gid,
    item=lambda lv: lv.item,
    location=lambda lv: lv.location,
    isActive=lambda lv: lv.location.active,
    createdAt=lambda lv: iso(lv.updated_at),
    updatedAt=lambda lv: iso(lv.updated_at),
)


@resolves("InventoryLevel", "quantities")
def _quantities(level: InventoryLevel, info: Any, names: list[str]) -> list[dict[str, Any]]:
    unknown = [n for n in names if n not in READABLE_NAMES]
    if unknown:
        raise GraphQLError(
            f"Invalid quantity names: {', '.join(unknown)}; "
            f"valid names are {', '.join(sorted(READABLE_NAMES))}"
        )
    return [
        {
            "id": f"gid://shopify/InventoryQuantity/{level.id}?inventory_item_id={level.item.id}"
            f"&name={name}",
            "name": name,
            "quantity": level.quantity(name),
            "updatedAt": iso(level.updated_at),
        }
        for name in names
    ]


attributes(
    "Location",
    id=lambda loc: loc.gid,
    legacyResourceId=lambda loc: str(loc.id),
    name=lambda loc: loc.name,
    isActive=lambda loc: loc.active,
    fulfillsOnlineOrders=lambda loc: loc.active,
    shipsInventory=lambda loc: loc.active,
    hasActiveInventory=lambda loc: loc.active,
    isFulfillmentService=lambda loc: False,
)


@resolves("Location", "inventoryLevels")
def _location_levels(location: Location, info: Any, query: str | None = None, **page: Any) -> Any:
    if query:
        raise GraphQLError("Location.inventoryLevels(query:) is not implemented by the sandbox")
    page.pop("includeInactive", None)  # every level is at an active location
    return connection(ctx(info).shop.levels_at(location), **page)


@resolves("Location", "inventoryLevel")
def _location_level(location: Location, info: Any, inventoryItemId: str, **_: Any) -> Any:
    shop = ctx(info).shop
    item = shop.item_by_gid(inventoryItemId)
    return shop.level(item, location) if item else None


@resolves("QueryRoot", "locations")
def _locations(
    _: Any,
    info: Any,
    query: str | None = None,
    includeInactive: bool = False,
    includeLegacy: bool = False,
    sortKey: str | None = None,
    **page: Any,
) -> Any:
    if query:
        raise GraphQLError("locations(query:) is not implemented by the shopbridge sandbox")
    shop = ctx(info).shop
    found = [loc for loc in shop.locations if loc.active or includeInactive]
    if sortKey == "NAME":  # the schema's default sort key
        return connection(sorted(found, key=lambda loc: (loc.name, loc.id)), **page)
    return connection(found, sortKey=sortKey, **page)


@resolves("QueryRoot", "location")
def _location(_: Any, info: Any, id: str | None = None) -> Location | None:
    shop = ctx(info).shop
    # Without an id Shopify answers with the shop's primary location.
    return shop.location_by_gid(id) if id is not None else shop.locations[0]


@resolves("QueryRoot", "shop")
def _shop(_: Any, info: Any) -> dict[str, Any]:
    shop = ctx(info).shop
    return {
        "id": f"gid://shopify/Shop/{shop.id}",
        "name": shop.name,
        "myshopifyDomain": shop.domain,
        "currencyCode": shop.currency,
        "plan": {
            "displayName": "Shopify Plus" if shop.plan == "plus" else "Basic",
            "shopifyPlus": shop.plan == "plus",
            "partnerDevelopment": False,
        },
    }
