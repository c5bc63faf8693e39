"""Order editing (wave2 §3): begin, stage quantities, commit; stock, holds and webhooks follow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shopbridge.clock import ManualClock
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .operations import (
    EDIT_BEGIN,
    EDIT_COMMIT,
    EDIT_SET,
    FULFILL,
    HOLD,
    ORDER_CREATE,
    ORDER_LINES,
    decrement,
    order_input,
    ship_lines,
)
from .shopify_http import Admin, WebhookSink

HOLD_SPEC = {"reason": "AWAITING_PAYMENT", "handle": "tiktok-holdback"}


def create_order(admin: Admin, variant_id: str, quantity: int) -> dict[str, Any]:
    """A payment-pending order claiming `quantity` units; its id, FO id and line ids."""
    created = admin.data(
        ORDER_CREATE, {"order": order_input(variant_id, quantity), "options": decrement()}
    )["orderCreate"]
    assert created["userErrors"] == []
    order_id = created["order"]["id"]
    lines = admin.data(ORDER_LINES, {"id": order_id})["order"]
    [fo] = lines["fulfillmentOrders"]["nodes"]
    [line] = lines["lineItems"]["nodes"]
    return {
        "order_id": order_id,
        "fo_id": fo["id"],
        "line_id": line["id"],
        "fo_line_id": fo["lineItems"]["nodes"][0]["id"],
    }


def begin(admin: Admin, order_id: str) -> dict[str, Any]:
    begun: dict[str, Any] = admin.data(EDIT_BEGIN, {"id": order_id})["orderEditBegin"]
    return begun


def set_quantity(
    admin: Admin, session_id: str, line_id: str, quantity: int, restock: bool = True
) -> dict[str, Any]:
    calculated_line = line_id.replace("/LineItem/", "/CalculatedLineItem/")
    staged: dict[str, Any] = admin.data(
        EDIT_SET,
        {"id": session_id, "line": calculated_line, "quantity": quantity, "restock": restock},
    )["orderEditSetQuantity"]
    return staged


def commit(admin: Admin, session_id: str, note: str | None = None) -> dict[str, Any]:
    committed: dict[str, Any] = admin.data(EDIT_COMMIT, {"id": session_id, "note": note})[
        "orderEditCommit"
    ]
    return committed


def stock(sandbox: ShopifySandbox) -> tuple[int, int, int]:
    levels = sandbox.inventory("demo", "TEE-RED-L")
    return levels["available"], levels["committed"], levels["on_hand"]


async def test_an_edit_of_a_held_pending_order_restocks_exactly_the_removed_units(
    admin: Admin,
    sandbox: ShopifySandbox,
    clock: ManualClock,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """Removing 2 of 3 units with restock: available +2, committed -2, the hold stays, the
    fulfilment-order line follows, and orders/edited then orders/updated are sent."""
    for topic in ("orders/edited", "orders/updated", "inventory_levels/update"):
        sandbox.subscribe_webhook(store.name, topic, sink.url)
    ids = create_order(admin, tee["id"], 3)
    admin.data(HOLD, {"id": ids["fo_id"], "hold": HOLD_SPEC})
    assert stock(sandbox) == (7, 3, 10)
    clock.advance(timedelta(minutes=5))

    begun = begin(admin, ids["order_id"])
    session_id = begun["orderEditSession"]["id"]
    staged = set_quantity(admin, session_id, ids["line_id"], 1)
    before_commit = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    committed = commit(admin, session_id, note="TikTok buyer cancelled 2 units")
    await sandbox.tick()

    assert begun["userErrors"] == []
    [calculated] = begun["calculatedOrder"]["lineItems"]["nodes"]
    assert calculated == {
        "id": ids["line_id"].replace("/LineItem/", "/CalculatedLineItem/"),
        "sku": "TEE-RED-L",
        "quantity": 3,
        "editableQuantity": 3,
        "editableQuantityBeforeChanges": 3,
        "restockable": True,
        "restocking": False,
        "variant": {"id": tee["id"]},
    }
    assert staged["userErrors"] == []
    assert staged["calculatedLineItem"]["quantity"] == 1
    assert staged["calculatedLineItem"]["restocking"] is True
    assert staged["calculatedLineItem"]["stagedChanges"] == [
        {
            "__typename": "OrderStagedChangeDecrementItem",
            "delta": 2,
            "restock": True,
            "lineItem": {"id": ids["line_id"]},
        }
    ]
    assert before_commit["lineItems"]["nodes"][0]["currentQuantity"] == 3  # staged only
    assert committed == {
        "order": {"id": ids["order_id"]},
        "successMessages": ["Order updated"],
        "userErrors": [],
    }
    assert stock(sandbox) == (9, 1, 10)
    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    [line] = order["lineItems"]["nodes"]
    assert (line["quantity"], line["currentQuantity"], line["unfulfilledQuantity"]) == (3, 1, 1)
    assert line["refundableQuantity"] == 1
    [fo] = order["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "ON_HOLD"
    assert [h["handle"] for h in fo["fulfillmentHolds"]] == ["tiktok-holdback"]
    [fo_line] = fo["lineItems"]["nodes"]
    assert (fo_line["totalQuantity"], fo_line["remainingQuantity"]) == (1, 1)
    assert order["displayFulfillmentStatus"] == "ON_HOLD"
    assert (order["merchantEditable"], order["edited"]) == (True, True)
    assert order["updatedAt"] == "2026-11-02T09:05:00Z"
    [edited] = sink.topic("orders/edited")
    edit = edited.json["order_edit"]
    assert edit["order_id"] == int(ids["order_id"].rsplit("/", 1)[1])
    assert edit["line_items"] == {
        "additions": [],
        "removals": [{"id": int(ids["line_id"].rsplit("/", 1)[1]), "delta": 2}],
    }
    assert (edit["notify_customer"], edit["staff_note"]) == (
        False,
        "TikTok buyer cancelled 2 units",
    )
    assert {"id", "app_id", "created_at", "committed_at", "user_id"} <= set(edit)
    [updated] = sink.topic("orders/updated")
    assert updated.json["line_items"][0]["current_quantity"] == 1
    # The order's claim, then the restock at commit.
    assert [h.json["available"] for h in sink.topic("inventory_levels/update")] == [7, 9]


def test_an_edit_without_restock_writes_the_committed_units_off(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """restock: false releases the removed units' commitment without making them available."""
    ids = create_order(admin, tee["id"], 3)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]

    set_quantity(admin, session_id, ids["line_id"], 2, restock=False)
    commit(admin, session_id)

    assert stock(sandbox) == (7, 2, 9)


