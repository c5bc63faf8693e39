"""webhookSubscriptionCreate / Delete and the subscription list."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.shopify.model import WebhookSubscription, iso
from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.resolvers.registry import (
    attributes,
    connection,
    ctx,
    resolves,
    user_errors,
)
from shopbridge_sandbox.shopify.webhooks import subscribe

attributes(
    "WebhookSubscription",
    id=lambda s: s.gid,
    legacyResourceId=lambda s: str(s.id),
    topic=lambda s: s.topic,
    uri=lambda s: s.uri,
    format=lambda s: "JSON",
    includeFields=lambda s: [],
    metafieldNamespaces=lambda s: [],
    filter=lambda s: None,
    name=lambda s: None,
    createdAt=lambda s: iso(s.created_at),
    updatedAt=lambda s: iso(s.created_at),
)


@resolves("Mutation", "webhookSubscriptionCreate")
def _create(_: Any, info: Any, topic: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    # `callbackUrl` is deprecated since 2025-10 in favour of `uri` [shopify_api.md §7].
    uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
    if not uri or not str(uri).startswith(("http://", "https://")):
        error = UserError(["webhookSubscription", "uri"], "Address is invalid")
        return {"webhookSubscription": None, "userErrors": user_errors([error])}
    if webhookSubscription.get("format", "JSON") != "JSON":
        error = UserError(["webhookSubscription", "format"], "Only JSON is supported here")
        return {"webhookSubscription": None, "userErrors": user_errors([error])}
    if any(s.topic == topic and s.uri == uri for s in context.shop.subscriptions):
        error = UserError(
            ["webhookSubscription", "uri"], "Address for this topic has already been taken"
        )
        return {"webhookSubscription": None, "userErrors": user_errors([error])}
    created = subscribe(context.world, context.shop, topic, str(uri))
    return {"webhookSubscription": created, "userErrors": []}


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
    _: Any, info: Any, topics: list[str] | None = None, sortKey: str | None = None, **page: Any
) -> dict[str, Any]:
    subs = [s for s in ctx(info).shop.subscriptions if topics is None or s.topic in topics]
    # CREATED_AT (the schema default) is id order here.
    return connection(subs, sortKey=None if sortKey == "CREATED_AT" else sortKey, **page)


@resolves("QueryRoot", "webhookSubscription")
def _one(_: Any, info: Any, id: str) -> WebhookSubscription | None:
    shop = ctx(info).shop
    found: WebhookSubscription | None = shop.find(shop.subscriptions, id, "WebhookSubscription")
    return found
