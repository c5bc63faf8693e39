"""The /_sandbox/ control API, API fault knobs, shop isolation and the demo seed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials
from shopbridge_sandbox.shopify.cli import demo_sandbox

from .operations import HOLD, MARK_PAID, ORDER_CREATE, decrement, order_input
from .shopify_http import Admin


def test_a_shop_and_product_made_over_the_control_api_are_served(admin: Admin) -> None:
    """POST /_sandbox/shops and /products create what the Admin API then answers for."""
    shop = admin.http.post("/_sandbox/shops", json={"name": "second", "plan": "plus"}).json()
    made = admin.http.post(
        "/_sandbox/shops/second/products",
        json={"title": "Cap", "variants": [{"sku": "CAP-1", "price": "9.50", "available": 4}]},
    ).json()
    admin.token = shop["access_token"]

    found = admin.data('{ productVariants(first: 1, query: "sku:CAP-1") { nodes { id price } } }')

    assert shop["domain"] == "second.myshopify.com"
    assert found["productVariants"]["nodes"] == [
        {"id": made["variants"]["CAP-1"]["id"], "price": "9.50"}
    ]


def test_the_control_api_advances_a_manual_clock(admin: Admin, clock: ManualClock) -> None:
    """POST /_sandbox/clock/advance moves the sandbox's ManualClock."""
    before = clock.now()

    answer = admin.http.post("/_sandbox/clock/advance", json={"seconds": 90})

    assert answer.status_code == 200
    assert (clock.now() - before).total_seconds() == 90


def test_merchant_actions_over_the_control_api_move_stock(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """Cancel as merchant (restock) over /_sandbox/ returns committed units to available."""
    created = admin.data(
        ORDER_CREATE, {"order": order_input(tee["id"], 3), "options": decrement()}
    )["orderCreate"]["order"]
    number = created["id"].rsplit("/", 1)[1]

    cancelled = admin.http.post(f"/_sandbox/shops/demo/orders/{number}/cancel", json={})
    stock = admin.http.get("/_sandbox/shops/demo/inventory/TEE-RED-L").json()

    assert cancelled.json()["cancelled_at"] is not None
    assert (stock["available"], stock["committed"]) == (10, 0)


def test_a_bad_control_call_says_what_is_wrong(admin: Admin) -> None:
    """Unknown fault knobs are refused with HTTP 400 and the knob's name."""
    answer = admin.http.post("/_sandbox/faults", json={"api_eror_rate": 1})

    assert answer.status_code == 400
    assert "api_eror_rate" in answer.json()["error"]


def test_the_server_error_knob_answers_500_without_running_the_request(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """With api_error_rate 1 every Admin call is a 500 and nothing is created."""
    sandbox.faults.settings.update({"api_error_rate": 1})

    response = admin.post(ORDER_CREATE, {"order": order_input(tee["id"])})

    assert response.status_code == 500
    assert sandbox.orders(store.name) == []


def test_the_429_knob_answers_throttled_with_retry_after(
    admin: Admin, sandbox: ShopifySandbox
) -> None:
    """With api_429_rate 1 the call is HTTP 429, a THROTTLED body and a Retry-After header."""
    sandbox.faults.settings.update({"api_429_rate": 1})

    response = admin.post("{ shop { name } }")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_a_token_only_sees_its_own_shop(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """Another shop's token cannot read this shop's order."""
    order_id = admin.data(ORDER_CREATE, {"order": order_input(tee["id"])})["orderCreate"]["order"][
        "id"
    ]
    other = sandbox.add_shop("other")
    admin.token = other.access_token

    found = admin.data("query($id: ID!) { order(id: $id) { id } }", {"id": order_id})

    assert found == {"order": None}


def test_orders_are_searchable_by_tag_and_update_time(
    admin: Admin, clock: ManualClock, tee: dict[str, Any]
) -> None:
    """tag: and updated_at:> filters select the orders a reconciliation poll needs."""
    admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier="old")})
    clock.advance(3600)
    fresh = order_input(tee["id"], 1, source_identifier="new")
    fresh["tags"] = ["tiktok-shop", "vip"]
    admin.data(ORDER_CREATE, {"order": fresh})

    by_time = admin.data(
        '{ orders(first: 5, query: "updated_at:>2026-11-02T09:30:00Z") '
        "{ nodes { sourceIdentifier } } }"
    )
    by_tag = admin.data('{ orders(first: 5, query: "tag:vip") { nodes { sourceIdentifier } } }')

    assert by_time["orders"]["nodes"] == [{"sourceIdentifier": "new"}]
    assert by_tag["orders"]["nodes"] == [{"sourceIdentifier": "new"}]


