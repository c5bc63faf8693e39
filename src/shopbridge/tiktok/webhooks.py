"""Parsing TikTok Shop push notifications (tiktok_shop_api.md §2.3-2.7, wave2 §5.3, §6.2).

Check the signature first, on the raw bytes (`signing.verify_webhook`), then parse here.
A notification is a hint: the receiver stores it under `delivery_key` (TikTok retries, so
the same notification can arrive several times) and re-reads the order for the truth.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopbridge.tiktok.models import (
    CancelStatusValue,
    OrderStatusValue,
    ReturnStatusValue,
    TikTokId,
    UnixTime,
)

ORDER_STATUS_CHANGE = 1
PACKAGE_UPDATE = 4
SELLER_DEAUTHORIZATION = 6
CANCELLATION_STATUS_CHANGE = 11
RETURN_STATUS_CHANGE = 12

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


class PackageListEntry(_Lenient):
    package_id: TikTokId = ""
    order_id_list: list[TikTokId] = Field(default_factory=list)


class PackageUpdate(_Lenient):
    """Type 4 data (§2.7, wave2 §5.3): packages re-shaped by a split, combine, uncombine...;
    package ids change, so re-read every order listed."""

    sc_type: str = ""  # COMBINE, CANCEL_COMBINE, SPLIT, ... (kept as sent)
    role_type: str = ""
    package_list: list[PackageListEntry] = Field(default_factory=list)
    update_time: UnixTime = None

    @property
    def order_ids(self) -> tuple[str, ...]:
        """Every order of every listed package, each once, in the order given."""
        ids = (i for entry in self.package_list for i in entry.order_id_list if i)
        return tuple(dict.fromkeys(ids))


class ReturnStatusChange(_Lenient):
    """Type 12 data (§2.7): the return id is not the order id (wave2 §6.2)."""

    order_id: TikTokId
    return_id: TikTokId
    return_status: ReturnStatusValue = ""
    return_type: str = ""
    return_role: str = ""
    create_time: UnixTime = None
    update_time: UnixTime = None


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
    def package_update(self) -> PackageUpdate | None:
        """The type 4 payload, or None for another topic."""
        if self.type != PACKAGE_UPDATE:
            return None
        return PackageUpdate.model_validate(self.data)

    @property
    def return_status_change(self) -> ReturnStatusChange | None:
        """The type 12 payload, or None for another topic."""
        if self.type != RETURN_STATUS_CHANGE:
            return None
        return ReturnStatusChange.model_validate(self.data)

    @property
    def order_id(self) -> str | None:
        """The order this notification is about, when its data names one."""
        return _plain_id(self.data.get("order_id"))

    @property
    def order_ids(self) -> tuple[str, ...]:
        """Every order to re-read: for PACKAGE_UPDATE the orders of all its packages,
        otherwise `(order_id,)` when the data names one."""
        if self.type == PACKAGE_UPDATE:
            update = self.package_update
            return update.order_ids if update is not None else ()
        return (self.order_id,) if self.order_id else ()

    @property
    def return_id(self) -> str | None:
        """The return a RETURN_STATUS_CHANGE is about."""
        return _plain_id(self.data.get("return_id")) if self.type == RETURN_STATUS_CHANGE else None


def _plain_id(value: Any) -> str | None:
    """An id sent as a string or an integer; anything else (a float has lost digits, an
    object is no id) is no id."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


_TYPED_DATA: dict[int, type[BaseModel]] = {
    ORDER_STATUS_CHANGE: OrderStatusChange,
    PACKAGE_UPDATE: PackageUpdate,
    CANCELLATION_STATUS_CHANGE: CancellationStatusChange,
    RETURN_STATUS_CHANGE: ReturnStatusChange,
}


def parse_notification(raw: bytes) -> Notification:
    """The notification in `raw`; the data of types 1, 4, 11 and 12 is checked here too."""
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
    "PACKAGE_UPDATE",
    "RETURN_STATUS_CHANGE",
    "TOPIC_NAMES",
    "CancellationStatusChange",
    "MalformedNotification",
    "Notification",
    "OrderStatusChange",
    "PackageListEntry",
    "PackageUpdate",
    "ReturnStatusChange",
    "delivery_key",
    "parse_notification",
    "topic_name",
]
