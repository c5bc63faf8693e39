"""Item-level cancels, packages and returns through `TikTokClient` against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokPermanent
from shopbridge.tiktok.models import OrderStatus, ReturnStatus
from shopbridge.tiktok.webhooks import PACKAGE_UPDATE, RETURN_STATUS_CHANGE, parse_notification
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

UPS = "7117858858072016686"
OUT_OF_STOCK = "seller_cancel_reason_out_of_stock"

pytestmark = pytest.mark.usefixtures("product_id")


def released_order(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, items: dict[str, int]
) -> str:
    order_id = sandbox.create_order(shop.shop_id, items, paid=True)
    clock.advance(timedelta(hours=1, seconds=1))
    sandbox.apply_timers()
    return order_id


def line_ids(sandbox: TikTokSandbox, order_id: str) -> list[str]:
    return [li["id"] for li in sandbox.order(order_id)["line_items"]]


async def test_item_cancel_by_line_item_shows_on_the_unit_and_the_record(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """cancel_order(line_item_ids=...) cancels one unit; the order reads it per unit."""
    order_id = released_order(sandbox, clock, shop, {"TEE-RED-L": 2, "TEE-BLUE-M": 1})
    red = line_ids(sandbox, order_id)[0]
    result = await client.cancel_order(
        order_id, OUT_OF_STOCK, idempotency_key=f"cancel-{red}", line_item_ids=[red]
    )
    (order,) = await client.get_orders([order_id])
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    by_id = {item.id: item for item in order.line_items}
    assert by_id[red].cancelled
    assert (by_id[red].cancel_user, by_id[red].cancel_reason) == ("SELLER", OUT_OF_STOCK)
    assert [item.id for item in order.line_items if not item.cancelled] == line_ids(
        sandbox, order_id
    )[1:]
    [record] = [c async for c in client.iter_cancellations(order_ids=[order_id])]
    assert record.cancel_id == result.cancel_id
    assert record.line_item_ids == (red,)
    assert record.cancel_line_items[0].seller_sku == "TEE-RED-L"


async def test_item_cancel_by_sku_and_quantity(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """skus=[(sku_id, 2)] travels as skus[{sku_id, quantity}] and cancels two units."""
    order_id = released_order(sandbox, clock, shop, {"TEE-RED-L": 3})
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    await client.cancel_order(order_id, OUT_OF_STOCK, skus=[(sku_id, 2)])
    (order,) = await client.get_orders([order_id])
    assert sum(item.cancelled for item in order.line_items) == 2
    assert sandbox.inventory(shop.shop_id, "TEE-RED-L") == 9


async def test_item_cancel_refusals_are_permanent(
    sandbox: TikTokSandbox,
    clock: ManualClock,
    shop: ShopCredentials,
    client: TikTokClient,
    make_client: Callable[..., TikTokClient],
) -> None:
    """Outside US/UK 25005010; more units than remain 25005011; both TikTokPermanent."""
    de_shop = sandbox.add_shop(name="Demo DE", region="DE")
    sandbox.add_product(de_shop.shop_id, "Tee", [SkuSpec("TEE-DE", "19.99", 3)])
    de_order = sandbox.create_order(de_shop.shop_id, {"TEE-DE": 2}, paid=True)
    de_client = make_client(de_shop)
    with pytest.raises(TikTokPermanent) as refused:
        await de_client.cancel_order(
            de_order, OUT_OF_STOCK, line_item_ids=line_ids(sandbox, de_order)[:1]
        )
    assert refused.value.code == 25005010
    order_id = released_order(sandbox, clock, shop, {"TEE-RED-L": 1, "TEE-BLUE-M": 1})
    sku_id = sandbox.sku_id(shop.shop_id, "TEE-RED-L")
    with pytest.raises(TikTokPermanent) as over:
        await client.cancel_order(order_id, OUT_OF_STOCK, skus=[(sku_id, 2)])
    assert over.value.code == 25005011


async def test_combined_package_ships_reads_and_fixes_once(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """ship_package moves both orders; get_package reads them; one tracking fix only."""
    first = released_order(sandbox, clock, shop, {"TEE-RED-L": 1})
    second = released_order(sandbox, clock, shop, {"TEE-BLUE-M": 1})
    package_id = sandbox.combine_packages(shop.shop_id, [first, second])
    orders = await client.get_orders([first, second])
    assert {o.split_or_combine_tag for o in orders} == {"COMBINED"}
    assert {tuple(p.id for p in o.packages) for o in orders} == {(package_id,)}
    await client.ship_package(package_id, "1Z999AA10123456784", UPS)
    orders = await client.get_orders([first, second])
    assert {o.status for o in orders} == {OrderStatus.AWAITING_COLLECTION}
    assert {item.package_status for o in orders for item in o.line_items} == {"PROCESSING"}
    package = await client.get_package(package_id)
    assert package.package_id == package_id
    assert package.order_ids == (first, second)
    assert package.split_and_combine_tag == "COMBINE"
    assert (package.package_status, package.shipping_provider_name) == ("PROCESSING", "UPS")
    assert len(package.order_line_item_ids) == 2
    await client.update_package_shipping_info(package_id, "1Z999AA10123456799", UPS)
    assert (await client.get_package(package_id)).tracking_number == "1Z999AA10123456799"
    with pytest.raises(TikTokPermanent) as twice:
        await client.update_package_shipping_info(package_id, "1Z999AA10123456700", UPS)
    assert twice.value.code == 21011051


async def test_unknown_package_is_permanent(client: TikTokClient) -> None:
    """Get Package Detail for a package the shop does not have: 21011028."""
    with pytest.raises(TikTokPermanent) as caught:
        await client.get_package("1153000000000000000")
    assert caught.value.code == 21011028


async def test_returns_are_searched_and_read(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """iter_returns finds the order's returns with their units, money and statuses."""
    order_id = released_order(sandbox, clock, shop, {"TEE-RED-L": 2})
    await client.mark_package_shipped(order_id, "1Z999AA10123456784", UPS)
    sandbox.carrier_collect(order_id)
    sandbox.deliver(order_id)
    red_1, red_2 = line_ids(sandbox, order_id)
    returned = sandbox.create_return(order_id, [red_1])
    refunded = sandbox.create_return(order_id, [red_2], "REFUND")
    sandbox.advance_return(refunded, "COMPLETE")
    found = {r.return_id: r async for r in client.iter_returns(order_ids=[order_id])}
    assert set(found) == {returned, refunded}
    first, second = found[returned], found[refunded]
    assert first.return_status is ReturnStatus.PENDING
    assert first.return_type == "RETURN_AND_REFUND"
    assert first.line_item_ids == (red_1,)
    assert first.return_line_items[0].seller_sku == "TEE-RED-L"
    assert first.refund_amount is not None
    assert first.refund_amount.refund_subtotal == Decimal("19.99")
    assert first.deadline is not None
    assert second.return_status is ReturnStatus.COMPLETE
    assert second.deadline is None
    only = [r.return_id async for r in client.iter_returns(return_ids=[refunded])]
    assert only == [refunded]


