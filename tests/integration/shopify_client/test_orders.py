"""Order calls of ShopifyClient against the sandbox over HTTP: create, find, read, hold,
release, address, pay, cancel."""

from __future__ import annotations

import pytest

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyUserError
from shopbridge.shopify.models import (
    Address,
    CancelReason,
    CreatedOrder,
    InventoryBehaviour,
    OrderLine,
)
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

TIKTOK_ID = "577000111222333"
ADDRESS = Address(
    first_name="Ada",
    last_name="Buyer",
    address1="1 Main St",
    city="Austin",
    province_code="TX",
    country_code="US",
    zip="78701",
)


async def _mirror(shopify: ShopifyClient, tee: dict[str, str], quantity: int = 2) -> CreatedOrder:
    return await shopify.create_order(
        source_identifier=TIKTOK_ID,
        currency="USD",
        tags=["tiktok-shop"],
        lines=[OrderLine(variant_id=tee["id"], quantity=quantity, unit_price="19.99")],
    )


async def _held(shopify: ShopifyClient, tee: dict[str, str]) -> tuple[CreatedOrder, str, str]:
    """A mirrored order whose only fulfillment order carries our hold; (order, fo id, hold id)."""
    created = await _mirror(shopify, tee)
    (fo,) = await shopify.fulfillment_orders(created.id)
    hold = await shopify.hold_fulfillment_order(fo.id, "tiktok-unpaid", notes="TikTok unpaid")
    return created, fo.id, hold.id


