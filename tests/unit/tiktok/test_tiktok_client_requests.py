"""How the client builds requests: query, signature, headers and body bytes (spec §1.2-1.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from tiktok_fake import APP_SECRET, CIPHER, NOW, NOW_UNIX, FakeTikTok, body_of, envelope, query_of

from shopbridge.clock import ManualClock
from shopbridge.tiktok import signing
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import TikTokPermanent

SHOP = {"id": 7494049642642441621, "name": "Demo", "region": "US", "cipher": CIPHER, "code": "US1"}


def order(order_id: str, **fields: object) -> dict[str, object]:
    return {"id": order_id, "status": "AWAITING_SHIPMENT", **fields}


async def test_official_vector_is_what_the_client_sends(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """With the official example's key, secret and time, the client sends the published sign."""
    client = make_client(clock=ManualClock(datetime.fromtimestamp(1623812664, UTC)))
    fake.queue("GET", "/authorization/202309/shops", {"shops": []})
    await client.get_authorized_shops()
    query = query_of(fake.requests[0])
    assert query == {
        "app_key": "29a39d",
        "timestamp": "1623812664",
        "sign": "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8",
    }


async def test_authorization_call_carries_no_shop_cipher(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """/authorization/ calls send app_key, timestamp and sign, but never shop_cipher."""
    fake.queue("GET", "/authorization/202309/shops", {"shops": [SHOP]})
    shops = await client.get_authorized_shops()
    (request,) = fake.requests
    assert set(query_of(request)) == {"app_key", "timestamp", "sign"}
    assert shops[0].id == "7494049642642441621"
    assert shops[0].cipher == CIPHER


async def test_every_request_sends_token_header_and_json_content_type(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """The access token travels in x-tts-access-token, never in the query; content is JSON."""
    fake.queue("GET", "/logistics/202309/warehouses", {"warehouses": []})
    await client.get_warehouses()
    (request,) = fake.requests
    assert request.headers["x-tts-access-token"] == "access-1"
    assert request.headers["content-type"] == "application/json"
    assert "access_token" not in query_of(request)


async def test_shop_scoped_call_carries_cipher_and_clock_timestamp(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Shop-scoped calls add shop_cipher; timestamp is the injected clock's Unix seconds."""
    fake.queue("GET", "/logistics/202309/warehouses", {"warehouses": []})
    await client.get_warehouses()
    query = query_of(fake.requests[0])
    assert query["shop_cipher"] == CIPHER
    assert query["timestamp"] == str(NOW_UNIX)


async def test_search_orders_signs_the_exact_compact_body_it_sends(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """The body is compact JSON, sent as is, and the sign covers those very bytes."""
    fake.queue("POST", "/order/202309/orders/search", {"orders": [], "total_count": 0})
    await client.search_orders(NOW - timedelta(hours=1), NOW)
    (request,) = fake.requests
    expected_body = f'{{"update_time_ge":{NOW_UNIX - 3600},"update_time_lt":{NOW_UNIX}}}'
    assert request.content == expected_body.encode()
    query = query_of(request)
    assert query["sign"] == signing.sign(APP_SECRET, request.url.path, query, request.content)
    assert query["sign"] != signing.sign(APP_SECRET, request.url.path, query, b"")


async def test_search_orders_query_has_paging_and_no_empty_params(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Paging goes in the query; a None page_token is left out rather than sent empty."""
    fake.queue("POST", "/order/202309/orders/search", {"orders": []})
    await client.search_orders(NOW - timedelta(hours=1), NOW)
    query = query_of(fake.requests[0])
    assert {k: v for k, v in query.items() if k not in ("sign", "timestamp")} == {
        "app_key": "29a39d",
        "shop_cipher": CIPHER,
        "page_size": "50",
        "sort_field": "update_time",
        "sort_order": "ASC",
    }
    assert all(value != "" for value in query.values())


async def test_page_token_is_signed_raw_and_sent_encoded(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A page_token with + and / is percent-encoded on the wire and signed decoded."""
    fake.queue("POST", "/order/202309/orders/search", {"orders": []})
    await client.search_orders(NOW - timedelta(hours=1), NOW, page_token="a+b/c==")
    (request,) = fake.requests
    assert b"page_token=a%2Bb%2Fc%3D%3D" in request.url.query
    assert query_of(request)["page_token"] == "a+b/c=="


async def test_approve_sends_no_body_bytes_and_signs_the_idempotency_key(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A POST without body parameters sends zero bytes; idempotency_key is a signed query."""
    path = "/return_refund/202309/cancellations/4035318504086604100/approve"
    fake.queue("POST", path, {})
    await client.approve_cancellation("4035318504086604100", idempotency_key="approve-1")
    (request,) = fake.requests
    assert request.content == b""
    query = query_of(request)
    assert query["idempotency_key"] == "approve-1"
    assert query["sign"] == signing.sign(APP_SECRET, path, query, b"")


async def test_reject_sends_reason_and_comment(fake: FakeTikTok, client: TikTokClient) -> None:
    """Reject Cancellation sends the reason key and comment in the body."""
    path = "/return_refund/202309/cancellations/77/reject"
    fake.queue("POST", path, {})
    await client.reject_cancellation(
        "77", "seller_reject_apply_product_has_been_packed", "packed already", "reject-1"
    )
    (request,) = fake.requests
    assert body_of(request) == {
        "reject_reason": "seller_reject_apply_product_has_been_packed",
        "comment": "packed already",
    }
    assert query_of(request)["idempotency_key"] == "reject-1"


async def test_cancel_order_posts_reason_and_returns_cancel_id(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Cancel Order sends order id and reason; the answer's cancel_id is a string."""
    fake.queue(
        "POST",
        "/return_refund/202309/cancellations",
        {"cancel_id": 4035318504086604100, "cancel_status": "CANCELLATION_REQUEST_COMPLETE"},
    )
    result = await client.cancel_order("576486316948490001", "seller_cancel_reason_out_of_stock")
    assert body_of(fake.requests[0]) == {
        "order_id": "576486316948490001",
        "cancel_reason": "seller_cancel_reason_out_of_stock",
    }
    assert "idempotency_key" not in query_of(fake.requests[0])
    assert result.cancel_id == "4035318504086604100"


async def test_get_orders_asks_fifty_ids_at_a_time(fake: FakeTikTok, client: TikTokClient) -> None:
    """120 ids become three detail calls of 50, 50 and 20 comma-joined ids."""
    ids = [str(576486316948490000 + n) for n in range(120)]
    for chunk in (ids[:50], ids[50:100], ids[100:]):
        fake.queue("GET", "/order/202309/orders", {"orders": [order(i) for i in chunk]})
    orders = await client.get_orders(ids)
    sent = [query_of(r)["ids"].split(",") for r in fake.requests]
    assert [len(chunk) for chunk in sent] == [50, 50, 20]
    assert [i for chunk in sent for i in chunk] == ids
    assert [o.id for o in orders] == ids


async def test_iter_orders_follows_page_tokens_to_the_end(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """The order iterator asks for the next page until TikTok returns no next_page_token."""
    fake.queue(
        "POST",
        "/order/202309/orders/search",
        {"orders": [order("1"), order("2")], "next_page_token": "p2"},
        {"orders": [order("3")], "next_page_token": ""},
    )
    seen = [o.id async for o in client.iter_orders(NOW - timedelta(days=1), NOW)]
    assert seen == ["1", "2", "3"]
    assert [query_of(r).get("page_token") for r in fake.requests] == [None, "p2"]


async def test_a_repeated_page_token_stops_pagination_with_an_error(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A server that keeps returning the same page token cannot loop the client forever."""
    page = {"orders": [order("1")], "next_page_token": "same"}
    fake.queue("POST", "/order/202309/orders/search", page, page, page)
    with pytest.raises(TikTokPermanent, match="twice"):
        _ = [o async for o in client.iter_orders(NOW - timedelta(days=1), NOW)]


async def test_search_cancellations_filters_by_order_ids(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Search Cancellations puts list filters in the body and parses the records."""
    fake.queue(
        "POST",
        "/return_refund/202309/cancellations/search",
        {
            "cancellations": [
                {
                    "cancel_id": "9",
                    "order_id": "1",
                    "cancel_type": "BUYER_CANCEL",
                    "cancel_status": "CANCELLATION_REQUEST_PENDING",
                    "role": "BUYER",
                }
            ]
        },
    )
    page = await client.search_cancellations(order_ids=["1"])
    assert body_of(fake.requests[0]) == {"order_ids": ["1"]}
    assert page.items[0].cancel_id == "9"
    assert page.next_page_token is None


async def test_mark_package_shipped_sends_tracking_and_provider(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Mark Package As Shipped posts tracking number, provider id and chosen line items."""
    path = "/fulfillment/202309/orders/576486316948490001/packages"
    fake.queue("POST", path, {"order_id": "576486316948490001", "package_id": 1152921504606846976})
    package = await client.mark_package_shipped(
        "576486316948490001", "1Z999AA10123456784", "7117858858072016686", ["577086512123755001"]
    )
    assert body_of(fake.requests[0]) == {
        "tracking_number": "1Z999AA10123456784",
        "shipping_provider_id": "7117858858072016686",
        "order_line_item_ids": ["577086512123755001"],
    }
    assert package.package_id == "1152921504606846976"


async def test_shipping_providers_are_read_for_the_delivery_option(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Get Shipping Providers is a GET on the order's delivery option."""
    path = "/logistics/202309/delivery_options/7091146663229654785/shipping_providers"
    fake.queue("GET", path, {"shipping_providers": [{"id": 7117858858072016686, "name": "UPS"}]})
    providers = await client.get_shipping_providers("7091146663229654785")
    assert [(p.id, p.name) for p in providers] == [("7117858858072016686", "UPS")]
    assert fake.requests[0].content == b""


async def test_search_inventory_flattens_skus_with_their_product(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Inventory Search results come back as SKUs that know their product id."""
    fake.queue(
        "POST",
        "/product/202309/inventory/search",
        {
            "inventory": [
                {
                    "product_id": "p1",
                    "skus": [
                        {
                            "id": "s1",
                            "seller_sku": "TEE-RED-L",
                            "total_available_quantity": 7,
                            "warehouse_inventory": [
                                {"warehouse_id": "w1", "available_quantity": 7}
                            ],
                        }
                    ],
                }
            ]
        },
    )
    (sku,) = await client.search_inventory(sku_ids=["s1"])
    assert body_of(fake.requests[0]) == {"sku_ids": ["s1"]}
    assert (sku.product_id, sku.id, sku.total_available_quantity) == ("p1", "s1", 7)
    assert sku.warehouse_ids == ["w1"]


async def test_search_inventory_needs_exactly_one_kind_of_id(client: TikTokClient) -> None:
    """Inventory Search takes sku_ids or product_ids, not both and not neither."""
    with pytest.raises(ValueError, match="either"):
        await client.search_inventory(sku_ids=["s"], product_ids=["p"])
    with pytest.raises(ValueError, match="either"):
        await client.search_inventory()


async def test_update_inventory_lists_every_warehouse(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Update Inventory sends one SKU with the quantity of each of its warehouses."""
    fake.queue("POST", "/product/202309/products/p1/inventory/update", {})
    await client.update_inventory("p1", "s1", {"w1": 3, "w2": 0})
    assert body_of(fake.requests[0]) == {
        "skus": [
            {
                "id": "s1",
                "inventory": [
                    {"warehouse_id": "w1", "quantity": 3},
                    {"warehouse_id": "w2", "quantity": 0},
                ],
            }
        ]
    }


async def test_update_inventory_raises_per_sku_errors_hidden_in_a_success(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A code-0 reply listing a SKU error still fails the call, naming SKU and warehouse."""
    fake.queue(
        "POST",
        "/product/202309/products/p1/inventory/update",
        {
            "errors": [
                {
                    "code": 12019028,
                    "message": "Multiple warehouses: include all",
                    "detail": {
                        "sku_id": "s1",
                        "extra_errors": [{"warehouse_id": "w2", "message": "missing"}],
                    },
                }
            ]
        },
    )
    with pytest.raises(TikTokPermanent, match=r"sku s1.*warehouse w2") as caught:
        await client.update_inventory("p1", "s1", {"w1": 3})
    assert caught.value.code == 12019028


async def test_search_products_by_seller_sku(fake: FakeTikTok, client: TikTokClient) -> None:
    """Search Products filters by seller SKU on the 202502 path and parses prices as Decimal."""
    fake.queue(
        "POST",
        "/product/202502/products/search",
        {
            "products": [
                {
                    "id": "p1",
                    "title": "Tee",
                    "status": "ACTIVATE",
                    "skus": [
                        {
                            "id": "s1",
                            "seller_sku": "TEE-RED-L",
                            "price": {"currency": "USD", "sale_price": "19.99"},
                            "inventory": [{"warehouse_id": "w1", "quantity": 4}],
                        }
                    ],
                }
            ],
            "total_count": 1,
        },
    )
    page = await client.search_products(["TEE-RED-L"])
    assert body_of(fake.requests[0]) == {"seller_skus": ["TEE-RED-L"]}
    assert query_of(fake.requests[0])["page_size"] == "100"
    sku = page.items[0].skus[0]
    assert sku.price is not None
    assert sku.price.sale_price == Decimal("19.99")
    assert page.total_count == 1


async def test_shop_scoped_call_without_cipher_is_refused_before_sending(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """A client that knows no shop_cipher cannot make shop-scoped calls (TikTok says 106013)."""
    client = make_client(shop_cipher=None)
    with pytest.raises(ValueError, match="shop_cipher"):
        await client.get_warehouses()
    assert fake.requests == []


async def test_get_token_is_unsigned_on_the_auth_host(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """The code exchange sends key, secret, code and grant type, unsigned, with no token."""
    client = make_client(access_token="", refresh_token="")
    tokens = await client.get_token("code-1")
    (request,) = fake.requests
    assert request.url.host == "auth.tiktok-shops.com"
    assert request.url.path == "/api/v2/token/get"
    assert query_of(request) == {
        "app_key": "29a39d",
        "app_secret": APP_SECRET,
        "auth_code": "code-1",
        "grant_type": "authorized_code",
    }
    assert "x-tts-access-token" not in request.headers
    assert client.access_token == tokens.access_token


async def test_token_expiry_times_are_absolute(fake: FakeTikTok, client: TikTokClient) -> None:
    """*_expire_in values are absolute Unix times, read as aware datetimes."""
    tokens = await client.refresh_token()
    assert tokens.access_token_expires_at == NOW + timedelta(days=7)
    assert tokens.refresh_token_expires_at == NOW + timedelta(days=365)
    assert query_of(fake.requests[0])["grant_type"] == "refresh_token"


async def test_refresh_reports_new_tokens_to_the_owner(
    fake: FakeTikTok, client: TikTokClient, refreshed_tokens: list[object]
) -> None:
    """refresh_token() adopts the new tokens and hands them to on_tokens_refreshed."""
    tokens = await client.refresh_token()
    assert refreshed_tokens == [tokens]
    assert client.access_token == tokens.access_token
    assert client.current_refresh_token == tokens.refresh_token


async def test_client_closes_its_http_pool(fake: FakeTikTok) -> None:
    """`async with` closes the underlying HTTP client."""
    async with TikTokClient(
        app_key="k",
        app_secret="s",
        clock=ManualClock(NOW),
        transport=httpx.MockTransport(lambda r: envelope(data={})),
    ) as client:
        pass
    assert client._http.is_closed


async def test_search_without_filters_sends_no_body_bytes(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A search with every body filter left out sends no body rather than `{}`."""
    fake.queue("POST", "/order/202309/orders/search", {"orders": []})
    await client.search_orders()
    assert fake.requests[0].content == b""


async def test_an_order_that_does_not_parse_is_set_aside_not_the_whole_page(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """One malformed order in a search page: the others come through, and the bad one is
    named (so its order is flagged) instead of failing the reconciliation pass."""
    fake.queue(
        "POST",
        "/order/202309/orders/search",
        {
            "orders": [
                order("576486316948490001"),
                {"id": "576486316948490002", "status": {"a": 1}, "line_items": "x"},
                {"no id": True},
            ],
            "next_page_token": "",
        },
    )
    [page] = [p async for p in client.iter_order_pages()]
    assert [o.id for o in page.items] == ["576486316948490001"]
    assert [order_id for order_id, _ in page.unreadable] == ["576486316948490002", None]
    assert "unexpected Order in the reply" in page.unreadable[0][1]
