"""Verify and read Shopify webhook deliveries (shopify_api.md §7).

The receiver verifies the HMAC over the raw body *before* parsing it, then parses:

    if not verify_shopify_hmac(body, request.headers.get(HMAC_HEADER), secrets):
        return Response(status_code=401)
    webhook = parse_webhook(request.headers, body)
    if webhook.topic == "fulfillments/create":
        shipped = webhook.fulfillment()

Bodies are Shopify's REST representation (snake_case, numeric ids, `admin_graphql_api_id`);
the typed accessors hand back GraphQL GIDs so they match what the client returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
API_VERSION_HEADER = "X-Shopify-API-Version"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"


class MalformedWebhook(ValueError):
    """A delivery that cannot be read: a required header is missing or the body is not a JSON
    object of the expected shape. Answer 400; Shopify will not fix it by retrying."""


def shopify_hmac(raw_body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, raw body)), the value of X-Shopify-Hmac-Sha256."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_shopify_hmac(raw_body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True if `header` is the HMAC of `raw_body` under any of `secrets`, compared in constant time.

    Pass the current client secret and, during a rotation, the previous one: Shopify may keep
    signing with the old secret for up to an hour after the change (§7).
    """
    if not header:
        return False
    presented = header.strip().encode()
    valid = False
    for secret in secrets:
        if not secret:
            continue
        # Check every secret, no early exit: timing says nothing about which one matched.
        valid |= hmac.compare_digest(shopify_hmac(raw_body, secret).encode(), presented)
    return valid


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Header lookup is case-insensitive, and Shopify's newer "Events" deliveries drop the
    # "X-" prefix (§7: shopify-hmac-sha256 etc.), so accept both spellings.
    lowered = {key.lower(): value for key, value in headers.items()}
    for candidate in (name.lower(), name.lower().removeprefix("x-")):
        value = lowered.get(candidate)
        if value is not None and value.strip():
            return value.strip()
    return None


def _required(headers: Mapping[str, str], name: str) -> str:
    value = _header(headers, name)
    if value is None:
        raise MalformedWebhook(f"missing header {name}")
    return value


