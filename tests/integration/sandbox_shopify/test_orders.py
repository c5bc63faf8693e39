"""The mirror's order lifecycle: reserve and hold, release, pay, cancel with restock."""

from __future__ import annotations

from typing import Any

from shopbridge.clock import ManualClock
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .operations import (
    CANCEL,
    HOLD,
    JOB,
    MARK_PAID,
    ORDER,
    ORDER_CREATE,
    RELEASE,
    decrement,
    order_input,
)
from .shopify_http import Admin

AWAITING_PAYMENT = {
    "reason": "AWAITING_PAYMENT",
    "reasonNotes": "TikTok order unpaid",
    "handle": "tiktok-holdback",
}


def create_held_order(admin: Admin, variant_id: str, quantity: int = 2) -> dict[str, Any]:
    created = admin.data(
        ORDER_CREATE, {"order": order_input(variant_id, quantity), "options": decrement()}
    )["orderCreate"]
    assert created["userErrors"] == []
    order = created["order"]
    fo_id = order["fulfillmentOrders"]["nodes"][0]["id"]
    held = admin.data(HOLD, {"id": fo_id, "hold": AWAITING_PAYMENT})["fulfillmentOrderHold"]
    assert held["userErrors"] == []
    return {"order_id": order["id"], "fo_id": fo_id, "hold_id": held["fulfillmentHold"]["id"]}