def test_the_demo_seed_has_a_shop_with_stock() -> None:
    """serve()'s seed: a standard demo shop whose SKUs have stock at its location."""
    sandbox = demo_sandbox()

    store = sandbox.credentials("demo")

    assert store.domain == "demo.myshopify.com"
    assert sandbox.inventory("demo", "TEE-RED-L")["available"] == 10


def test_the_timeout_knob_applies_the_change_but_answers_too_late(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """A timed-out orderCreate still created the order: the client must look before retrying."""
    sandbox.faults.settings.update({"api_timeout_rate": 1, "api_timeout_seconds": 0.5})

    with pytest.raises(httpx.ReadTimeout):
        admin.http.post(
            "/admin/api/2026-07/graphql.json",
            json={"query": ORDER_CREATE, "variables": {"order": order_input(tee["id"])}},
            headers={"X-Shopify-Access-Token": store.access_token},
            timeout=0.1,
        )

    assert [o["source_identifier"] for o in sandbox.orders(store.name)] == ["577000111222333"]


def test_the_lost_answer_knob_answers_502_but_keeps_the_change(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """With api_lost_answer_rate 1 orderMarkAsPaid answers 502, yet the order is PAID."""
    order_id = admin.data(ORDER_CREATE, {"order": order_input(tee["id"])})["orderCreate"]["order"][
        "id"
    ]
    sandbox.faults.settings.update({"api_lost_answer_rate": 1})

    response = admin.post(MARK_PAID, {"id": order_id})

    assert response.status_code == 502
    assert response.json() == {"errors": "Bad Gateway"}
    assert sandbox.order(store.name, order_id)["financial_status"] == "PAID"


def test_the_lost_answer_knob_is_set_over_the_control_api(
    admin: Admin, sandbox: ShopifySandbox
) -> None:
    """POST /_sandbox/faults accepts api_lost_answer_rate and reports it back."""
    answer = admin.http.post("/_sandbox/faults", json={"api_lost_answer_rate": 0.25})

    assert answer.json()["api_lost_answer_rate"] == 0.25
    assert sandbox.faults.settings.api_lost_answer_rate == 0.25


def list_orders(admin: Admin, **params: str) -> list[str]:
    """The source identifiers of GET /_sandbox/shops/demo/orders with these query parameters."""
    answer = admin.http.get("/_sandbox/shops/demo/orders", params=params)
    assert answer.status_code == 200, answer.text
    return [order["source_identifier"] for order in answer.json()]


def test_the_order_list_filters_by_update_time(
    admin: Admin, clock: ManualClock, tee: dict[str, Any]
) -> None:
    """updated_since keeps orders updated at or after it, an old order touched later included."""
    old = admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier="old")})
    admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier="quiet")})
    clock.advance(3600)  # 10:00
    admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier="new")})
    clock.advance(60)  # 10:01
    fo_id = old["orderCreate"]["order"]["fulfillmentOrders"]["nodes"][0]["id"]
    admin.data(HOLD, {"id": fo_id, "hold": {"reason": "OTHER", "handle": "late"}})

    assert list_orders(admin) == ["old", "quiet", "new"]
    assert list_orders(admin, updated_since="2026-11-02T10:00:00+00:00") == ["old", "new"]
    assert list_orders(admin, updated_since="2026-11-02T11:00:00+01:00") == ["old", "new"]
    assert list_orders(admin, updated_since="2026-11-02T10:00:01Z") == ["old"]
    assert list_orders(admin, updated_since="2026-11-02T10:01:01Z") == []


def test_the_order_list_filters_by_source_identifier(admin: Admin, tee: dict[str, Any]) -> None:
    """source_identifier keeps only the orders whose source identifier is exactly it."""
    for source in ("577000111", "5770001112", "577000111"):
        admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier=source)})

    assert list_orders(admin, source_identifier="577000111") == ["577000111", "577000111"]
    assert list_orders(admin, source_identifier="57700011") == []
    assert list_orders(
        admin, source_identifier="5770001112", updated_since="2026-11-02T09:00:00Z"
    ) == ["5770001112"]


def test_an_order_list_cutoff_without_offset_is_refused(admin: Admin) -> None:
    """updated_since without a UTC offset, or not a date at all, answers 400 naming it."""
    for bad in ("2026-11-02T10:00:00", "yesterday"):
        answer = admin.http.get("/_sandbox/shops/demo/orders", params={"updated_since": bad})

        assert answer.status_code == 400
        assert "updated_since" in answer.json()["error"]
