"""Shops, tokens, orders, cancellations and fulfilment against the TikTok sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokPermanent
from shopbridge.tiktok.models import CancelStatus, OrderStatus
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

UPS = "7117858858072016686"
UPS_TRACKING = "1Z999AA10123456784"


def released_order(sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials) -> str:
    """A paid US order past its ON_HOLD hour: AWAITING_SHIPMENT, address visible."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2}, paid=True)
    clock.advance(timedelta(hours=1, seconds=1))
    sandbox.apply_timers()
    return order_id


@pytest.mark.usefixtures("product_id")
async def test_authorized_shops_list_this_shop_with_its_cipher(
    client: TikTokClient, shop: ShopCredentials
) -> None:
    """Get Authorized Shops returns the shop id and the cipher used on shop-scoped calls."""
    shops = await client.get_authorized_shops()
    assert [(s.id, s.cipher, s.region) for s in shops] == [(shop.shop_id, shop.shop_cipher, "US")]


async def test_auth_code_exchange_yields_working_tokens(
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    make_client: Callable[..., TikTokClient],
) -> None:
    """A seller's auth code becomes tokens on the auth host, and those tokens work."""
    onboarding = make_client(access_token="", refresh_token="", shop_cipher=None)
    tokens = await onboarding.get_token(sandbox.issue_auth_code(shop.shop_id))
    assert tokens.access_token_expires_at is not None
    shops = await onboarding.get_authorized_shops()
    assert [s.id for s in shops] == [shop.shop_id]


async def test_refresh_gives_new_tokens_that_work(
    client: TikTokClient, refreshed_tokens: list[object]
) -> None:
    """refresh_token() swaps in new tokens, reports them, and later calls use them."""
    before = client.access_token
    tokens = await client.refresh_token()
    assert tokens.access_token != before
    assert refreshed_tokens == [tokens]
    assert await client.get_warehouses()


