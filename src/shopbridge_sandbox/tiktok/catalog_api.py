"""Product and inventory endpoints (§4.4)."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.errors import ApiError
from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call
from shopbridge_sandbox.tiktok.models import Product, Sku
from shopbridge_sandbox.tiktok.orders import unix
from shopbridge_sandbox.tiktok.pagination import fingerprint, page_size, paginate
from shopbridge_sandbox.tiktok.views import product_view, sku_inventory_view

MAX_QUANTITY = 99_999


def _shop_products(call: Call) -> list[Product]:
    return [p for p in call.market.products.values() if p.shop_id == call.shop.id]


def _product(call: Call) -> Product:
    product = call.market.products.get(call.params["product_id"])
    if product is None or product.shop_id != call.shop.id:
        raise ApiError(e.PRODUCT_NOT_FOUND, f"Product {call.params['product_id']} not found")
    return product


def search_inventory(call: Call) -> dict[str, Any]:
    sku_ids = [str(i) for i in call.body.get("sku_ids") or []]
    product_ids = [str(i) for i in call.body.get("product_ids") or []]
    if not sku_ids and not product_ids:
        raise e.bad_parameter("give product_ids or sku_ids")
    inventory = []
    for product in _shop_products(call):
        if sku_ids:  # §4.4: sku_ids wins when both are given
            skus = [s for s in product.skus if s.id in sku_ids]
        else:
            skus = product.skus if product.id in product_ids else []
        if skus:
            inventory.append(
                {"product_id": product.id, "skus": [sku_inventory_view(s) for s in skus]}
            )
    return {"inventory": inventory}


def update_inventory(call: Call) -> dict[str, Any]:
    """Sets the SKUs' stock per warehouse. A malformed call changes nothing; a SKU locked for
    a promotion that would go down is left as it is and reported in `data.errors` under
    code 0 while the call's other SKUs are applied (wave2 §3.1, partial failure)."""
    product = _product(call)
    entries = call.body.get("skus")
    if not isinstance(entries, list) or not entries:
        raise e.bad_parameter("skus is required")
    changes: list[tuple[Sku, dict[str, int]]] = []
    for entry in entries:
        sku = next((s for s in product.skus if s.id == str(entry.get("id"))), None)
        if sku is None:
            raise ApiError(
                e.SKU_NOT_IN_PRODUCT, f"SKU {entry.get('id')} does not belong to {product.id}"
            )
        changes.append((sku, _quantities(sku, entry.get("inventory") or [])))
    errors = []
    for sku, quantities in changes:  # all checked before any is applied
        if sku.promotion_locked and any(q < sku.available[w] for w, q in quantities.items()):
            errors.append(_promotion_locked(sku))
            continue
        sku.available.update(quantities)
        product.update_time = call.now
    return {"errors": errors} if errors else {}


def _promotion_locked(sku: Sku) -> dict[str, Any]:
    return {
        "code": e.PROMOTION_LOCKED,
        "message": "Product locked for Promotion and stock can't be updated below current stock",
        "detail": {"sku_id": sku.id, "extra_errors": []},
    }


def _quantities(sku: Sku, inventory: list[dict[str, Any]]) -> dict[str, int]:
    assigned = set(sku.available)
    if len(assigned) == 1 and len(inventory) == 1 and not inventory[0].get("warehouse_id"):
        # §4.4: warehouse_id may be left out when the SKU has a single warehouse.
        inventory = [{**inventory[0], "warehouse_id": next(iter(assigned))}]
    quantities: dict[str, int] = {}
    for item in inventory:
        raw = item.get("quantity")
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_QUANTITY:
            # The doc says [1, 99999]; the sandbox accepts 0 to zero a SKU (UNCONFIRMED, §4.4).
            raise ApiError(e.INVALID_QUANTITY, f"quantity must be 0 to {MAX_QUANTITY}, got {raw!r}")
        quantities[str(item.get("warehouse_id"))] = raw
    if set(quantities) != assigned:
        raise ApiError(
            e.ALL_WAREHOUSES_REQUIRED,
            f"SKU {sku.id} is stocked in warehouses {sorted(assigned)}: list every one of them, "
            "and no other",
        )
    return quantities


def search_products(call: Call) -> dict[str, Any]:
    size = page_size(call.query, 1, 100, default=None)
    body = call.body
    status = body.get("status", "ALL")
    seller_skus = set(body.get("seller_skus") or [])
    sku_ids = set(body.get("sku_ids") or [])
    rows = [
        p
        for p in _shop_products(call)
        if status in ("ALL", p.status)
        and (not seller_skus or any(s.seller_sku in seller_skus for s in p.skus))
        and (not sku_ids or any(s.id in sku_ids for s in p.skus))
    ]

    def key(product: Product) -> tuple[int | str, ...]:
        return (unix(product.create_time), product.id)

    page, token = paginate(rows, key, True, size, call.query.get("page_token"), fingerprint(body))
    return {
        "products": [product_view(p, call.shop) for p in page],
        "next_page_token": token,
        "total_count": len(rows),
    }


def product_detail(call: Call) -> dict[str, Any]:
    return product_view(_product(call), call.shop)


ROUTES = [
    ApiRoute("POST", "/product/202309/inventory/search", search_inventory),
    ApiRoute("POST", "/product/202309/products/{product_id}/inventory/update", update_inventory),
    # §4.4: 202502 is the latest Search Products; ECOM calls the same path with 202309.
    ApiRoute("POST", "/product/202502/products/search", search_products),
    ApiRoute("POST", "/product/202309/products/search", search_products),
    ApiRoute("GET", "/product/202309/products/{product_id}", product_detail),
]