async def test_sandbox_package_and_return_webhooks_parse(
    sandbox: TikTokSandbox, clock: ManualClock, shop: ShopCredentials, client: TikTokClient
) -> None:
    """The sandbox's type 4 and type 12 bodies parse: order_ids of every package, return_id."""
    first = released_order(sandbox, clock, shop, {"TEE-RED-L": 1})
    second = released_order(sandbox, clock, shop, {"TEE-BLUE-M": 1})
    sandbox.combine_packages(shop.shop_id, [first, second])
    await client.mark_package_shipped(first, "1Z999AA10123456784", UPS)
    sandbox.carrier_collect(first)
    return_id = sandbox.create_return(first, line_ids(sandbox, first), "REFUND")
    mine = [n for n in sandbox.notifications if n["shop_id"] == shop.shop_id]
    parsed = [parse_notification(json.dumps(n).encode()) for n in mine]
    [package_update] = [n for n in parsed if n.type == PACKAGE_UPDATE]
    assert package_update.order_ids == (first, second)
    [return_change] = [n for n in parsed if n.type == RETURN_STATUS_CHANGE]
    assert (return_change.order_ids, return_change.return_id) == ((first,), return_id)
    change = return_change.return_status_change
    assert change is not None
    assert change.return_status is ReturnStatus.PENDING
