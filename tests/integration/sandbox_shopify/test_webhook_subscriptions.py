"""Managing webhook subscriptions through the Admin API and the control API (shopify_api_wave2.md
§2.1, §2.3)."""

from __future__ import annotations

from typing import Any

import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

from .shopify_http import Admin, WebhookSink

CREATE = """mutation($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri createdAt updatedAt } userErrors { field message } } }"""
UPDATE = """mutation($id: ID!, $uri: String!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: {uri: $uri}) {
    webhookSubscription { id topic uri createdAt updatedAt } userErrors { field message } } }"""
LIST = """query($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!], $uri: String) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics, uri: $uri) {
    nodes { id topic uri createdAt updatedAt } pageInfo { hasNextPage endCursor } } }"""
HOOKS = "https://bridge.example/webhooks/shopify"


def create(admin: Admin, topic: str, uri: str = HOOKS) -> dict[str, Any]:
    payload: dict[str, Any] = admin.data(CREATE, {"topic": topic, "uri": uri})[
        "webhookSubscriptionCreate"
    ]
    return payload


def listed(admin: Admin, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = admin.data(LIST, {"first": 10} | variables)["webhookSubscriptions"]
    return page


@pytest.mark.parametrize(
    "topic", ["RETURNS_REQUEST", "APP_SCOPES_UPDATE", "BULK_OPERATIONS_FINISH", "REFUNDS_CREATE"]
)
def test_any_webhook_topic_of_the_schema_can_be_subscribed(admin: Admin, topic: str) -> None:
    """Topics the sandbox never emits are still accepted and stored, as Shopify would."""
    created = create(admin, topic)

    assert created["userErrors"] == []
    assert created["webhookSubscription"]["topic"] == topic


def test_a_subscription_can_be_moved_to_another_address(admin: Admin, clock: ManualClock) -> None:
    """webhookSubscriptionUpdate changes the uri and updatedAt, not the id or createdAt."""
    made = create(admin, "ORDERS_CANCELLED")["webhookSubscription"]
    clock.advance(60)

    moved = admin.data(UPDATE, {"id": made["id"], "uri": f"{HOOKS}/v2"})[
        "webhookSubscriptionUpdate"
    ]

    assert moved["userErrors"] == []
    after = moved["webhookSubscription"]
    assert (after["id"], after["topic"], after["createdAt"]) == (
        made["id"],
        "ORDERS_CANCELLED",
        made["createdAt"],
    )
    assert after["uri"] == f"{HOOKS}/v2"
    assert after["updatedAt"] > made["updatedAt"]


def test_updating_an_unknown_subscription_is_a_user_error(admin: Admin) -> None:
    """An id that is not the shop's subscription answers a userError, not a GraphQL error."""
    answer = admin.data(UPDATE, {"id": "gid://shopify/WebhookSubscription/999", "uri": HOOKS})

    payload = answer["webhookSubscriptionUpdate"]
    assert payload["webhookSubscription"] is None
    assert payload["userErrors"] == [
        {"field": ["id"], "message": "Webhook subscription does not exist"}
    ]


def test_an_update_to_a_taken_address_is_refused(admin: Admin) -> None:
    """Two subscriptions of one topic cannot share an address, by create or by update."""
    create(admin, "ORDERS_UPDATED", HOOKS)
    other = create(admin, "ORDERS_UPDATED", f"{HOOKS}/other")["webhookSubscription"]

    answer = admin.data(UPDATE, {"id": other["id"], "uri": HOOKS})["webhookSubscriptionUpdate"]

    assert answer["userErrors"][0]["message"] == "Address for this topic has already been taken"


def test_the_list_filters_by_topic_and_uri_and_pages(admin: Admin) -> None:
    """webhookSubscriptions(first, after, topics, uri) answers topic, uri, id and both times."""
    first = create(admin, "ORDERS_CANCELLED")["webhookSubscription"]
    second = create(admin, "ORDERS_UPDATED")["webhookSubscription"]
    create(admin, "ORDERS_UPDATED", f"{HOOKS}/other")

    page_one = listed(admin, first=1)
    page_two = listed(admin, first=1, after=page_one["pageInfo"]["endCursor"])
    by_topic = listed(admin, topics=["ORDERS_CANCELLED"])
    by_uri_and_topic = listed(admin, topics=["ORDERS_UPDATED"], uri=HOOKS)

    assert page_one["nodes"] == [first]
    assert page_one["pageInfo"]["hasNextPage"] is True
    assert page_two["nodes"] == [second]
    assert by_topic["nodes"] == [first]
    assert by_uri_and_topic["nodes"] == [second]


def test_the_control_api_lists_and_deletes_subscriptions(
    admin: Admin, store: StoreCredentials
) -> None:
    """GET and DELETE /_sandbox/shops/{shop}/webhooks let a test drop a subscription as Shopify
    does after repeated failures; the Admin API no longer lists it."""
    made = create(admin, "ORDERS_CANCELLED")["webhookSubscription"]
    create(admin, "ORDERS_UPDATED")
    number = made["id"].rsplit("/", 1)[1]

    before = admin.http.get(f"/_sandbox/shops/{store.name}/webhooks").json()
    deleted = admin.http.delete(f"/_sandbox/shops/{store.name}/webhooks/{number}")
    again = admin.http.delete(f"/_sandbox/shops/{store.name}/webhooks/{made['id']}")

    assert [s["topic"] for s in before] == ["ORDERS_CANCELLED", "ORDERS_UPDATED"]
    assert before[0] == {
        "id": made["id"],
        "topic": "ORDERS_CANCELLED",
        "uri": HOOKS,
        "created_at": made["createdAt"],
        "updated_at": made["updatedAt"],
    }
    assert deleted.json() == {"deleted": made["id"]}
    assert again.status_code == 400
    assert [n["topic"] for n in listed(admin)["nodes"]] == ["ORDERS_UPDATED"]


async def test_a_deleted_subscription_receives_nothing(
    admin: Admin, sandbox: ShopifySandbox, store: StoreCredentials, sink: WebhookSink
) -> None:
    """After the sandbox drops a subscription, its topic is no longer delivered there."""
    made = sandbox.subscribe_webhook(store.name, "app/uninstalled", sink.url)

    sandbox.delete_webhook_subscription(store.name, made)
    sandbox.uninstall_app(store.name)
    await sandbox.tick()

    assert sink.topic("app/uninstalled") == []


def test_a_topic_outside_the_schema_is_refused_by_the_control_api(
    admin: Admin, store: StoreCredentials
) -> None:
    """The control route accepts REST or enum spelling of any schema topic, nothing else."""
    accepted = admin.http.post(
        f"/_sandbox/shops/{store.name}/webhooks", json={"topic": "returns/request", "url": HOOKS}
    )
    refused = admin.http.post(
        f"/_sandbox/shops/{store.name}/webhooks", json={"topic": "orders/teleported", "url": HOOKS}
    )

    assert accepted.status_code == 200
    assert refused.status_code == 400
    assert "not a WebhookSubscriptionTopic" in refused.json()["error"]
