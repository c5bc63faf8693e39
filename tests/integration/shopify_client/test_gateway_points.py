"""The gateway spends only what each step needs, and still recognises what an earlier attempt
did when Shopify refuses: counted from the Shopify sandbox's own ledger."""

from __future__ import annotations

from shopbridge.engine.ports import Hold
from shopbridge.engine.shopify_gateway import ShopifyGateway
from shopbridge.shopify.client import ShopifyClient
from shopbridge_sandbox.shopify import ShopifySandbox
from support.orders import snapshot

HANDLE = "shopbridge-test"


def operations(sandbox: ShopifySandbox, since: int) -> list[str]:
    return [op for op, _requested, _actual in list(sandbox.bucket("demo").charges)[since:]]


def mark(sandbox: ShopifySandbox) -> int:
    return len(sandbox.bucket("demo").charges)


async def test_the_variant_lookup_is_made_once_per_sku(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    gateway = ShopifyGateway(shopify)
    first = await gateway.create_pending_order(snapshot(order_id="577000000000000001"))
    since = mark(sandbox)
    second = await gateway.create_pending_order(snapshot(order_id="577000000000000002"))
    assert operations(sandbox, since) == ["CreateOrder"]
    assert first.unknown_skus == second.unknown_skus == ()
    assert len(second.fulfillment_order_ids) == 1, "orderCreate answered its fulfilment order"


async def test_a_cached_variant_that_is_gone_is_looked_up_again(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    """orderCreate refuses a variant id that no longer exists; the gateway forgets the cache
    and tries once more with what Shopify has now."""
    gateway = ShopifyGateway(shopify)
    await gateway.create_pending_order(snapshot(order_id="577000000000000001"))
    [(variant, at)] = gateway._variants.values()
    gone = variant.model_copy(update={"id": "gid://shopify/ProductVariant/999999"})
    gateway._variants["TEE-RED-L"] = (gone, at)
    since = mark(sandbox)
    created = await gateway.create_pending_order(snapshot(order_id="577000000000000002"))
    assert operations(sandbox, since) == ["CreateOrder", "VariantsBySku", "CreateOrder"]
    assert created.unknown_skus == ()
    order = sandbox.order("demo", created.view.order_id)
    assert order["line_items"][0]["committed"] == 2, "a real variant line, committing stock"


async def test_holds_on_the_answered_fulfilment_orders_need_no_read(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    gateway = ShopifyGateway(shopify)
    created = await gateway.create_pending_order(snapshot())
    since = mark(sandbox)
    holds = await gateway.hold_fulfillment_orders(
        created.view.order_id, HANDLE, created.fulfillment_order_ids
    )
    assert operations(sandbox, since) == ["HoldFulfillmentOrder"]
    assert [h.fulfillment_order_id for h in holds] == list(created.fulfillment_order_ids)


async def test_a_hold_already_placed_by_an_earlier_attempt_is_found_not_doubled(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    """The earlier attempt's hold answer was lost: Shopify refuses the same handle again, and
    the gateway reads the fulfilment orders to find the hold that is there."""
    gateway = ShopifyGateway(shopify)
    created = await gateway.create_pending_order(snapshot())
    order_id, known = created.view.order_id, created.fulfillment_order_ids
    earlier = await gateway.hold_fulfillment_orders(order_id, HANDLE, known)
    since = mark(sandbox)
    again = await gateway.hold_fulfillment_orders(order_id, HANDLE, known)
    assert again == earlier
    assert operations(sandbox, since) == ["HoldFulfillmentOrder", "FulfillmentOrders"]
    [fo] = await shopify.fulfillment_orders(order_id)
    assert len(fo.holds) == 1


async def test_release_names_each_hold_and_its_order_without_reading(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    gateway = ShopifyGateway(shopify)
    created = await gateway.create_pending_order(snapshot())
    order_id = created.view.order_id
    holds = await gateway.hold_fulfillment_orders(order_id, HANDLE, created.fulfillment_order_ids)
    hold_ids = tuple(h.hold_id for h in holds)
    held_on = tuple(h.fulfillment_order_id for h in holds)
    since = mark(sandbox)
    await gateway.release_holds(order_id, hold_ids, held_on)
    assert operations(sandbox, since) == ["ReleaseFulfillmentOrderHolds"]
    [fo] = await shopify.fulfillment_orders(order_id)
    assert not fo.holds

    since = mark(sandbox)
    await gateway.release_holds(order_id, hold_ids, held_on)  # released already: done
    assert operations(sandbox, since) == ["ReleaseFulfillmentOrderHolds", "FulfillmentOrders"]


async def test_a_release_without_known_orders_reads_them_first(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    """A mirror from before the fulfilment orders were kept still releases (one read more)."""
    gateway = ShopifyGateway(shopify)
    created = await gateway.create_pending_order(snapshot())
    order_id = created.view.order_id
    holds = await gateway.hold_fulfillment_orders(order_id, HANDLE, created.fulfillment_order_ids)
    await gateway.release_holds(order_id, tuple(h.hold_id for h in holds))
    [fo] = await shopify.fulfillment_orders(order_id)
    assert not fo.holds
    assert all(isinstance(h, Hold) for h in holds)