def _timestamp(value: Any, what: str) -> datetime | None:
    """An aware UTC time from an ISO 8601 string; None when absent."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedWebhook(f"{what} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise MalformedWebhook(f"{what} has no timezone: {value!r}")
    return moment.astimezone(UTC)


def _gid(payload: Mapping[str, Any], kind: str, key: str = "id") -> str:
    admin_id = payload.get("admin_graphql_api_id") if key == "id" else None
    if isinstance(admin_id, str) and admin_id:
        return admin_id
    value = payload.get(key)
    if value is None or value == "":
        raise MalformedWebhook(f"payload has no {key}")
    return f"gid://shopify/{kind}/{value}"


@dataclass(frozen=True)
class FulfillmentNotice:
    """fulfillments/create|update: which order shipped, with which carrier and numbers."""

    fulfillment_id: str
    order_id: str
    status: str | None
    tracking_company: str | None
    tracking_numbers: tuple[str, ...]
    tracking_urls: tuple[str, ...]


@dataclass(frozen=True)
class OrderCancelledNotice:
    order_id: str
    name: str | None
    source_identifier: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None


@dataclass(frozen=True)
class OrderFulfilledNotice:
    order_id: str
    source_identifier: str | None
    fulfillments: tuple[FulfillmentNotice, ...]


@dataclass(frozen=True)
class InventoryLevelNotice:
    inventory_item_id: str
    location_id: str
    available: int | None
    updated_at: datetime | None


@dataclass(frozen=True)
class AppUninstalledNotice:
    shop_domain: str


@dataclass(frozen=True)
class ShopifyWebhook:
    """One verified delivery, headers read, body parsed."""

    topic: str
    shop_domain: str
    event_id: str | None
    webhook_id: str | None
    triggered_at: datetime | None
    api_version: str
    payload: dict[str, Any] = field(repr=False)
    body_sha256: str = field(repr=False, default="")

    @property
    def delivery_key(self) -> str:
        """Dedupe key: X-Shopify-Event-Id, stable across retries of one event (§7); else the
        Webhook-Id (stability across retries UNCONFIRMED); else a hash of the body."""
        if self.event_id:
            return f"event:{self.event_id}"
        if self.webhook_id:
            return f"webhook:{self.webhook_id}"
        return f"body:{self.body_sha256}"

    def _expect(self, *topics: str) -> None:
        if self.topic not in topics:
            raise MalformedWebhook(f"{self.topic} delivery read as {' or '.join(topics)}")

    def fulfillment(self) -> FulfillmentNotice:
        self._expect("fulfillments/create", "fulfillments/update")
        return _fulfillment(self.payload)

    def order_cancelled(self) -> OrderCancelledNotice:
        self._expect("orders/cancelled")
        return OrderCancelledNotice(
            order_id=_gid(self.payload, "Order"),
            name=self.payload.get("name"),
            source_identifier=_optional_str(self.payload.get("source_identifier")),
            cancelled_at=_timestamp(self.payload.get("cancelled_at"), "cancelled_at"),
            cancel_reason=self.payload.get("cancel_reason"),
        )

    def order_fulfilled(self) -> OrderFulfilledNotice:
        self._expect("orders/fulfilled")
        fulfillments = self.payload.get("fulfillments") or []
        if not isinstance(fulfillments, list):
            raise MalformedWebhook("orders/fulfilled payload: fulfillments is not a list")
        order_id = _gid(self.payload, "Order")
        return OrderFulfilledNotice(
            order_id=order_id,
            source_identifier=_optional_str(self.payload.get("source_identifier")),
            fulfillments=tuple(
                _fulfillment({"order_id": order_id, **f})
                for f in fulfillments
                if isinstance(f, dict)
            ),
        )

    def inventory_level(self) -> InventoryLevelNotice:
        self._expect("inventory_levels/update")
        available = self.payload.get("available")
        return InventoryLevelNotice(
            inventory_item_id=_gid(self.payload, "InventoryItem", "inventory_item_id"),
            location_id=_gid(self.payload, "Location", "location_id"),
            available=int(available) if available is not None else None,
            updated_at=_timestamp(self.payload.get("updated_at"), "updated_at"),
        )

    def app_uninstalled(self) -> AppUninstalledNotice:
        self._expect("app/uninstalled")
        domain = self.payload.get("myshopify_domain") or self.shop_domain
        return AppUninstalledNotice(shop_domain=str(domain))


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _fulfillment(payload: Mapping[str, Any]) -> FulfillmentNotice:
    order_id = payload.get("order_id")
    if order_id is None:
        raise MalformedWebhook("fulfillment payload has no order_id")
    numbers = payload.get("tracking_numbers") or (
        [payload["tracking_number"]] if payload.get("tracking_number") else []
    )
    urls = payload.get("tracking_urls") or (
        [payload["tracking_url"]] if payload.get("tracking_url") else []
    )
    order_gid = str(order_id)
    if not order_gid.startswith("gid://"):
        order_gid = f"gid://shopify/Order/{order_gid}"
    return FulfillmentNotice(
        fulfillment_id=_gid(payload, "Fulfillment"),
        order_id=order_gid,
        status=payload.get("status"),
        tracking_company=payload.get("tracking_company"),
        tracking_numbers=tuple(str(n) for n in numbers),
        tracking_urls=tuple(str(u) for u in urls),
    )


def parse_webhook(headers: Mapping[str, str], raw_body: bytes) -> ShopifyWebhook:
    """Read a delivery's headers and JSON body; MalformedWebhook says what is wrong.

    Topic, shop domain and API version are required; Event-Id, Webhook-Id and Triggered-At
    are read when present (delivery_key falls back along them).

    Verify the HMAC first (`verify_shopify_hmac`): this function trusts what it reads.
    """
    topic = _required(headers, TOPIC_HEADER)
    shop_domain = _required(headers, SHOP_DOMAIN_HEADER)
    api_version = _required(headers, API_VERSION_HEADER)
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedWebhook(f"{topic} body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedWebhook(f"{topic} body is not a JSON object")
    return ShopifyWebhook(
        topic=topic,
        shop_domain=shop_domain,
        event_id=_header(headers, EVENT_ID_HEADER),
        webhook_id=_header(headers, WEBHOOK_ID_HEADER),
        triggered_at=_timestamp(_header(headers, TRIGGERED_AT_HEADER), TRIGGERED_AT_HEADER),
        api_version=api_version,
        payload=payload,
        body_sha256=hashlib.sha256(raw_body).hexdigest(),
    )
