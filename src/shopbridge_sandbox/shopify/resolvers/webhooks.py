"""webhookSubscriptionCreate / Update / Delete and the subscription list (shopify_api_wave2.md
§2.1). Any `WebhookSubscriptionTopic` is accepted; the sandbox emits only `EMITTED_TOPICS`."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify.model import Shop, WebhookSubscription, iso
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.resolvers.registry import (
    attributes,
    connection,
    ctx,
    resolves,
    user_errors,
)
from shopbridge_sandbox.shopify.schema import API_VERSION
from shopbridge_sandbox.shopify.webhooks import subscribe

attributes(
    "WebhookSubscription",
    id=lambda s: s.gid,
    legacyResourceId=lambda s: str(s.id),
    topic=lambda s: s.topic,
    uri=lambda s: s.uri,
    callbackUrl=lambda s: s.uri,
    apiVersion=lambda s: {"handle": API_VERSION, "displayName": API_VERSION, "supported": True},
    format=lambda s: "JSON",
    includeFields=lambda s: [],
    metafieldNamespaces=lambda s: [],
    metafields=lambda s: [],
    filter=lambda s: None,
    name=lambda s: None,
    createdAt=lambda s: iso(s.created_at),
    updatedAt=lambda s: iso(s.updated_at),
)


def _address(
    shop: Shop, topic: str, fields: dict[str, Any], current: WebhookSubscription | None = None
) -> str | UserError:
    """The subscription's address, or the userError Shopify would refuse it with. An update
    that gives no address keeps the `current` one."""
    # `callbackUrl` is deprecated since 2025-10 in favour of `uri` [shopify_api.md §7].
    uri = fields.get("uri") or fields.get("callbackUrl") or (current.uri if current else None)
    if not uri or not str(uri).startswith(("http://", "https://")):
        return UserError(["webhookSubscription", "uri"], "Address is invalid")
    if fields.get("format", "JSON") != "JSON":
        return UserError(["webhookSubscription", "format"], "Only JSON is supported here")
    if any(s.topic == topic and s.uri == uri and s is not current for s in shop.subscriptions):
        return UserError(
            ["webhookSubscription", "uri"], "Address for this topic has already been taken"
        )
    return str(uri)


@resolves("Mutation", "webhookSubscriptionCreate")
def _create(_: Any, info: Any, topic: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    uri = _address(context.shop, topic, webhookSubscription)
    if isinstance(uri, UserError):
        return {"webhookSubscription": None, "userErrors": user_errors([uri])}
    created = subscribe(context.world, context.shop, topic, uri)
    return {"webhookSubscription": created, "userErrors": []}


@resolves("Mutation", "webhookSubscriptionUpdate")
def _update(_: Any, info: Any, id: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    found = context.shop.find(context.shop.subscriptions, id, "WebhookSubscription")
    if found is None:
        error = UserError(["id"], "Webhook subscription does not exist")
        return {"webhookSubscription": None, "userErrors": user_errors([error])}
    uri = _address(context.shop, found.topic, webhookSubscription, current=found)
    if isinstance(uri, UserError):
        return {"webhookSubscription": None, "userErrors": user_errors([uri])}
    found.uri = uri
    found.updated_at = context.world.now()
    return {"webhookSubscription": found, "userErrors": []}


@resolves("Mutation", "webhookSubscriptionDelete")
def _delete(_: Any, info: Any, id: str) -> dict[str, Any]:
    shop = ctx(info).shop
    found = shop.find(shop.subscriptions, id, "WebhookSubscription")
    if found is None:
        error = UserError(["id"], "Webhook subscription does not exist")
        return {"deletedWebhookSubscriptionId": None, "userErrors": user_errors([error])}
    shop.subscriptions.remove(found)
    return {"deletedWebhookSubscriptionId": found.gid, "userErrors": []}


@resolves("QueryRoot", "webhookSubscriptions")
def _list(
    _: Any,
    info: Any,
    topics: list[str] | None = None,
    uri: str | None = None,
    callbackUrl: str | None = None,
    format: str | None = None,
    sortKey: str | None = None,
    **page: Any,
) -> dict[str, Any]:
    address = uri or callbackUrl
    subs = [
        s
        for s in ctx(info).shop.subscriptions
        if (topics is None or s.topic in topics)
        and (address is None or s.uri == address)
        and format in (None, "JSON")
    ]
    # CREATED_AT (the schema default) is id order here.
    return connection(subs, sortKey=None if sortKey == "CREATED_AT" else sortKey, **page)


@resolves("QueryRoot", "webhookSubscription")
def _one(_: Any, info: Any, id: str) -> WebhookSubscription | None:
    shop = ctx(info).shop
    found: WebhookSubscription | None = shop.find(shop.subscriptions, id, "WebhookSubscription")
    return found
