"""The Event API (per-shop webhook addresses, §2.1) and the /seller/ reads (§4.5).

The real Event API accepts only `https://` domain URLs without a port; the sandbox takes any
`http(s)://` URL, since its receivers live on loopback ports.
"""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call
from shopbridge_sandbox.tiktok.orders import unix

# §2.4, the Update Shop Webhook enum.
EVENT_TYPES = (
    "ORDER_STATUS_CHANGE",
    "REVERSE_STATUS_UPDATE",
    "RECIPIENT_ADDRESS_UPDATE",
    "PACKAGE_UPDATE",
    "PRODUCT_STATUS_CHANGE",
    "SELLER_DEAUTHORIZATION",
    "UPCOMING_AUTHORIZATION_EXPIRATION",
    "CANCELLATION_STATUS_CHANGE",
    "RETURN_STATUS_CHANGE",
    "NEW_CONVERSATION",
    "NEW_MESSAGE",
    "PRODUCT_INFORMATION_CHANGE",
    "PRODUCT_CREATION",
    "PRODUCT_CATEGORY_CHANGE",
    "NEW_MESSAGE_LISTENER",
    "INVOICE_STATUS_CHANGE",
    "PRODUCT_AUDIT_STATUS_CHANGE",
)
TOPIC_EVENT_TYPES = {
    1: "ORDER_STATUS_CHANGE",
    4: "PACKAGE_UPDATE",
    6: "SELLER_DEAUTHORIZATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
}
MAX_ADDRESS_LENGTH = 255


def _event_type(call: Call) -> str:
    event_type = str(call.body.get("event_type", ""))
    if event_type not in EVENT_TYPES:
        raise e.bad_parameter(f"event_type {event_type!r} is not a webhook event type")
    return event_type


def update_webhook(call: Call) -> dict[str, Any]:
    event_type = _event_type(call)
    address = str(call.body.get("address", ""))
    if not address.startswith(("http://", "https://")) or len(address) > MAX_ADDRESS_LENGTH:
        raise e.bad_parameter("address must be an http(s) URL of at most 255 characters")
    call.shop.event_webhooks[event_type] = (address, call.now)
    return {}


def get_webhooks(call: Call) -> dict[str, Any]:
    return {
        "shop_id": call.shop.id,
        "webhooks": [
            {"event_type": event_type, "address": address, "create_time": unix(at)}
            for event_type, (address, at) in sorted(call.shop.event_webhooks.items())
        ],
    }


def delete_webhook(call: Call) -> dict[str, Any]:
    call.shop.event_webhooks.pop(_event_type(call), None)
    return {}


def active_shops(call: Call) -> dict[str, Any]:
    shops = [call.market.shop(shop_id) for shop_id in call.caller.grant.shop_ids]
    return {"shops": [{"id": shop.id, "region": shop.region} for shop in shops]}


ROUTES = [
    ApiRoute("PUT", "/event/202309/webhooks", update_webhook),
    ApiRoute("GET", "/event/202309/webhooks", get_webhooks),
    ApiRoute("DELETE", "/event/202309/webhooks", delete_webhook),
    ApiRoute("GET", "/seller/202309/shops", active_shops),
]
