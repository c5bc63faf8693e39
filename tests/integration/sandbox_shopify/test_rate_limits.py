"""The calculated-cost leaky bucket: THROTTLED past the bucket, MAX_COST_EXCEEDED, the 429 knob."""

from __future__ import annotations

from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .conftest import StoppedMonotonic
from .shopify_http import Admin

CHEAP_MUTATION = """mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/9")
  { userErrors { message } } }"""


def test_requests_past_the_bucket_are_throttled_with_its_status(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """With 25 points left two mutations (10 each) pass and the third is THROTTLED, no data."""
    sandbox.set_bucket(store.name, 25)

    first = admin.gql(CHEAP_MUTATION)
    second = admin.gql(CHEAP_MUTATION)
    third = admin.gql(CHEAP_MUTATION)

    assert "data" in first and "data" in second
    assert "data" not in third
    assert third["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    assert third["extensions"]["cost"] == {
        "requestedQueryCost": 10,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 5,
            "restoreRate": 100.0,
        },
    }


def test_the_bucket_refills_at_the_plan_rate(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, monotonic: StoppedMonotonic
) -> None:
    """A standard shop regains 100 points a second, so a throttled call passes 0.1 s later."""
    sandbox.set_bucket(store.name, 5)
    throttled = admin.gql(CHEAP_MUTATION)

    monotonic.now += 0.1
    passed = admin.gql(CHEAP_MUTATION)

    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "errors" not in passed
    assert passed["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 5


def test_a_plus_shop_has_the_bigger_bucket(admin: Admin, sandbox: ShopifySandbox) -> None:
    """A Plus shop reports a 20000-point bucket restoring 1000 points a second."""
    plus = sandbox.add_shop("flagship", plan="plus")
    admin.token = plus.access_token

    status = admin.gql("{ shop { name } }")["extensions"]["cost"]["throttleStatus"]

    assert (status["maximumAvailable"], status["restoreRate"]) == (20000.0, 1000.0)


def test_the_throttle_status_code_knob_answers_429(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """With throttle_status_code set to 429 a throttled call is an HTTP 429 with the same body."""
    admin.http.post("/_sandbox/faults", json={"throttle_status_code": 429})
    sandbox.set_bucket(store.name, 0)

    response = admin.post(CHEAP_MUTATION)

    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_a_query_over_1000_points_is_refused_before_running(admin: Admin) -> None:
    """orders(first: 250) with line items costs far over 1000: MAX_COST_EXCEEDED, no data."""
    body = admin.gql(
        "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { sku } } } } }"
    )

    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000
