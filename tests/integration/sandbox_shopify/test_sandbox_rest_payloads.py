"""Webhook bodies in the REST payloads' full shape; tracking URLs Shopify builds; one order
fulfilled in two parcels."""

from __future__ import annotations

from importlib import resources
from typing import Any

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec
from shopbridge_sandbox.shopify.tracking import URL_TEMPLATES

from .operations import FULFILL, ORDER_CREATE, ORDER_LINES, decrement, order_input, ship_lines
from .shopify_http import Admin, WebhookSink

USPS_NUMBER = "9400111899223100000000"
ORDER_KEYS = {
    "id",
    "admin_graphql_api_id",
    "name",
    "number",
    "order_number",
    "email",
    "created_at",
    "updated_at",
    "cancelled_at",
    "cancel_reason",
    "closed_at",
    "currency",
    "presentment_currency",
    "financial_status",
    "fulfillment_status",
    "subtotal_price",
    "total_price",
    "total_tax",
    "total_discounts",
    "taxes_included",
    "test",
    "source_name",
    "source_identifier",
    "tags",
    "note",
    "line_items",
    "fulfillments",
    "refunds",
    "shipping_address",
    "customer",
}
LINE_KEYS = {
    "id",
    "admin_graphql_api_id",
    "variant_id",
    "product_id",
    "sku",
    "title",
    "name",
    "quantity",
    "current_quantity",
    "fulfillable_quantity",
    "fulfillment_status",
    "price",
    "requires_shipping",
}
FULFILLMENT_KEYS = {
    "id",
    "admin_graphql_api_id",
    "order_id",
    "status",
    "created_at",
    "updated_at",
    "location_id",
    "name",
    "service",
    "shipment_status",
    "tracking_company",
    "tracking_number",
    "tracking_numbers",
    "tracking_url",
    "tracking_urls",
    "line_items",
}


def numeric(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def two_sku_order(admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]) -> dict[str, Any]:
    """An order of 2 tees and 1 mug; its id, fulfillment order and FO line ids by SKU."""
    mug = sandbox.add_product(
        "demo", title="Mug", variants=[VariantSpec(sku="MUG-BLUE", price="12.50", available=5)]
    )["variants"]["MUG-BLUE"]
    spec = order_input(tee["id"], 2)
    spec["lineItems"].append(
        {
            "variantId": mug["id"],
            "quantity": 1,
            "requiresShipping": True,
            "priceSet": {"shopMoney": {"amount": "12.50", "currencyCode": "USD"}},
        }
    )
    created = admin.data(ORDER_CREATE, {"order": spec, "options": decrement()})["orderCreate"]
    order_id = created["order"]["id"]
    [fo] = admin.data(ORDER_LINES, {"id": order_id})["order"]["fulfillmentOrders"]["nodes"]
    return {
        "order_id": order_id,
        "fo_id": fo["id"],
        "fo_lines": {li["sku"]: li["id"] for li in fo["lineItems"]["nodes"]},
    }