@pytest.mark.usefixtures("product_id")
async def test_order_detail_reads_an_unpaid_order(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Get Order Detail: UNPAID, no address yet, one line item per unit grouped back to 2."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2, "TEE-BLUE-M": 1})
    (order,) = await client.get_orders([order_id])
    assert order.id == order_id
    assert order.status is OrderStatus.UNPAID
    assert order.recipient_address is None
    assert order.quantities_by_sku() == {"TEE-RED-L": 2, "TEE-BLUE-M": 1}
    assert order.payment.currency == "USD"
    assert order.payment.total_amount is not None


@pytest.mark.usefixtures("product_id")
async def test_order_moves_from_on_hold_to_awaiting_shipment_with_address(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """A paid US order reads ON_HOLD, then AWAITING_SHIPMENT with an address an hour later."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    (on_hold,) = await client.get_orders([order_id])
    assert (on_hold.status, on_hold.is_on_hold_order) == (OrderStatus.ON_HOLD, True)
    assert on_hold.paid_time == clock.now().replace(microsecond=0)
    clock.advance(timedelta(hours=1, seconds=1))
    (released,) = await client.get_orders([order_id])
    assert released.status is OrderStatus.AWAITING_SHIPMENT
    assert released.recipient_address is not None


@pytest.mark.usefixtures("product_id")
async def test_search_orders_pages_through_every_update(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """iter_orders walks all pages of an update-time window in ascending update order."""
    start = clock.now()
    created = []
    for _ in range(7):
        created.append(sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}))
        clock.advance(1)
    seen = [
        o.id
        async for o in client.iter_orders(
            start - timedelta(seconds=1), clock.now() + timedelta(seconds=1), page_size=3
        )
    ]
    assert seen == created


@pytest.mark.usefixtures("product_id")
async def test_get_orders_reads_more_than_fifty_ids(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Sixty order ids are read in two detail calls and all come back."""
    sandbox.add_product(
        shop.shop_id, title="Sticker", skus=[SkuSpec(seller_sku="STICKER", price="1", quantity=99)]
    )
    ids = [sandbox.create_order(shop.shop_id, {"STICKER": 1}) for _ in range(60)]
    orders = await client.get_orders(ids)
    assert sorted(o.id for o in orders) == sorted(ids)


@pytest.mark.usefixtures("product_id")
async def test_buyer_request_is_found_and_approved(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """A pending buyer request shows up with its 48 h deadline; approving cancels the order."""
    order_id = released_order(sandbox, clock, shop)
    cancel_id = sandbox.request_cancellation(order_id)
    page = await client.search_cancellations(order_ids=[order_id])
    (request,) = [c for c in page.items if c.cancel_id == cancel_id]
    assert request.cancel_status is CancelStatus.PENDING
    assert request.deadline is not None
    assert request.create_time is not None
    assert request.deadline - request.create_time == timedelta(hours=48)
    (order,) = await client.get_orders([order_id])
    assert order.is_buyer_request_cancel is True
    await client.approve_cancellation(cancel_id, idempotency_key=f"approve-{cancel_id}")
    (order,) = await client.get_orders([order_id])
    assert order.status is OrderStatus.CANCELLED


@pytest.mark.usefixtures("product_id")
async def test_repeated_approval_with_the_same_key_is_harmless(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Approving twice with one idempotency_key succeeds twice; a new key is refused."""
    order_id = released_order(sandbox, clock, shop)
    cancel_id = sandbox.request_cancellation(order_id)
    await client.approve_cancellation(cancel_id, idempotency_key="k-1")
    await client.approve_cancellation(cancel_id, idempotency_key="k-1")
    with pytest.raises(TikTokPermanent):
        await client.approve_cancellation(cancel_id, idempotency_key="k-2")


@pytest.mark.usefixtures("product_id")
async def test_iter_cancellations_lists_every_record_of_the_window(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Cancellation search pages through all requests updated in a window."""
    start = clock.now()
    orders = [released_order(sandbox, clock, shop) for _ in range(3)]
    cancel_ids = [sandbox.request_cancellation(o) for o in orders]
    found = [
        c.cancel_id
        async for c in client.iter_cancellations(
            update_time_ge=start, update_time_lt=clock.now() + timedelta(seconds=1), page_size=2
        )
    ]
    assert sorted(found) == sorted(cancel_ids)


@pytest.mark.usefixtures("product_id")
async def test_us_reject_is_refused_with_a_message_saying_to_ship(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """US shops can no longer reject by API; the error says to ship the package instead."""
    order_id = released_order(sandbox, clock, shop)
    cancel_id = sandbox.request_cancellation(order_id)
    with pytest.raises(TikTokPermanent, match="ship the package"):
        await client.reject_cancellation(
            cancel_id,
            "seller_reject_apply_product_has_been_packed",
            "already packed",
            idempotency_key="r-1",
        )


async def test_uk_reject_closes_the_request(
    sandbox: TikTokSandbox, clock: ManualClock, make_client: Callable[..., TikTokClient]
) -> None:
    """Outside the US a reject with a valid reason closes the request; the order stays live."""
    uk = sandbox.add_shop(name="Demo UK", region="GB")
    sandbox.add_product(uk.shop_id, title="Mug", skus=[SkuSpec("MUG", "8.00", quantity=4)])
    client = make_client(uk)
    order_id = sandbox.create_order(uk.shop_id, {"MUG": 1}, paid=True)
    clock.advance(timedelta(hours=1, seconds=1))
    cancel_id = sandbox.request_cancellation(order_id)
    await client.reject_cancellation(
        cancel_id,
        "order_manage_list_action_respond_popup_reject_reason_invalid_cancellation_reason",
        "",
        idempotency_key="r-1",
    )
    page = await client.search_cancellations(cancel_ids=[cancel_id])
    assert page.items[0].cancel_status is CancelStatus.CANCELLED
    (order,) = await client.get_orders([order_id])
    assert order.status is OrderStatus.AWAITING_SHIPMENT


@pytest.mark.usefixtures("product_id")
async def test_seller_cancel_cancels_and_restocks(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Cancel Order as seller cancels the order and returns its units to stock."""
    order_id = released_order(sandbox, clock, shop)
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 8
    result = await client.cancel_order(
        order_id, "seller_cancel_reason_out_of_stock", idempotency_key="c-1"
    )
    assert result.cancel_id
    (order,) = await client.get_orders([order_id])
    assert order.status is OrderStatus.CANCELLED
    assert order.cancellation_initiator == "SELLER"
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 10


@pytest.mark.usefixtures("product_id")
async def test_ship_with_a_provider_of_the_delivery_option(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """Providers come from the order's delivery option; shipping with one moves the order on."""
    (order,) = await client.get_orders([released_order(sandbox, clock, shop)])
    assert order.delivery_option_id is not None
    providers = {
        p.name: p.id for p in await client.get_shipping_providers(order.delivery_option_id)
    }
    assert providers["UPS"] == UPS
    package = await client.mark_package_shipped(order.id, UPS_TRACKING, providers["UPS"])
    assert package.package_id
    (shipped,) = await client.get_orders([order.id])
    assert shipped.status is OrderStatus.AWAITING_COLLECTION
    assert shipped.line_items[0].tracking_number == UPS_TRACKING


@pytest.mark.usefixtures("product_id")
async def test_shipping_twice_is_a_permanent_error(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """A second Mark Package As Shipped is refused with 21011006 (already shipped)."""
    order_id = released_order(sandbox, clock, shop)
    await client.mark_package_shipped(order_id, UPS_TRACKING, UPS)
    with pytest.raises(TikTokPermanent) as caught:
        await client.mark_package_shipped(order_id, UPS_TRACKING, UPS)
    assert caught.value.code == 21011006


@pytest.mark.usefixtures("product_id")
async def test_shipping_an_on_hold_order_is_refused(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """An ON_HOLD order cannot ship: 21011044, and the error names the order's call."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    with pytest.raises(TikTokPermanent) as caught:
        await client.mark_package_shipped(order_id, UPS_TRACKING, UPS)
    assert caught.value.code == 21011044
    assert order_id in str(caught.value)


@pytest.mark.usefixtures("product_id")
async def test_shipping_with_a_pending_us_request_rejects_it(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """In the US, shipping while a buyer request is pending closes the request (§4.2)."""
    order_id = released_order(sandbox, clock, shop)
    cancel_id = sandbox.request_cancellation(order_id)
    await client.mark_package_shipped(order_id, UPS_TRACKING, UPS)
    page = await client.search_cancellations(cancel_ids=[cancel_id])
    assert page.items[0].cancel_status is CancelStatus.CANCELLED


@pytest.mark.usefixtures("product_id")
async def test_search_without_filters_lists_the_shop_orders(
    sandbox: TikTokSandbox, shop: ShopCredentials, client: TikTokClient
) -> None:
    """An unfiltered search (sent with no body bytes) is accepted and lists every order."""
    created = {sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}) for _ in range(2)}
    assert {o.id async for o in client.iter_orders()} == created
