"""Sales through Shopify's own channels: the online store's checkout and POS.

Such a sale is a paid order that commits stock at its location the way every order does
(available → committed) [shopify_api_wave2.md §6], and checkout obeys the variant's
inventory policy: DENY refuses what is not available, CONTINUE sells into negative
(ProductVariantInventoryPolicy in the 2026-07 schema).
"""

from __future__ import annotations

from shopbridge_sandbox.shopify import orders
from shopbridge_sandbox.shopify.model import LineItem, Location, Order, Shop, Transaction, Variant
from shopbridge_sandbox.shopify.world import Conflict, SandboxError, World

# The order's sourceName per channel, as Shopify's own channels set it.
SOURCE_NAMES = {"online_store": "web", "pos": "pos"}


def sell(
    world: World, shop: Shop, variant: Variant, quantity: int, location: Location, channel: str
) -> Order:
    """A buyer's paid checkout of `quantity` units at `location`; Conflict when sold out.
    `quantity` is checked here too: it arrives as JSON through the control API."""
    source_name = SOURCE_NAMES.get(channel)
    if source_name is None:
        raise SandboxError(f"channel must be one of {', '.join(SOURCE_NAMES)}, got {channel!r}")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise SandboxError(f"quantity must be a whole number of at least 1, got {quantity!r}")
    item = variant.inventory_item
    if item.tracked and variant.inventory_policy == "DENY":
        level = shop.level(item, location)
        available = level.quantity("available") if level else 0
        if available < quantity:
            raise Conflict(
                f"{variant.sku} is sold out at {location.name}: "
                f"{available} available, {quantity} wanted"
            )
    now = world.now()
    order = Order(
        id=world.ids.next("Order"),
        number=shop.next_order_number,
        currency=shop.currency,
        created_at=now,
        updated_at=now,
        financial_status="PAID",
        source_name=source_name,
    )
    shop.next_order_number += 1
    order.line_items = [
        LineItem(
            id=world.ids.next("LineItem"),
            title=variant.product.title,
            sku=variant.sku,
            quantity=quantity,
            unit_price=variant.price,
            variant=variant,
            requires_shipping=channel == "online_store",  # POS goods are handed over
        )
    ]
    orders.claim_stock(world, shop, order, location)
    order.transactions = [
        Transaction(
            world.ids.next("OrderTransaction"),
            "SALE",
            "SUCCESS",
            "shopify_payments",
            order.total,
            now,
        )
    ]
    orders.open_order(world, shop, order, location)
    return order
