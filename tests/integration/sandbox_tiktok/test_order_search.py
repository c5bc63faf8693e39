"""Get Order List and Get Order Detail: paging, filters, limits (§4.1)."""

from __future__ import annotations

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient

SEARCH = "/order/202309/orders/search"


def test_pages_follow_the_token_until_it_is_empty(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Paging by page_token (which holds "+" and "/") visits each order once, in order."""
    created = []
    for _ in range(5):
        created.append(sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}))
        clock.advance(10)
    seen: list[str] = []
    query = {"page_size": "2", "sort_field": "create_time", "sort_order": "ASC"}
    token = ""
    while True:
        page = api.ok("POST", SEARCH, {**query, **({"page_token": token} if token else {})}, {})
        assert page["total_count"] == 5
        seen += [o["id"] for o in page["orders"]]
        token = page["next_page_token"]
        if not token:
            break
        assert "+" in token and "/" in token
    assert seen == created


def test_default_sort_is_newest_first(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Without sort parameters orders come by create_time, descending."""
    first = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(5)
    second = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    page = api.ok("POST", SEARCH, {"page_size": "10"}, {})
    assert [o["id"] for o in page["orders"]] == [second, first]


def test_filters_by_status_and_update_time_window(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """order_status and update_time_ge/lt narrow the list."""
    stale = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    clock.advance(100)
    since = int(clock.now().timestamp())
    fresh = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    by_status = api.ok("POST", SEARCH, {"page_size": "10"}, {"order_status": "UNPAID"})
    assert [o["id"] for o in by_status["orders"]] == [stale]
    window = {"update_time_ge": since, "update_time_lt": since + 1}
    by_time = api.ok("POST", SEARCH, {"page_size": "10", "sort_field": "update_time"}, window)
    assert [o["id"] for o in by_time["orders"]] == [fresh]


def test_page_size_is_required_and_bounded(api: SignedClient) -> None:
    """page_size missing, 0 or 101 answers 36009004 with HTTP 400."""
    assert api.error("POST", SEARCH, body={})[:2] == (400, 36009004)
    assert api.error("POST", SEARCH, {"page_size": "0"}, {})[1] == 36009004
    assert api.error("POST", SEARCH, {"page_size": "101"}, {})[1] == 36009004


def test_a_forged_page_token_is_refused(api: SignedClient) -> None:
    """A page_token the sandbox did not issue answers 36009004."""
    assert api.error("POST", SEARCH, {"page_size": "5", "page_token": "abc"}, {})[1] == 36009004


def test_detail_takes_at_most_50_ids(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """Get Order Detail returns the orders asked for, and refuses 51 ids."""
    ids = [sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}) for _ in range(2)]
    found = api.ok("GET", "/order/202309/orders", {"ids": ",".join(ids)})
    assert [o["id"] for o in found["orders"]] == ids
    too_many = ",".join(ids + [f"5764{i:014d}" for i in range(49)])
    assert api.error("GET", "/order/202309/orders", {"ids": too_many})[1] == 36009004


def test_detail_of_another_shops_order_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, uk_shop: ShopCredentials
) -> None:
    """An order of another seller answers 21008111."""
    foreign = sandbox.create_order(uk_shop.shop_id, {"TEE-RED-L": 1})
    assert api.error("GET", "/order/202309/orders", {"ids": foreign})[1] == 21008111


def test_detail_answers_on_the_202507_path_too(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """The latest Get Order Detail version (202507) returns the same order."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    latest = api.ok("GET", "/order/202507/orders", {"ids": order_id})["orders"]
    assert latest == api.ok("GET", "/order/202309/orders", {"ids": order_id})["orders"]


def test_ill_typed_filter_is_a_parameter_error(api: SignedClient) -> None:
    """A non-numeric create_time_ge answers 36009004 in the envelope with HTTP 400."""
    body = {"create_time_ge": "yesterday"}
    assert api.error("POST", SEARCH, {"page_size": "5"}, body)[:2] == (400, 36009004)