async def test_create_order_is_pending_and_commits_stock(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """A mirrored order is Payment pending and moves 2 units from available to committed."""
    created = await _mirror(shopify, tee)
    assert created.display_financial_status == "PENDING"
    assert created.source_identifier == TIKTOK_ID
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (8, 2, 10)


async def test_custom_line_for_unknown_sku_creates_an_order(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """A line with a title and SKU but no variant becomes a custom line item."""
    created = await shopify.create_order(
        source_identifier="1",
        currency="USD",
        lines=[OrderLine(title="Gift wrap", sku="NOT-IN-SHOPIFY", quantity=1, unit_price="2.50")],
    )
    order = await shopify.get_order(created.id)
    assert order is not None
    assert [(li.title, li.sku, li.quantity) for li in order.line_items] == [
        ("Gift wrap", "NOT-IN-SHOPIFY", 1)
    ]
    assert order.total_price.amount == pytest.approx(2.5)


async def test_obeying_policy_refuses_an_order_beyond_stock(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """DECREMENT_OBEYING_POLICY on a DENY variant without stock raises INVENTORY_CLAIM_FAILED."""
    with pytest.raises(ShopifyUserError) as caught:
        await shopify.create_order(
            source_identifier=TIKTOK_ID,
            currency="USD",
            lines=[OrderLine(variant_id=tee["id"], quantity=11, unit_price="19.99")],
            inventory_behaviour=InventoryBehaviour.DECREMENT_OBEYING_POLICY,
        )
    assert caught.value.code == "INVENTORY_CLAIM_FAILED"
    assert "demo.myshopify.com" in str(caught.value)


async def test_find_order_by_source_identifier_finds_the_mirror(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """The order created for a TikTok id is found by that id."""
    created = await _mirror(shopify, tee)
    found = await shopify.find_order_by_source_identifier(TIKTOK_ID)
    assert found is not None
    assert found.id == created.id


async def test_find_order_by_source_identifier_returns_none_when_absent(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """An id with no mirror yet is not found."""
    await _mirror(shopify, tee)
    assert await shopify.find_order_by_source_identifier("577999") is None


async def test_get_order_reads_statuses_lines_and_fulfillment_orders(
    shopify: ShopifyClient, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """get_order returns the order's statuses, lines, money and fulfillment orders."""
    created = await _mirror(shopify, tee)
    order = await shopify.get_order(created.id)
    assert order is not None
    assert order.source_identifier == TIKTOK_ID
    assert order.tags == ["tiktok-shop"]
    assert order.display_financial_status == "PENDING"
    assert order.can_mark_as_paid is True
    assert order.cancelled_at is None
    assert str(order.total_outstanding.amount) in ("39.98", "39.980")
    assert order.total_outstanding.currency_code == "USD"
    assert [(li.sku, li.quantity, li.variant_id) for li in order.line_items] == [
        ("TEE-RED-L", 2, tee["id"])
    ]
    assert [fo.location_id for fo in order.fulfillment_orders] == [store.location_id]


async def test_get_order_of_unknown_id_is_none(shopify: ShopifyClient) -> None:
    """Reading an order that does not exist returns None."""
    assert await shopify.get_order("gid://shopify/Order/999999") is None


async def test_hold_puts_the_order_on_hold(shopify: ShopifyClient, tee: dict[str, str]) -> None:
    """Our AWAITING_PAYMENT hold shows on the fulfillment order and the order is ON_HOLD."""
    created, _, hold_id = await _held(shopify, tee)
    order = await shopify.get_order(created.id)
    assert order is not None
    assert order.display_fulfillment_status == "ON_HOLD"
    (fo,) = order.fulfillment_orders
    assert fo.status == "ON_HOLD"
    assert [(h.id, h.handle, h.reason) for h in fo.our_holds()] == [
        (hold_id, "tiktok-unpaid", "AWAITING_PAYMENT")
    ]


async def test_hold_with_a_repeated_handle_is_refused(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """A second hold with the same handle raises DUPLICATE_FULFILLMENT_HOLD_HANDLE."""
    _, fo_id, _ = await _held(shopify, tee)
    with pytest.raises(ShopifyUserError) as caught:
        await shopify.hold_fulfillment_order(fo_id, "tiktok-unpaid")
    assert caught.value.has_code("DUPLICATE_FULFILLMENT_HOLD_HANDLE")


async def test_release_of_our_hold_opens_the_fulfillment_order(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """Releasing our own hold id leaves the fulfillment order OPEN."""
    created, fo_id, hold_id = await _held(shopify, tee)
    released = await shopify.release_holds(fo_id, [hold_id])
    assert released.status == "OPEN"
    order = await shopify.get_order(created.id)
    assert order is not None
    assert order.display_fulfillment_status == "UNFULFILLED"


async def test_release_keeps_other_holds(shopify: ShopifyClient, tee: dict[str, str]) -> None:
    """Releasing one hold id leaves the fulfillment order's other hold in place."""
    _, fo_id, hold_id = await _held(shopify, tee)
    other = await shopify.hold_fulfillment_order(fo_id, "address-check", "INCORRECT_ADDRESS")
    released = await shopify.release_holds(fo_id, [hold_id])
    assert released.status == "ON_HOLD"
    assert other.id != hold_id


async def test_release_of_unknown_fulfillment_order_is_a_user_error(
    shopify: ShopifyClient,
) -> None:
    """Releasing holds on a fulfillment order that does not exist raises ShopifyUserError."""
    with pytest.raises(ShopifyUserError):
        await shopify.release_holds("gid://shopify/FulfillmentOrder/999999", ["x"])


async def test_update_shipping_address_is_stored(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """The address written at release time is read back on the order."""
    created = await _mirror(shopify, tee)
    await shopify.update_shipping_address(created.id, ADDRESS)
    order = await shopify.get_order(created.id)
    assert order is not None
    assert order.shipping_address == ADDRESS


async def test_mark_as_paid_makes_the_order_paid(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """orderMarkAsPaid turns Payment pending into PAID and canMarkAsPaid off."""
    created = await _mirror(shopify, tee)
    assert await shopify.mark_as_paid(created.id) == "PAID"
    order = await shopify.get_order(created.id)
    assert order is not None
    assert (order.display_financial_status, order.can_mark_as_paid) == ("PAID", False)


async def test_mark_as_paid_twice_is_refused(shopify: ShopifyClient, tee: dict[str, str]) -> None:
    """A second orderMarkAsPaid on a paid order raises ShopifyUserError."""
    created = await _mirror(shopify, tee)
    await shopify.mark_as_paid(created.id)
    with pytest.raises(ShopifyUserError, match="mark_order_as_paid"):
        await shopify.mark_as_paid(created.id)


async def test_cancel_job_completes_and_restocks(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """cancel_order returns a job; once it is done the order is cancelled and stock is back."""
    created, _, _ = await _held(shopify, tee)
    job_id = await shopify.cancel_order(
        created.id, CancelReason.DECLINED, staff_note="Unpaid on TikTok"
    )
    job = await shopify.wait_for_job(job_id, poll_interval=0.01)
    assert job.done
    order = await shopify.get_order(created.id)
    assert order is not None
    assert order.is_cancelled
    assert order.cancel_reason == "DECLINED"
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"]) == (10, 0)


async def test_cancel_of_a_cancelled_order_is_refused(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """Cancelling an already cancelled order raises ShopifyUserError from orderCancelUserErrors."""
    created = await _mirror(shopify, tee)
    await shopify.wait_for_job(await shopify.cancel_order(created.id, "CUSTOMER"))
    with pytest.raises(ShopifyUserError, match="cancel_order"):
        await shopify.cancel_order(created.id, "CUSTOMER")