def test_removing_every_unit_closes_the_fulfillment_order(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """A held order edited to 0 units: its fulfilment order is CLOSED, nothing stays committed,
    and the order does not read FULFILLED."""
    ids = create_order(admin, tee["id"], 2)
    admin.data(HOLD, {"id": ids["fo_id"], "hold": HOLD_SPEC})
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]

    set_quantity(admin, session_id, ids["line_id"], 0)
    commit(admin, session_id)

    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    assert order["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert order["displayFulfillmentStatus"] == "UNFULFILLED"
    assert stock(sandbox) == (10, 0, 10)


def test_a_partly_fulfilled_order_can_lose_only_its_unfulfilled_units(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """With 1 of 3 units shipped, editableQuantity is 2; going below 1 is refused; going to 1
    removes the 2 unshipped units and the order reads FULFILLED."""
    ids = create_order(admin, tee["id"], 3)
    shipped = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(ids["fo_line_id"], 1)])})
    assert shipped["fulfillmentCreate"]["userErrors"] == []

    begun = begin(admin, ids["order_id"])
    session_id = begun["orderEditSession"]["id"]
    too_far = set_quantity(admin, session_id, ids["line_id"], 0)
    allowed = set_quantity(admin, session_id, ids["line_id"], 1)
    committed = commit(admin, session_id)

    [calculated] = begun["calculatedOrder"]["lineItems"]["nodes"]
    assert (calculated["quantity"], calculated["editableQuantity"]) == (3, 2)
    assert too_far["calculatedLineItem"] is None
    assert too_far["userErrors"] == [
        {
            "field": ["quantity"],
            "message": f"Quantity can't be less than the 1 fulfilled units of line item "
            f"{ids['line_id']}: only unfulfilled items can be edited.",
        }
    ]
    assert (allowed["userErrors"], allowed["calculatedLineItem"]["editableQuantity"]) == ([], 0)
    assert committed["userErrors"] == []
    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    [line] = order["lineItems"]["nodes"]
    assert (line["currentQuantity"], line["unfulfilledQuantity"]) == (1, 0)
    assert order["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert order["displayFulfillmentStatus"] == "FULFILLED"
    assert stock(sandbox) == (9, 0, 9)


def test_a_committed_session_cannot_be_committed_or_changed_again(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """The second commit and a later orderEditSetQuantity answer userErrors, change nothing."""
    ids = create_order(admin, tee["id"], 3)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]
    set_quantity(admin, session_id, ids["line_id"], 2)
    commit(admin, session_id)

    again = commit(admin, session_id)
    late = set_quantity(admin, session_id, ids["line_id"], 1)

    already = [{"field": ["id"], "message": "The order edit has already been committed."}]
    assert again == {"order": None, "successMessages": None, "userErrors": already}
    assert late["userErrors"] == already
    assert stock(sandbox) == (8, 2, 10)


def test_an_uncommitted_session_changes_nothing(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """Staged changes of an abandoned session never reach the order."""
    ids = create_order(admin, tee["id"], 3)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]

    set_quantity(admin, session_id, ids["line_id"], 0)

    line = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]["lineItems"]["nodes"][0]
    assert line["currentQuantity"] == 3
    assert stock(sandbox) == (7, 3, 10)


