"""Request shapes of item-level cancels, package calls and Search Returns (wave2 §4-6)."""

from __future__ import annotations

from tiktok_fake import FakeTikTok, body_of, query_of

from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.models import ReturnStatus


async def test_item_cancel_sends_line_items_and_skus_as_top_level_siblings(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """order_line_item_ids and skus[{sku_id, quantity}] sit next to each other in the body."""
    fake.queue(
        "POST",
        "/return_refund/202309/cancellations",
        {"cancel_id": "4035", "cancel_status": "CANCELLATION_REQUEST_SUCCESS"},
    )
    await client.cancel_order(
        "576486316948490001",
        "seller_cancel_reason_out_of_stock",
        idempotency_key="k-1",
        line_item_ids=["577086512123755001"],
        skus=[("1729382476852921560", 2)],
    )
    (request,) = fake.requests
    assert body_of(request) == {
        "order_id": "576486316948490001",
        "cancel_reason": "seller_cancel_reason_out_of_stock",
        "order_line_item_ids": ["577086512123755001"],
        "skus": [{"sku_id": "1729382476852921560", "quantity": 2}],
    }
    assert query_of(request)["idempotency_key"] == "k-1"


async def test_ship_package_sends_self_shipment(fake: FakeTikTok, client: TikTokClient) -> None:
    """Ship Package posts handover_method and self_shipment{tracking_number, provider}."""
    fake.queue("POST", "/fulfillment/202309/packages/1153/ship", {})
    assert await client.ship_package("1153", "1Z999AA10123456784", "7117858858072016686") is None
    assert body_of(fake.requests[0]) == {
        "handover_method": "DROP_OFF",
        "self_shipment": {
            "tracking_number": "1Z999AA10123456784",
            "shipping_provider_id": "7117858858072016686",
        },
    }


async def test_update_package_shipping_info_posts_the_new_tracking(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """The package-level update carries tracking_number and shipping_provider_id."""
    fake.queue("POST", "/fulfillment/202309/packages/1153/shipping_info/update", {})
    await client.update_package_shipping_info("1153", "1Z999AA10123456799", "711")
    assert body_of(fake.requests[0]) == {
        "tracking_number": "1Z999AA10123456799",
        "shipping_provider_id": "711",
    }


async def test_get_package_reads_the_detail(fake: FakeTikTok, client: TikTokClient) -> None:
    """Numeric ids become strings; the orders of a combined package are listed."""
    fake.queue(
        "GET",
        "/fulfillment/202309/packages/1153",
        {
            "package_id": 1153,
            "package_status": "PROCESSING",
            "order_line_item_ids": [5770001, "5770002"],
            "orders": [{"id": 576401, "skus": [{"id": "1", "quantity": 1}]}, {"id": "576402"}],
            "split_and_combine_tag": "COMBINE",
            "tracking_number": "1Z999AA10123456784",
            "shipping_provider_id": 7117858858072016686,
            "shipping_provider_name": "UPS",
            "create_time": 1700000000,
            "weight": {"value": "1", "unit": "KG"},
        },
    )
    package = await client.get_package("1153")
    assert package.package_id == "1153"
    assert package.order_ids == ("576401", "576402")
    assert package.order_line_item_ids == ["5770001", "5770002"]
    assert package.shipping_provider_id == "7117858858072016686"
    assert package.model_extra == {"weight": {"value": "1", "unit": "KG"}}


async def test_iter_returns_asks_fifty_a_page_and_follows_tokens(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Search Returns pages of 50 by update_time, filtered by order id, token after token."""
    path = "/return_refund/202309/returns/search"
    fake.queue(
        "POST",
        path,
        {"return_orders": [{"return_id": 1, "order_id": 2}], "next_page_token": "+/next"},
    )
    fake.queue(
        "POST",
        path,
        {
            "return_orders": [
                {"return_id": "3", "order_id": "2", "return_status": "SOMETHING_NEW"}
            ],
            "next_page_token": "",
        },
    )
    found = [r async for r in client.iter_returns(order_ids=["2"])]
    assert [r.return_id for r in found] == ["1", "3"]
    assert found[1].return_status == "SOMETHING_NEW"
    assert found[1].return_status not in set(ReturnStatus)
    first, second = fake.requests
    assert query_of(first)["page_size"] == "50"
    assert query_of(first)["sort_field"] == "update_time"
    assert "page_token" not in query_of(first)
    assert query_of(second)["page_token"] == "+/next"
    assert body_of(first) == body_of(second) == {"order_ids": ["2"]}