async def test_orders_cancelled_carries_the_full_rest_order(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """orders/cancelled has number, order_number, subtotal_price, total_tax, taxes_included,
    test, … and each line its current and fulfillable quantities."""
    sandbox.subscribe_webhook(store.name, "orders/cancelled", sink.url)
    created = admin.data(
        ORDER_CREATE, {"order": order_input(tee["id"], 2), "options": decrement()}
    )["orderCreate"]["order"]

    sandbox.cancel_order_as_merchant(store.name, created["id"], reason="CUSTOMER")
    await sandbox.tick()

    [hook] = sink.topic("orders/cancelled")
    payload = hook.json
    assert set(payload) >= ORDER_KEYS
    assert (payload["name"], payload["number"], payload["order_number"]) == ("#1001", 1, 1001)
    assert (payload["subtotal_price"], payload["total_price"]) == ("39.98", "39.98")
    assert (payload["total_tax"], payload["total_discounts"]) == ("0.00", "0.00")
    assert (payload["taxes_included"], payload["test"], payload["customer"]) == (False, False, None)
    assert (payload["currency"], payload["presentment_currency"]) == ("USD", "USD")
    assert (payload["cancel_reason"], payload["financial_status"]) == ("customer", "pending")
    assert (payload["fulfillments"], payload["refunds"]) == ([], [])
    [line] = payload["line_items"]
    assert set(line) >= LINE_KEYS
    assert (line["sku"], line["quantity"], line["current_quantity"]) == ("TEE-RED-L", 2, 2)
    assert (line["price"], line["fulfillment_status"]) == ("19.99", None)
    assert line["variant_id"] == numeric(tee["id"])


async def test_a_usps_fulfilment_gets_the_tracking_url_shopify_builds(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """Company USPS and no url: fulfillments/create and trackingInfo carry USPS's URL; the
    payload has every listed field and the shipped lines with their quantity."""
    sandbox.subscribe_webhook(store.name, "fulfillments/create", sink.url)
    ids = two_sku_order(admin, sandbox, tee)

    shipped = admin.data(
        FULFILL, {"f": ship_lines(ids["fo_id"], [(ids["fo_lines"]["TEE-RED-L"], 1)])}
    )["fulfillmentCreate"]
    await sandbox.tick()

    url = f"https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1={USPS_NUMBER}"
    assert shipped["fulfillment"]["trackingInfo"] == [
        {"company": "USPS", "number": USPS_NUMBER, "url": url}
    ]
    [hook] = sink.topic("fulfillments/create")
    payload = hook.json
    assert set(payload) >= FULFILLMENT_KEYS
    assert (payload["tracking_url"], payload["tracking_urls"]) == (url, [url])
    assert (payload["tracking_number"], payload["tracking_numbers"]) == (USPS_NUMBER, [USPS_NUMBER])
    assert (payload["status"], payload["service"], payload["name"]) == (
        "success",
        "manual",
        "#1001.1",
    )
    assert payload["location_id"] == numeric(store.location_ids[0])
    [line] = payload["line_items"]
    assert (line["sku"], line["quantity"], line["fulfillable_quantity"]) == ("TEE-RED-L", 1, 1)
    assert line["fulfillment_status"] == "partial"


def test_a_carrier_shopify_does_not_know_gets_no_tracking_url(
    admin: Admin, sandbox: ShopifySandbox, tee: dict[str, Any]
) -> None:
    """An unknown company, or a known one misspelt, gets no URL; a given url is kept."""
    ids = two_sku_order(admin, sandbox, tee)
    tee_line, mug_line = ids["fo_lines"]["TEE-RED-L"], ids["fo_lines"]["MUG-BLUE"]

    unknown = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(tee_line, 1)], "Acme Freight")})
    misspelt = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(tee_line, 1)], "usps")})
    explicit = ship_lines(ids["fo_id"], [(mug_line, 1)], "J&T Express")
    explicit["trackingInfo"]["url"] = "https://jtexpress.example/track/1"
    given = admin.data(FULFILL, {"f": explicit})

    def url(answer: dict[str, Any]) -> Any:
        return answer["fulfillmentCreate"]["fulfillment"]["trackingInfo"][0]["url"]

    assert (url(unknown), url(misspelt), url(given)) == (
        None,
        None,
        "https://jtexpress.example/track/1",
    )


