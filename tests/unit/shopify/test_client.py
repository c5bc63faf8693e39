"""ShopifyClient over httpx.MockTransport: the wire format, error mapping, throttling, retries."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from shopify_fakes import FakeTime, ScriptedShopify, ok, throttled

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import (
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyQueryTooCostly,
    ShopifyRetryable,
    ShopifyThrottled,
    ShopifyUserError,
)
from shopbridge.shopify.models import InventoryDelta, OrderLine, RefundLine
from shopbridge.shopify.throttle import (
    RESERVATION_SHARE,
    SPARE_FRACTION,
    ShopBucket,
    ThrottleStatus,
)

MakeClient = Callable[..., ShopifyClient]

ORDER_NODE = {
    "id": "gid://shopify/Order/1001",
    "name": "#1001",
    "sourceIdentifier": "577000111222333",
    "createdAt": "2026-11-02T09:00:00Z",
    "cancelledAt": None,
    "displayFinancialStatus": "PENDING",
    "displayFulfillmentStatus": "UNFULFILLED",
}
CREATED = {
    "orderCreate": {
        "order": {**ORDER_NODE, "fulfillmentOrders": {"nodes": []}},
        "userErrors": [],
    }
}
NO_ORDERS: dict[str, Any] = {"orders": {"nodes": []}}
LINES = {
    "nodes": [
        {
            "id": "gid://shopify/LineItem/1",
            "sku": "TEE-RED-L",
            "quantity": 1,
            "currentQuantity": 1,
            "unfulfilledQuantity": 1,
            "refundableQuantity": 1,
        }
    ]
}
VARIANT_LINE = OrderLine(variant_id="gid://shopify/ProductVariant/1", quantity=1, unit_price=1)


async def test_posts_to_versioned_endpoint_with_access_token(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """A call is a POST to /admin/api/2026-07/graphql.json with X-Shopify-Access-Token."""
    shopify.then(ok({"job": {"id": "gid://shopify/Job/1", "done": True}}))
    await make_client().wait_for_job("gid://shopify/Job/1")
    request = shopify.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:9/admin/api/2026-07/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_test"
    assert request.headers["Content-Type"] == "application/json"
    assert shopify.bodies[0]["operationName"] == "JobStatus"
    assert shopify.bodies[0]["variables"] == {"id": "gid://shopify/Job/1"}
    assert "job(id: $id)" in shopify.bodies[0]["query"]


async def test_default_base_url_is_the_shops_myshopify_domain(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """Without a base URL a bare shop name goes to https://<shop>.myshopify.com."""
    shopify.then(ok({"locations": {"nodes": []}}))
    await make_client(base_url=None).locations()
    assert str(shopify.requests[0].url) == (
        "https://demo.myshopify.com/admin/api/2026-07/graphql.json"
    )


