"""Parsing TikTok Shop push notifications (tiktok_shop_api.md §2.3-2.6).

Check the signature first, on the raw bytes (`signing.verify_webhook`), then parse here.
A notification is a hint: the receiver stores it under `delivery_key` (TikTok retries, so
the same notification can arrive several times) and re-reads the order for the truth.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopbridge.tiktok.models import CancelStatusValue, OrderStatusValue, TikTokId, UnixTime

ORDER_STATUS_CHANGE = 1
SELLER_DEAUTHORIZATION = 6
CANCELLATION_STATUS_CHANGE = 11

# Topic numbers from the official topic page titles, names from the Update Shop Webhook
# enum (§2.4). Type 27's name is not in that enum; the label here is ours.
TOPIC_NAMES: dict[int, str] = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_STATUS_CHANGE",
    6: "SELLER_DEAUTHORIZATION",
    7: "UPCOMING_AUTHORIZATION_EXPIRATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
    13: "NEW_CONVERSATION",
    14: "NEW_MESSAGE",
    15: "PRODUCT_INFORMATION_CHANGE",
    16: "PRODUCT_CREATION",
    18: "PRODUCT_CATEGORY_CHANGE",
    27: "INVENTORY_STATUS_CHANGE",
    33: "NEW_MESSAGE_LISTENER",
    36: "INVOICE_STATUS_CHANGE",
    37: "PRODUCT_AUDIT_STATUS_CHANGE",
}


def topic_name(notification_type: int) -> str:
    """The topic's name, or `UNKNOWN_<n>` for a number we have no name for."""
    return TOPIC_NAMES.get(notification_type, f"UNKNOWN_{notification_type}")


class MalformedNotification(ValueError):
    """The body is not a TikTok notification we can read; the message says why."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class OrderStatusChange(_Lenient):
    """Type 1 data; `order_status` may read `CANCEL`, normalised to `CANCELLED` (§2.5)."""

    order_id: TikTokId
    order_status: OrderStatusValue
    is_on_hold_order: bool = False
    update_time: UnixTime = None


class CancellationStatusChange(_Lenient):
    """Type 11 data; TikTok spells the role field `cancellations_role` (§2.6)."""

    order_id: TikTokId
    cancel_id: TikTokId
    cancel_status: CancelStatusValue
    cancellations_role: str = ""
    create_time: UnixTime = None


class Notification(_Lenient):
    """The envelope every topic shares (§2.3)."""

    type: int
    tts_notification_id: TikTokId | None = None
    shop_id: TikTokId
    timestamp: UnixTime = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def topic(self) -> str:
        return topic_name(self.type)

    @property
    def order_status_change(self) -> OrderStatusChange | None:
        """The type 1 payload, or None for another topic."""
        if self.type != ORDER_STATUS_CHANGE:
            return None
        return OrderStatusChange.model_validate(self.data)

    @property
    def cancellation_status_change(self) -> CancellationStatusChange | None:
        """The type 11 payload, or None for another topic."""
        if self.type != CANCELLATION_STATUS_CHANGE:
            return None
        return CancellationStatusChange.model_validate(self.data)

    @property
    def order_id(self) -> str | None:
        """The order this notification is about, when its data names one."""
        value = self.data.get("order_id")
        return None if value is None or isinstance(value, bool | float) else str(value)


_TYPED_DATA: dict[int, type[BaseModel]] = {
    ORDER_STATUS_CHANGE: OrderStatusChange,
    CANCELLATION_STATUS_CHANGE: CancellationStatusChange,
}


def parse_notification(raw: bytes) -> Notification:
    """The notification in `raw`; its type 1 or type 11 data is checked here too."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # ValueError covers bad JSON and integers past Python's 4,300 digits; RecursionError,
        # nesting deeper than the parser goes.
        raise MalformedNotification(f"body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise MalformedNotification(f"body is a JSON {type(document).__name__}, not an object")
    notification = _validate(Notification, document, "envelope")
    data_model = _TYPED_DATA.get(notification.type)
    if data_model is not None:
        _validate(data_model, notification.data, f"{notification.topic} data")
    return notification


def delivery_key(raw: bytes, notification: Notification) -> str:
    """The dedupe key: `tts_notification_id`, or a hash of the body when TikTok sent none."""
    if notification.tts_notification_id:
        return notification.tts_notification_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


ModelT = TypeVar("ModelT", bound=BaseModel)


def _validate(model: type[ModelT], document: dict[str, Any], what: str) -> ModelT:
    try:
        return model.model_validate(document)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        if not isinstance(exc, ValidationError):
            raise MalformedNotification(f"{what} is malformed: {str(exc)[:200]}") from None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise MalformedNotification(f"{what} is malformed: {problems}") from None


__all__ = [
    "CANCELLATION_STATUS_CHANGE",
    "ORDER_STATUS_CHANGE",
    "TOPIC_NAMES",
    "CancellationStatusChange",
    "MalformedNotification",
    "Notification",
    "OrderStatusChange",
    "delivery_key",
    "parse_notification",
    "topic_name",
]