async def test_one_order_ships_in_two_parcels(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """Two SKUs in two fulfilments: the first leaves the order PARTIALLY_FULFILLED and the FO
    IN_PROGRESS; the second closes it, and orders/fulfilled is sent once, after it."""
    sandbox.subscribe_webhook(store.name, "orders/fulfilled", sink.url)
    ids = two_sku_order(admin, sandbox, tee)
    tee_line, mug_line = ids["fo_lines"]["TEE-RED-L"], ids["fo_lines"]["MUG-BLUE"]

    first = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(tee_line, 2)])})
    between = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    await sandbox.tick()
    fulfilled_between = list(sink.topic("orders/fulfilled"))
    second = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(mug_line, 1)], "UPS")})
    after = admin.data(ORDER_LINES, {"id": ids["order_id"]})["order"]
    await sandbox.tick()

    assert first["fulfillmentCreate"]["userErrors"] == []
    assert second["fulfillmentCreate"]["userErrors"] == []
    assert between["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    [fo] = between["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "IN_PROGRESS"
    assert {li["sku"]: li["remainingQuantity"] for li in fo["lineItems"]["nodes"]} == {
        "TEE-RED-L": 0,
        "MUG-BLUE": 1,
    }
    assert fulfilled_between == []
    assert after["displayFulfillmentStatus"] == "FULFILLED"
    assert after["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    [hook] = sink.topic("orders/fulfilled")
    assert [
        [(line["sku"], line["quantity"]) for line in f["line_items"]]
        for f in hook.json["fulfillments"]
    ] == [[("TEE-RED-L", 2)], [("MUG-BLUE", 1)]]
    assert hook.json["fulfillment_status"] == "fulfilled"


def test_fulfilling_more_than_remains_is_refused(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """After one tee of two ships, asking for two more is a userError and moves nothing."""
    ids = two_sku_order(admin, sandbox, tee)
    tee_line = ids["fo_lines"]["TEE-RED-L"]
    admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(tee_line, 1)])})
    before = sandbox.inventory(store.name, "TEE-RED-L")

    refused = admin.data(FULFILL, {"f": ship_lines(ids["fo_id"], [(tee_line, 2)])})[
        "fulfillmentCreate"
    ]

    assert refused["fulfillment"] is None
    assert refused["userErrors"] == [
        {
            "field": [
                "fulfillment",
                "lineItemsByFulfillmentOrder",
                "0",
                "fulfillmentOrderLineItems",
            ],
            "message": f"Invalid fulfillment order line item {tee_line} or quantity 2",
        }
    ]
    assert sandbox.inventory(store.name, "TEE-RED-L") == before


async def test_a_tracking_update_sends_the_full_fulfillment(
    admin: Admin,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, Any],
    sink: WebhookSink,
) -> None:
    """fulfillments/update after fulfillmentTrackingInfoUpdate has every field, the new
    carrier's built URL and the shipped lines."""
    sandbox.subscribe_webhook(store.name, "fulfillments/update", sink.url)
    ids = two_sku_order(admin, sandbox, tee)
    shipped = admin.data(
        FULFILL, {"f": ship_lines(ids["fo_id"], [(ids["fo_lines"]["MUG-BLUE"], 1)])}
    )["fulfillmentCreate"]["fulfillment"]

    admin.data(
        """mutation T($id: ID!, $t: FulfillmentTrackingInput!) {
             fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t,
                                           notifyCustomer: false) {
               fulfillment { id } userErrors { message } } }""",
        {"id": shipped["id"], "t": {"company": "FedEx", "number": "771234567890"}},
    )
    await sandbox.tick()

    [hook] = sink.topic("fulfillments/update")
    payload = hook.json
    assert set(payload) >= FULFILLMENT_KEYS
    assert payload["tracking_company"] == "FedEx"
    assert payload["tracking_urls"] == ["https://www.fedex.com/fedextrack/?trknbr=771234567890"]
    assert [(line["sku"], line["quantity"]) for line in payload["line_items"]] == [("MUG-BLUE", 1)]


def test_every_carrier_given_a_url_is_spelt_as_on_shopifys_list() -> None:
    """The companies the sandbox builds URLs for are names from the supported list, exactly."""
    text = (
        resources.files("shopbridge.shopify")
        .joinpath("schema", "tracking_companies_2026-01.txt")
        .read_text(encoding="utf-8")
    )
    listed = {line.removeprefix("  * ").strip() for line in text.splitlines() if "  * " in line}
    assert set(URL_TEMPLATES) <= listed