def test_bad_quantities_and_lines_are_refused_with_user_errors(
    admin: Admin, tee: dict[str, Any]
) -> None:
    """A negative quantity, an increase (not implemented) and an unknown line: userErrors."""
    ids = create_order(admin, tee["id"], 2)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]

    negative = set_quantity(admin, session_id, ids["line_id"], -1)
    increase = set_quantity(admin, session_id, ids["line_id"], 5)
    unknown = admin.data(
        EDIT_SET,
        {"id": session_id, "line": "gid://shopify/CalculatedLineItem/999999", "quantity": 0},
    )["orderEditSetQuantity"]

    assert negative["userErrors"] == [
        {"field": ["quantity"], "message": "Quantity must be greater than or equal to 0."}
    ]
    assert increase["userErrors"][0]["field"] == ["quantity"]
    assert "not implemented by the shopbridge sandbox" in increase["userErrors"][0]["message"]
    assert unknown["userErrors"] == [
        {
            "field": ["lineItemId"],
            "message": "Line item gid://shopify/CalculatedLineItem/999999 does not exist.",
        }
    ]


def test_a_cancelled_order_is_not_merchant_editable(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """merchantEditable is false with the reason, and orderEditBegin refuses with it."""
    ids = create_order(admin, tee["id"], 2)
    sandbox.cancel_order_as_merchant(store.name, ids["order_id"])

    order = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    begun = begin(admin, ids["order_id"])

    assert (order["merchantEditable"], order["merchantEditableErrors"]) == (
        False,
        ["Canceled orders can't be edited."],
    )
    assert begun == {
        "calculatedOrder": None,
        "orderEditSession": None,
        "userErrors": [{"field": ["id"], "message": "Canceled orders can't be edited."}],
    }


def test_a_session_opened_before_a_cancellation_cannot_commit(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """The commit re-checks the order: cancelled meanwhile, it is refused."""
    ids = create_order(admin, tee["id"], 2)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]
    set_quantity(admin, session_id, ids["line_id"], 1)
    sandbox.cancel_order_as_merchant(store.name, ids["order_id"])

    refused = commit(admin, session_id)

    assert refused["userErrors"] == [
        {"field": ["id"], "message": "Canceled orders can't be edited."}
    ]


def test_each_edit_mutation_costs_ten_points(admin: Admin, tee: dict[str, Any]) -> None:
    """Begin, set quantity and commit are each charged as one mutation (10 requested points)."""
    ids = create_order(admin, tee["id"], 2)
    begun = admin.gql(EDIT_BEGIN, {"id": ids["order_id"]})
    session_id = begun["data"]["orderEditBegin"]["orderEditSession"]["id"]
    calculated_line = ids["line_id"].replace("/LineItem/", "/CalculatedLineItem/")
    staged = admin.gql(EDIT_SET, {"id": session_id, "line": calculated_line, "quantity": 1})
    committed = admin.gql(EDIT_COMMIT, {"id": session_id})

    for body in (begun, staged, committed):
        assert body["extensions"]["cost"]["requestedQueryCost"] == 10


def test_a_commit_after_a_shipment_below_the_staged_quantity_is_refused(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """Staged down to 1, then 2 units ship: the commit re-checks and refuses; nothing moves."""
    ids = create_order(admin, tee["id"], 3)
    session_id = begin(admin, ids["order_id"])["orderEditSession"]["id"]
    set_quantity(admin, session_id, ids["line_id"], 1)
    admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(ids["fo_line_id"], 2)])})

    refused = commit(admin, session_id)

    assert refused["userErrors"][0]["field"] == ["quantity"]
    assert "fulfilled units" in refused["userErrors"][0]["message"]
    assert stock(sandbox) == (7, 1, 8)