def read_order(admin: Admin, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = admin.data(ORDER, {"id": order_id})["order"]
    return order


def test_a_held_pending_order_shows_on_hold_and_commits_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """orderCreate (PENDING, DECREMENT_OBEYING_POLICY) + a hold: ON_HOLD, 2 units committed."""
    ids = create_held_order(admin, tee["id"], quantity=2)

    order = read_order(admin, ids["order_id"])
    assert order["name"] == "#1001"
    assert order["displayFinancialStatus"] == "PENDING"
    assert order["displayFulfillmentStatus"] == "ON_HOLD"
    [fo] = order["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "ON_HOLD"
    assert fo["fulfillmentHolds"] == [
        {
            "id": ids["hold_id"],
            "handle": "tiktok-holdback",
            "reason": "AWAITING_PAYMENT",
            "reasonNotes": "TikTok order unpaid",
            "heldByRequestingApp": True,
        }
    ]
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (8, 2, 10)


def test_the_default_bypass_claims_no_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """orderCreate without options (BYPASS) leaves available and committed untouched."""
    created = admin.data(ORDER_CREATE, {"order": order_input(tee["id"], 3)})["orderCreate"]

    assert created["userErrors"] == []
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"]) == (10, 0)


def test_obeying_policy_refuses_a_deny_variant_without_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """OBEYING_POLICY for more units than a DENY variant has: INVENTORY_CLAIM_FAILED, no order."""
    created = admin.data(
        ORDER_CREATE, {"order": order_input(tee["id"], 11), "options": decrement()}
    )["orderCreate"]

    assert created["order"] is None
    assert [e["code"] for e in created["userErrors"]] == ["INVENTORY_CLAIM_FAILED"]
    assert sandbox.orders(store.name) == []
    assert sandbox.inventory(store.name, "TEE-RED-L")["available"] == 10


def test_ignoring_policy_claims_beyond_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """DECREMENT_IGNORING_POLICY commits even when available goes negative."""
    created = admin.data(
        ORDER_CREATE,
        {"order": order_input(tee["id"], 12), "options": decrement("DECREMENT_IGNORING_POLICY")},
    )["orderCreate"]

    assert created["userErrors"] == []
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (-2, 12, 10)


def test_the_order_is_found_by_its_source_identifier(admin: Admin, tee: dict[str, Any]) -> None:
    """orders(query: "source_identifier:X") finds exactly the mirror of TikTok order X."""
    ids = create_held_order(admin, tee["id"])
    admin.data(
        ORDER_CREATE, {"order": order_input(tee["id"], 1, source_identifier="999"), "options": None}
    )

    found = admin.data(
        '{ orders(first: 5, query: "source_identifier:577000111222333") '
        "{ nodes { id sourceIdentifier } } }"
    )["orders"]["nodes"]

    assert found == [{"id": ids["order_id"], "sourceIdentifier": "577000111222333"}]


def test_a_second_hold_with_the_same_handle_is_refused(admin: Admin, tee: dict[str, Any]) -> None:
    """A hold handle is unique per app per FO: DUPLICATE_FULFILLMENT_HOLD_HANDLE."""
    ids = create_held_order(admin, tee["id"])

    again = admin.data(HOLD, {"id": ids["fo_id"], "hold": AWAITING_PAYMENT})["fulfillmentOrderHold"]

    assert again["fulfillmentHold"] is None
    assert [e["code"] for e in again["userErrors"]] == ["DUPLICATE_FULFILLMENT_HOLD_HANDLE"]


def test_releasing_our_hold_opens_the_fulfillment_order(admin: Admin, tee: dict[str, Any]) -> None:
    """Releasing the last hold makes the FO OPEN and the order UNFULFILLED."""
    ids = create_held_order(admin, tee["id"])

    released = admin.data(RELEASE, {"id": ids["fo_id"], "holdIds": [ids["hold_id"]]})

    assert released["fulfillmentOrderReleaseHold"] == {
        "fulfillmentOrder": {"id": ids["fo_id"], "status": "OPEN"},
        "userErrors": [],
    }
    order = read_order(admin, ids["order_id"])
    assert order["displayFulfillmentStatus"] == "UNFULFILLED"
    assert order["fulfillmentOrders"]["nodes"][0]["fulfillmentHolds"] == []


def test_the_fo_stays_on_hold_while_another_hold_remains(admin: Admin, tee: dict[str, Any]) -> None:
    """Releasing one of two holds leaves the fulfillment order ON_HOLD."""
    ids = create_held_order(admin, tee["id"])
    other = {"reason": "HIGH_RISK_OF_FRAUD", "handle": "fraud-review"}
    admin.data(HOLD, {"id": ids["fo_id"], "hold": other})

    released = admin.data(RELEASE, {"id": ids["fo_id"], "holdIds": [ids["hold_id"]]})

    assert released["fulfillmentOrderReleaseHold"]["fulfillmentOrder"]["status"] == "ON_HOLD"


def test_marking_paid_records_a_sale_and_refuses_twice(admin: Admin, tee: dict[str, Any]) -> None:
    """orderMarkAsPaid turns PENDING into PAID with a SALE; a second call is refused."""
    ids = create_held_order(admin, tee["id"])

    paid = admin.data(MARK_PAID, {"id": ids["order_id"]})["orderMarkAsPaid"]
    again = admin.data(MARK_PAID, {"id": ids["order_id"]})["orderMarkAsPaid"]

    assert paid["userErrors"] == []
    assert paid["order"]["displayFinancialStatus"] == "PAID"
    assert paid["order"]["canMarkAsPaid"] is False
    assert paid["order"]["totalOutstandingSet"]["shopMoney"]["amount"] == "0.00"
    assert paid["order"]["transactions"] == [
        {"kind": "SALE", "status": "SUCCESS", "amountSet": {"shopMoney": {"amount": "39.98"}}}
    ]
    assert len(again["userErrors"]) == 1


def test_cancel_with_restock_runs_as_a_job_and_returns_the_stock(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """orderCancel answers a pending job; once polled done, committed units are available again."""
    ids = create_held_order(admin, tee["id"], quantity=2)

    cancel = admin.data(CANCEL, {"id": ids["order_id"], "restock": True})["orderCancel"]
    job = cancel["job"]
    before_poll = read_order(admin, ids["order_id"])
    polled = admin.data(JOB, {"id": job["id"]})["job"]

    assert cancel["orderCancelUserErrors"] == []
    assert job["done"] is False
    assert before_poll["cancelledAt"] is None
    assert polled == {"id": job["id"], "done": True}
    order = read_order(admin, ids["order_id"])
    assert order["cancelReason"] == "CUSTOMER"
    assert order["cancelledAt"] is not None
    assert order["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    stock = sandbox.inventory(store.name, "TEE-RED-L")
    assert (stock["available"], stock["committed"], stock["on_hand"]) == (10, 0, 10)


async def test_an_unpolled_cancel_job_completes_after_a_short_clock_delay(
    admin: Admin, sandbox: ShopifySandbox, clock: ManualClock, tee: dict[str, Any]
) -> None:
    """Nobody polls the job: it completes on the first tick two clock seconds later."""
    ids = create_held_order(admin, tee["id"])
    admin.data(CANCEL, {"id": ids["order_id"], "restock": True})

    await sandbox.tick()
    still_running = sandbox.order("demo", ids["order_id"])["cancelled_at"]
    clock.advance(2)
    await sandbox.tick()

    assert still_running is None
    assert sandbox.order("demo", ids["order_id"])["cancelled_at"] is not None


def test_cancelling_a_cancelled_order_is_refused(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """A second orderCancel after the first completed gets orderCancelUserErrors, no job."""
    ids = create_held_order(admin, tee["id"])
    sandbox.cancel_order_as_merchant("demo", ids["order_id"], reason="STAFF")

    cancel = admin.data(CANCEL, {"id": ids["order_id"], "restock": True})["orderCancel"]

    assert cancel["job"] is None
    assert [e["code"] for e in cancel["orderCancelUserErrors"]] == ["INVALID"]


def test_cancelling_a_fulfilled_order_is_refused(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """An order with a fulfillment cannot be cancelled through the API."""
    ids = create_held_order(admin, tee["id"])
    admin.data(RELEASE, {"id": ids["fo_id"], "holdIds": None})
    sandbox.fulfill_order("demo", ids["order_id"], company="UPS", number="1Z999AA10123456784")

    cancel = admin.data(CANCEL, {"id": ids["order_id"], "restock": True})["orderCancel"]

    assert cancel["job"] is None
    assert "fulfillments" in cancel["orderCancelUserErrors"][0]["message"]


def test_order_update_sets_the_shipping_address_and_tags(admin: Admin, tee: dict[str, Any]) -> None:
    """orderUpdate replaces the shipping address and tags the mirror sends at release."""
    ids = create_held_order(admin, tee["id"])

    updated = admin.data(
        """mutation U($input: OrderInput!) { orderUpdate(input: $input) {
             order { tags shippingAddress { firstName city provinceCode countryCodeV2 zip } }
             userErrors { field message } } }""",
        {
            "input": {
                "id": ids["order_id"],
                "tags": ["tiktok-shop", "released"],
                "shippingAddress": {
                    "firstName": "A",
                    "lastName": "B",
                    "address1": "1 Main St",
                    "city": "Austin",
                    "provinceCode": "TX",
                    "countryCode": "US",
                    "zip": "78701",
                },
            }
        },
    )["orderUpdate"]

    assert updated == {
        "order": {
            "tags": ["tiktok-shop", "released"],
            "shippingAddress": {
                "firstName": "A",
                "city": "Austin",
                "provinceCode": "TX",
                "countryCodeV2": "US",
                "zip": "78701",
            },
        },
        "userErrors": [],
    }


def test_cancelling_a_paid_order_with_refund_refunds_it(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """orderCancel(refundMethod: originalPaymentMethodsRefund) on a PAID order: REFUNDED."""
    ids = create_held_order(admin, tee["id"])
    admin.data(MARK_PAID, {"id": ids["order_id"]})

    job = admin.data(CANCEL, {"id": ids["order_id"], "restock": True})["orderCancel"]["job"]
    admin.data(JOB, {"id": job["id"]})

    order = read_order(admin, ids["order_id"])
    assert order["displayFinancialStatus"] == "REFUNDED"
    assert order["totalOutstandingSet"]["shopMoney"]["amount"] == "0.00"
    kinds = [t["kind"] for t in sandbox.order("demo", ids["order_id"])["transactions"]]
    assert kinds == ["SALE", "REFUND"]


def test_an_app_may_hold_a_fulfillment_order_at_most_ten_times(
    admin: Admin, tee: dict[str, Any]
) -> None:
    """The eleventh hold by one app on one FO is FULFILLMENT_ORDER_HOLD_LIMIT_REACHED."""
    ids = create_held_order(admin, tee["id"])
    for n in range(9):
        admin.data(HOLD, {"id": ids["fo_id"], "hold": {"reason": "OTHER", "handle": f"h{n}"}})

    eleventh = admin.data(HOLD, {"id": ids["fo_id"], "hold": {"reason": "OTHER", "handle": "h10"}})

    errors = eleventh["fulfillmentOrderHold"]["userErrors"]
    assert [e["code"] for e in errors] == ["FULFILLMENT_ORDER_HOLD_LIMIT_REACHED"]


def test_holds_are_timestamped_and_the_first_hold_time_outlives_release(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    clock: ManualClock,
    tee: dict[str, Any],
) -> None:
    """A hold stamps its created_at and the FO's first_held_at; release keeps first_held_at."""
    order = admin.data(ORDER_CREATE, {"order": order_input(tee["id"]), "options": decrement()})[
        "orderCreate"
    ]["order"]
    fo_id = order["fulfillmentOrders"]["nodes"][0]["id"]
    [fo] = sandbox.order(store.name, order["id"])["fulfillment_orders"]
    assert (fo["created_at"], fo["first_held_at"]) == ("2026-11-02T09:00:00Z", None)

    clock.advance(60)
    hold_id = admin.data(HOLD, {"id": fo_id, "hold": AWAITING_PAYMENT})["fulfillmentOrderHold"][
        "fulfillmentHold"
    ]["id"]
    held = sandbox.order(store.name, order["id"])
    clock.advance(60)
    admin.data(RELEASE, {"id": fo_id, "holdIds": [hold_id]})
    released = sandbox.order(store.name, order["id"])
    clock.advance(60)
    admin.data(HOLD, {"id": fo_id, "hold": {"reason": "OTHER", "handle": "again"}})
    held_again = sandbox.order(store.name, order["id"])

    assert held["updated_at"] == "2026-11-02T09:01:00Z"
    assert held["fulfillment_orders"][0]["first_held_at"] == "2026-11-02T09:01:00Z"
    assert [h["created_at"] for h in held["fulfillment_orders"][0]["holds"]] == [
        "2026-11-02T09:01:00Z"
    ]
    assert released["updated_at"] == "2026-11-02T09:02:00Z"
    assert released["fulfillment_orders"][0]["holds"] == []
    assert released["fulfillment_orders"][0]["first_held_at"] == "2026-11-02T09:01:00Z"
    assert held_again["fulfillment_orders"][0]["first_held_at"] == "2026-11-02T09:01:00Z"
    assert [h["created_at"] for h in held_again["fulfillment_orders"][0]["holds"]] == [
        "2026-11-02T09:03:00Z"
    ]