async def test_create_order_sends_pending_order_claiming_stock(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """orderCreate carries PENDING, the TikTok id, tags, shipping lines and DECREMENT_IGNORING."""
    shopify.then(ok(CREATED))
    created = await make_client().create_order(
        source_identifier="577000111222333",
        currency="USD",
        tags=["tiktok-shop"],
        lines=[
            OrderLine(variant_id="gid://shopify/ProductVariant/1", quantity=2, unit_price="19.99"),
            OrderLine(title="Mystery SKU", sku="UNKNOWN-1", quantity=1, unit_price=Decimal("5")),
        ],
    )
    assert created.id == "gid://shopify/Order/1001"
    variables = shopify.bodies[0]["variables"]
    order = variables["order"]
    assert order["financialStatus"] == "PENDING"
    assert order["sourceIdentifier"] == "577000111222333"
    assert order["tags"] == ["tiktok-shop"]
    assert order["lineItems"] == [
        {
            "quantity": 2,
            "requiresShipping": True,
            "priceSet": {"shopMoney": {"amount": "19.99", "currencyCode": "USD"}},
            "variantId": "gid://shopify/ProductVariant/1",
        },
        {
            "quantity": 1,
            "requiresShipping": True,
            "priceSet": {"shopMoney": {"amount": "5", "currencyCode": "USD"}},
            "title": "Mystery SKU",
            "sku": "UNKNOWN-1",
        },
    ]
    assert variables["options"]["inventoryBehaviour"] == "DECREMENT_IGNORING_POLICY"


async def test_user_errors_become_shopify_user_error(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """userErrors raise ShopifyUserError with field, code, Shopify's message, call and shop."""
    shopify.then(
        ok(
            {
                "orderCreate": {
                    "order": None,
                    "userErrors": [
                        {
                            "field": ["order", "lineItems", "0"],
                            "code": "INVENTORY_CLAIM_FAILED",
                            "message": "Not enough stock for TEE-RED-L",
                        }
                    ],
                }
            }
        )
    )
    with pytest.raises(ShopifyUserError) as caught:
        await make_client().create_order(
            source_identifier="1",
            currency="USD",
            lines=[
                OrderLine(variant_id="gid://shopify/ProductVariant/1", quantity=1, unit_price=1)
            ],
        )
    error = caught.value
    assert error.field == ("order", "lineItems", "0")
    assert error.code == "INVENTORY_CLAIM_FAILED"
    assert error.message == "Not enough stock for TEE-RED-L"
    assert "create_order" in str(error)
    assert "demo.myshopify.com" in str(error)
    assert "Not enough stock for TEE-RED-L" in str(error)


async def test_order_cancel_user_errors_are_read_from_their_own_field(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """orderCancel reports refusals in orderCancelUserErrors, and they raise too."""
    shopify.then(
        ok(
            {
                "orderCancel": {
                    "job": None,
                    "orderCancelUserErrors": [
                        {"field": ["orderId"], "code": "INVALID", "message": "already cancelled"}
                    ],
                }
            }
        )
    )
    with pytest.raises(ShopifyUserError, match="already cancelled") as caught:
        await make_client().cancel_order("gid://shopify/Order/1", "CUSTOMER")
    assert caught.value.code == "INVALID"


async def test_graphql_errors_become_shopify_graphql_error(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """Top-level GraphQL errors raise ShopifyGraphQLError carrying Shopify's messages."""
    shopify.then(
        httpx.Response(200, json={"errors": [{"message": "Field 'x' doesn't exist on type 'Job'"}]})
    )
    with pytest.raises(ShopifyGraphQLError, match="Field 'x' doesn't exist") as caught:
        await make_client().wait_for_job("gid://shopify/Job/1")
    assert caught.value.call == "job_status"


async def test_unauthorized_becomes_auth_error(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """HTTP 401 raises ShopifyAuthError with Shopify's text, and is not retried."""
    shopify.then(
        httpx.Response(
            401,
            json={
                "errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                "password)"
            },
        )
    )
    with pytest.raises(ShopifyAuthError, match="Invalid API key"):
        await make_client().locations()
    assert len(shopify.requests) == 1


async def test_throttled_call_waits_the_computed_time_and_retries(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """After THROTTLED the client waits (needed − currentlyAvailable)/restoreRate, then retries."""
    shopify.then(throttled(requested=52, available=12), ok({"locations": {"nodes": []}}))
    assert await make_client().locations() == []
    assert shopify.operations == ["Locations", "Locations"]
    assert fake_time.sleeps[0] == pytest.approx((52 - 12) / 100)


async def test_http_429_throttle_is_absorbed_like_a_200_one(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """A THROTTLED answer with HTTP 429 is waited out and retried the same way."""
    shopify.then(throttled(requested=10, available=0, status=429), ok({"locations": {"nodes": []}}))
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await make_client(bucket=bucket).locations()
    assert bucket.throttled_responses == 1
    assert fake_time.sleeps[0] == pytest.approx(0.1)


async def test_bare_429_waits_retry_after(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """A 429 without a cost report waits the Retry-After seconds."""
    shopify.then(
        httpx.Response(429, headers={"Retry-After": "2"}, text="Too Many Requests"),
        ok({"locations": {"nodes": []}}),
    )
    await make_client().locations()
    assert fake_time.sleeps == [2.0]


async def test_endless_throttling_surfaces_as_shopify_throttled(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """If Shopify never stops throttling, the client gives up with ShopifyThrottled."""
    shopify.then(*(throttled() for _ in range(4)))
    with pytest.raises(ShopifyThrottled, match="still throttled"):
        await make_client(max_throttled_retries=3).locations()
    assert len(shopify.requests) == 4


async def test_server_error_is_retried_with_backoff(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """A 502 is retried after a jittered backoff and the later answer is returned."""
    shopify.then(httpx.Response(502, text="Bad Gateway"), ok({"locations": {"nodes": []}}))
    assert await make_client().locations() == []
    assert len(shopify.requests) == 2
    assert len(fake_time.sleeps) == 1
    assert 0 <= fake_time.sleeps[0] <= 0.2


async def test_persistent_server_errors_raise_retryable(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """After max_attempts 5xx answers the client raises ShopifyRetryable naming the status."""
    shopify.then(*(httpx.Response(503, text="Service Unavailable") for _ in range(3)))
    with pytest.raises(ShopifyRetryable, match="HTTP 503") as caught:
        await make_client(max_attempts=3).locations()
    assert not isinstance(caught.value, ShopifyThrottled)
    assert len(shopify.requests) == 3
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= cap for s, cap in zip(fake_time.sleeps, (0.2, 0.4), strict=True))


async def test_timeouts_are_retried_then_raise_retryable(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """Read timeouts are retried; when they persist, ShopifyRetryable names the timeout."""
    shopify.then(*(httpx.ReadTimeout("slow") for _ in range(2)))
    with pytest.raises(ShopifyRetryable, match="ReadTimeout"):
        await make_client(max_attempts=2).locations()
    assert len(shopify.requests) == 2


async def test_query_over_1000_points_is_refused_before_sending(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """A query whose estimated cost exceeds 1000 raises without any request being made."""
    with pytest.raises(ShopifyQueryTooCostly, match="1000"):
        await make_client().execute("variants_by_sku", {"first": 400, "query": "sku:A"})
    assert shopify.requests == []


async def test_max_cost_exceeded_from_shopify_is_too_costly(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """If Shopify itself answers MAX_COST_EXCEEDED, the client raises ShopifyQueryTooCostly."""
    shopify.then(
        httpx.Response(
            200,
            json={
                "errors": [
                    {
                        "message": "Query cost is 1200, which exceeds the single query max cost "
                        "limit (1000).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1200},
                    }
                ]
            },
        )
    )
    with pytest.raises(ShopifyQueryTooCostly, match="exceeds"):
        await make_client().locations()


async def test_bucket_short_of_points_waits_before_sending(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """When the modelled bucket lacks the estimated cost, the client waits instead of sending:
    a read (not a stock reservation) until the share kept for reservations is there too."""
    shopify.then(
        ok({"locations": {"nodes": []}}, requested=52, available=2),
        ok({"locations": {"nodes": []}}, requested=52, available=0),
    )
    client = make_client()
    await client.locations()
    assert fake_time.sleeps == []
    await client.locations()
    floor = 2000 * (SPARE_FRACTION + RESERVATION_SHARE)
    assert sum(fake_time.sleeps) == pytest.approx((floor + 52 - 2) / 100)
    assert len(shopify.requests) == 2


async def test_later_calls_reserve_the_last_requested_cost(fake_time: FakeTime) -> None:
    """An operation reserves its static estimate until Shopify reports its requested cost."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    first = await bucket.acquire(52, "Locations")
    bucket.settle(first, ThrottleStatus(2000, 1948, 100))
    bucket.remember_requested("Locations", 7)
    assert (first, await bucket.acquire(52, "Locations")) == (52, 7)


async def test_release_holds_without_ids_is_refused(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """release_holds never sends a release without hold ids (that would free other apps' holds)."""
    with pytest.raises(ValueError, match="hold ids"):
        await make_client().release_holds("gid://shopify/FulfillmentOrder/1", [])
    assert shopify.requests == []


async def test_create_order_after_timeout_returns_the_order_that_landed(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """A timed-out orderCreate is not resent blindly: the order found by TikTok id is returned."""
    shopify.then(
        httpx.ReadTimeout("slow"),
        ok({"orders": {"nodes": [ORDER_NODE]}}),
        ok({"order": {**ORDER_NODE, "fulfillmentOrders": {"nodes": []}, "lineItems": LINES}}),
    )
    created = await make_client().create_order(
        source_identifier="577000111222333",
        currency="USD",
        lines=[VARIANT_LINE],
    )
    assert created.id == "gid://shopify/Order/1001"
    assert [(li.id, li.quantity) for li in created.line_items] == [("gid://shopify/LineItem/1", 1)]
    assert shopify.operations == ["CreateOrder", "FindOrderBySourceIdentifier", "ReadCreatedOrder"]
    assert shopify.bodies[-1]["variables"] == {"id": ORDER_NODE["id"], "lineCount": 1}


async def test_create_order_after_timeout_retries_when_nothing_landed(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """When the lookup after a timeout finds nothing, orderCreate is sent again."""
    shopify.then(httpx.ReadTimeout("slow"), ok(NO_ORDERS), ok(CREATED))
    created = await make_client().create_order(
        source_identifier="577000111222333",
        currency="USD",
        lines=[VARIANT_LINE],
    )
    assert created.name == "#1001"
    assert shopify.operations == ["CreateOrder", "FindOrderBySourceIdentifier", "CreateOrder"]


async def test_find_order_ignores_partial_search_matches(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """Only an order whose sourceIdentifier equals the TikTok id counts as found."""
    other = {**ORDER_NODE, "sourceIdentifier": "577000111222333-2"}
    shopify.then(ok({"orders": {"nodes": [other]}}))
    assert await make_client().find_order_by_source_identifier("577000111222333") is None
    assert shopify.bodies[0]["variables"] == {"query": "source_identifier:577000111222333"}


async def test_sku_with_spaces_is_quoted_in_the_search(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """A SKU that is not a plain token is sent as one quoted term, and matched exactly."""
    shopify.then(ok({"productVariants": {"nodes": []}}))
    assert await make_client().variants_by_sku(["TEE-RED-L", "TEE RED/L"]) == {}
    assert shopify.bodies[0]["variables"]["query"] == 'sku:TEE-RED-L OR sku:"TEE RED/L"'


async def test_search_value_with_both_quotes_is_refused(make_client: MakeClient) -> None:
    """An id holding both quote characters is refused, not sent as a mangled search."""
    with pytest.raises(ValueError, match="search term"):
        await make_client().find_order_by_source_identifier("""5'7"7""")


async def test_adjust_inventory_sends_its_idempotency_key(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """inventoryAdjustQuantities carries the @idempotent key and an explicit changeFromQuantity."""
    shopify.then(
        ok(
            {
                "inventoryAdjustQuantities": {
                    "inventoryAdjustmentGroup": {
                        "id": "gid://shopify/InventoryAdjustmentGroup/1",
                        "reason": "correction",
                        "changes": [{"name": "available", "delta": -2}],
                    },
                    "userErrors": [],
                }
            }
        )
    )
    group = await make_client().adjust_inventory(
        [
            InventoryDelta(
                inventory_item_id="gid://shopify/InventoryItem/1", location_id="L", delta=-2
            )
        ],
        reason="correction",
        idempotency_key="tts-577-adj-1",
    )
    assert group is not None and group.changes[0].delta == -2
    variables = shopify.bodies[0]["variables"]
    assert variables["idempotencyKey"] == "tts-577-adj-1"
    assert variables["input"]["changes"][0]["changeFromQuantity"] is None
    assert "changeFromQuantity" in variables["input"]["changes"][0]


async def test_blank_idempotency_key_is_refused(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """Shopify rejects blank idempotency keys, so the client refuses them before sending."""
    with pytest.raises(ValueError, match="idempotency key"):
        await make_client().adjust_inventory([], reason="correction", idempotency_key="  ")
    assert shopify.requests == []


async def test_wait_for_job_polls_until_done(
    make_client: MakeClient, shopify: ScriptedShopify, fake_time: FakeTime
) -> None:
    """wait_for_job polls job(id:) until done is true."""
    job = {"id": "gid://shopify/Job/9"}
    shopify.then(ok({"job": {**job, "done": False}}), ok({"job": {**job, "done": True}}))
    done = await make_client().wait_for_job("gid://shopify/Job/9", poll_interval=0.5)
    assert done.done
    assert fake_time.sleeps == [0.5]


async def test_clients_of_one_shop_share_its_bucket() -> None:
    """Every client of a shop in the process uses one cost bucket; other shops have their own."""
    first = ShopifyClient("bucket-share", "t1")
    second = ShopifyClient("bucket-share.myshopify.com", "t2")
    other = ShopifyClient("another-shop", "t3")
    try:
        assert first.bucket is second.bucket
        assert other.bucket is not first.bucket
    finally:
        for client in (first, second, other):
            await client.aclose()


def _state(current: int) -> dict[str, Any]:
    line = {**LINES["nodes"][0], "quantity": 3, "currentQuantity": current}
    return {
        "order": {
            **ORDER_NODE,
            "updatedAt": "2026-11-02T09:00:00Z",
            "closed": False,
            "canMarkAsPaid": True,
            "merchantEditable": True,
            "merchantEditableErrors": [],
            "lineItems": {"nodes": [{**line, "unfulfilledQuantity": current}]},
        }
    }


def _edit_steps() -> tuple[httpx.Response, ...]:
    """Read, begin and set quantity, answered as Shopify would."""
    return (
        ok(_state(3)),
        ok(
            {
                "orderEditBegin": {
                    "calculatedOrder": {
                        "id": "gid://shopify/CalculatedOrder/9",
                        "lineItems": {"nodes": [{"id": "gid://shopify/CalculatedLineItem/1"}]},
                    },
                    "orderEditSession": {"id": "gid://shopify/OrderEditSession/9"},
                    "userErrors": [],
                }
            }
        ),
        ok({"orderEditSetQuantity": {"calculatedLineItem": None, "userErrors": []}}),
    )


async def test_a_lost_edit_commit_that_landed_counts_as_done(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """The commit is not resent after a 502: the order is read, and the line at its target
    means the edit went through."""
    shopify.then(*_edit_steps(), httpx.Response(502, text="Bad Gateway"), ok(_state(1)))

    await make_client().edit_line_quantities(ORDER_NODE["id"], {"gid://shopify/LineItem/1": 1})

    assert shopify.operations == [
        "GetOrderDetail",
        "BeginOrderEdit",
        "SetOrderEditQuantity",
        "CommitOrderEdit",
        "GetOrderDetail",
    ]
    assert shopify.bodies[2]["variables"] == {
        "id": "gid://shopify/OrderEditSession/9",
        "lineItemId": "gid://shopify/CalculatedLineItem/1",
        "quantity": 1,
        "restock": True,
    }


async def test_a_lost_edit_commit_that_did_not_land_raises_retryable(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """When the read after a lost commit shows the old quantity, the failure is reported."""
    shopify.then(*_edit_steps(), httpx.Response(502, text="Bad Gateway"), ok(_state(3)))

    with pytest.raises(ShopifyRetryable):
        await make_client().edit_line_quantities(ORDER_NODE["id"], {"gid://shopify/LineItem/1": 1})


async def test_create_refund_sends_lines_without_money_and_its_key(
    make_client: MakeClient, shopify: ScriptedShopify
) -> None:
    """refundCreate carries the lines, no transactions, and the @idempotent key variable."""
    shopify.then(
        ok({"refundCreate": {"refund": {"id": "gid://shopify/Refund/5"}, "userErrors": []}})
    )

    refund_id = await make_client().create_refund(
        ORDER_NODE["id"],
        [
            RefundLine(
                line_item_id="gid://shopify/LineItem/1",
                quantity=1,
                restock_type="RETURN",
                location_id="gid://shopify/Location/1",
            ),
            RefundLine(
                line_item_id="gid://shopify/LineItem/2",
                quantity=2,
                restock_type="NO_RESTOCK",
                location_id="gid://shopify/Location/1",
            ),
        ],
        note="TikTok return",
        idempotency_key="tts-577-return-1",
    )

    assert refund_id == "gid://shopify/Refund/5"
    variables = shopify.bodies[0]["variables"]
    assert variables["idempotencyKey"] == "tts-577-return-1"
    assert variables["input"] == {
        "orderId": ORDER_NODE["id"],
        "note": "TikTok return",
        "notify": False,
        "refundLineItems": [
            {
                "lineItemId": "gid://shopify/LineItem/1",
                "quantity": 1,
                "restockType": "RETURN",
                "locationId": "gid://shopify/Location/1",
            },
            {"lineItemId": "gid://shopify/LineItem/2", "quantity": 2, "restockType": "NO_RESTOCK"},
        ],
    }
