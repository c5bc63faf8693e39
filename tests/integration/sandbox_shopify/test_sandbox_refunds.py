"""refundCreate (wave2 §5): quantities and restock recorded once per idempotency key, no money."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .operations import (
    FULFILL,
    HOLD,
    ORDER_CREATE,
    ORDER_LINES,
    REFUND,
    decrement,
    order_input,
    ship_lines,
)
from .shopify_http import Admin, WebhookSink


def shipped_order(admin: Admin, variant_id: str, quantity: int, shipped: int) -> dict[str, Any]:
    """A payment-pending order of `quantity` units, `shipped` of them fulfilled already."""
    created = admin.data(
        ORDER_CREATE, {"order": order_input(variant_id, quantity), "options": decrement()}
    )["orderCreate"]
    order_id = created["order"]["id"]
    order = admin.data(ORDER_LINES, {"id": order_id})["order"]
    [fo] = order["fulfillmentOrders"]["nodes"]
    fo_line = fo["lineItems"]["nodes"][0]["id"]
    if shipped:
        result = admin.data(FULFILL, {"f": ship_lines(fo["id"], [(fo_line, shipped)])})
        assert result["fulfillmentCreate"]["userErrors"] == []
    return {
        "order_id": order_id,
        "fo_id": fo["id"],
        "line_id": order["lineItems"]["nodes"][0]["id"],
    }


def refund(
    admin: Admin,
    order_id: str,
    lines: list[dict[str, Any]],
    key: str = "tts-return-1",
    note: str = "TikTok return",
) -> dict[str, Any]:
    body = admin.data(
        REFUND,
        {"input": {"orderId": order_id, "note": note, "refundLineItems": lines}, "key": key},
    )
    created: dict[str, Any] = body["refundCreate"]
    return created


def line(line_id: str, quantity: int, restock: str, location: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"lineItemId": line_id, "quantity": quantity, "restockType": restock}
    if location is not None:
        entry["locationId"] = location
    return entry


def stock(sandbox: ShopifySandbox) -> tuple[int, int, int]:
    levels = sandbox.inventory("demo", "TEE-RED-L")
    return levels["available"], levels["committed"], levels["on_hand"]


async def test_a_returned_unit_goes_back_to_available_at_the_location(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """RETURN of 1 shipped unit: available +1 there, the line's current and refundable
    quantities drop, the order lists the refund, and refunds/create carries it."""
    for topic in ("refunds/create", "orders/updated"):
        sandbox.subscribe_webhook(store.name, topic, sink.url)
    ids = shipped_order(admin, tee["id"], 2, shipped=2)
    location = store.location_ids[0]
    assert stock(sandbox) == (8, 0, 8)

    created = refund(admin, ids["order_id"], [line(ids["line_id"], 1, "RETURN", location)])
    await sandbox.tick()

    assert created["userErrors"] == []
    assert created["refund"]["note"] == "TikTok return"
    assert created["refund"]["refundLineItems"]["nodes"] == [
        {"quantity": 1, "restockType": "RETURN", "restocked": True, "location": {"id": location}}
    ]
    assert stock(sandbox) == (9, 0, 9)
    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    [order_line] = order["lineItems"]["nodes"]
    assert (order_line["quantity"], order_line["currentQuantity"]) == (2, 1)
    assert (order_line["refundableQuantity"], order_line["unfulfilledQuantity"]) == (1, 0)
    [listed] = order["refunds"]
    assert (listed["id"], listed["note"]) == (created["refund"]["id"], "TikTok return")
    assert listed["createdAt"] == "2026-11-02T09:00:00Z"
    assert listed["refundLineItems"]["nodes"][0]["lineItem"] == {
        "id": ids["line_id"],
        "sku": "TEE-RED-L",
    }
    [hook] = sink.topic("refunds/create")
    payload = hook.json
    assert payload["admin_graphql_api_id"] == created["refund"]["id"]
    assert payload["order_id"] == int(ids["order_id"].rsplit("/", 1)[1])
    assert (payload["note"], payload["restock"], payload["transactions"]) == (
        "TikTok return",
        True,
        [],
    )
    assert payload["created_at"] == "2026-11-02T09:00:00+00:00"
    [refund_line] = payload["refund_line_items"]
    assert refund_line["line_item_id"] == int(ids["line_id"].rsplit("/", 1)[1])
    assert refund_line["location_id"] == int(location.rsplit("/", 1)[1])
    assert (refund_line["quantity"], refund_line["restock_type"]) == (1, "return")
    assert (refund_line["subtotal"], refund_line["total_tax"]) == (19.99, 0.0)
    assert refund_line["line_item"]["sku"] == "TEE-RED-L"
    assert refund_line["line_item"]["current_quantity"] == 1
    assert {"id", "processed_at", "user_id", "order_adjustments", "duties"} <= set(payload)
    [updated] = sink.topic("orders/updated")
    assert [r["id"] for r in updated.json["refunds"]] == [payload["id"]]


def test_a_refund_without_restock_leaves_stock_as_it_is(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """NO_RESTOCK of a shipped unit records the refund and moves no stock."""
    ids = shipped_order(admin, tee["id"], 2, shipped=2)

    created = refund(admin, ids["order_id"], [line(ids["line_id"], 1, "NO_RESTOCK")])

    assert created["userErrors"] == []
    assert created["refund"]["refundLineItems"]["nodes"] == [
        {"quantity": 1, "restockType": "NO_RESTOCK", "restocked": False, "location": None}
    ]
    assert stock(sandbox) == (8, 0, 8)


async def test_a_repeated_key_answers_the_same_refund_and_restocks_once(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """The same idempotency key and input twice: one refund, one restock, one webhook."""
    sandbox.subscribe_webhook(store.name, "refunds/create", sink.url)
    ids = shipped_order(admin, tee["id"], 2, shipped=2)
    lines = [line(ids["line_id"], 1, "RETURN", store.location_ids[0])]

    first = refund(admin, ids["order_id"], lines, key="tts-577-return-1")
    second = refund(admin, ids["order_id"], lines, key="tts-577-return-1")
    await sandbox.tick()

    assert second["refund"]["id"] == first["refund"]["id"]
    assert stock(sandbox) == (9, 0, 9)
    assert len(admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]["refunds"]) == 1
    assert len(sink.topic("refunds/create")) == 1


def test_refund_create_without_an_idempotency_key_is_refused(
    admin: Admin, tee: dict[str, Any]
) -> None:
    """2026-07 requires the @idempotent key on refundCreate: a request error, nothing done."""
    ids = shipped_order(admin, tee["id"], 1, shipped=1)

    body = admin.gql(
        """mutation R($input: RefundInput!) {
             refundCreate(input: $input) { refund { id } userErrors { message } } }""",
        {"input": {"orderId": ids["order_id"], "refundLineItems": []}},
    )

    assert "requires an idempotency key" in body["errors"][0]["message"]


def test_cancelling_unfulfilled_units_returns_their_commitment(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """CANCEL of 1 unshipped unit of a held order: committed → available, the hold stays and
    the fulfilment-order line loses the unit."""
    ids = shipped_order(admin, tee["id"], 3, shipped=0)
    admin.data(HOLD, {"id": ids["fo_id"], "hold": {"reason": "AWAITING_PAYMENT", "handle": "h"}})

    created = refund(admin, ids["order_id"], [line(ids["line_id"], 1, "CANCEL")])

    assert created["userErrors"] == []
    assert stock(sandbox) == (8, 2, 10)
    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    [fo] = order["fulfillmentOrders"]["nodes"]
    assert (fo["status"], [h["handle"] for h in fo["fulfillmentHolds"]]) == ("ON_HOLD", ["h"])
    fo_line = fo["lineItems"]["nodes"][0]
    assert (fo_line["totalQuantity"], fo_line["remainingQuantity"]) == (2, 2)
    assert order["lineItems"]["nodes"][0]["currentQuantity"] == 2


def test_refusals_name_the_line_and_change_nothing(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """More than refundable, RETURN of unshipped units, CANCEL of shipped ones, RETURN without
    a location and an unknown line are each refused with a userError; stock is untouched."""
    ids = shipped_order(admin, tee["id"], 3, shipped=1)
    location = store.location_ids[0]
    line_id = ids["line_id"]
    cases = {
        "over": [line(line_id, 4, "NO_RESTOCK")],
        "return_unshipped": [line(line_id, 2, "RETURN", location)],
        "cancel_shipped": [line(line_id, 3, "CANCEL")],
        "no_location": [line(line_id, 1, "RETURN")],
        "unknown": [line("gid://shopify/LineItem/999999", 1, "NO_RESTOCK")],
        "twice_over": [line(line_id, 2, "CANCEL"), line(line_id, 1, "CANCEL")],
    }
    before = stock(sandbox)

    answers = {
        name: refund(admin, ids["order_id"], lines, key=f"key-{name}")
        for name, lines in cases.items()
    }

    assert {name: a["refund"] for name, a in answers.items()} == dict.fromkeys(cases)
    fields = {name: a["userErrors"][0]["field"] for name, a in answers.items()}
    assert fields == {
        "over": ["refundLineItems", "0", "quantity"],
        "return_unshipped": ["refundLineItems", "0", "restockType"],
        "cancel_shipped": ["refundLineItems", "0", "restockType"],
        "no_location": ["refundLineItems", "0", "locationId"],
        "unknown": ["refundLineItems", "0", "lineItemId"],
        "twice_over": ["refundLineItems", "1", "restockType"],
    }
    assert answers["over"]["userErrors"][0]["message"] == (
        f"Quantity 4 is more than the 3 refundable units of line item {line_id}."
    )
    assert stock(sandbox) == before
    assert admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]["refunds"] == []
