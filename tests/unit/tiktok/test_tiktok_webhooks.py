"""Reading TikTok push notifications and keying them for dedupe (spec §2.3-2.6)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from shopbridge.tiktok.models import CancelStatus, OrderStatus
from shopbridge.tiktok.webhooks import (
    MalformedNotification,
    delivery_key,
    parse_notification,
    topic_name,
)

# The samples of spec §2.5 and §2.6, byte for byte.
ORDER_STATUS_SAMPLE = (
    b'{"type":1,"tts_notification_id":"7400000000000000001","shop_id":"7494049642642441621",'
    b'"timestamp":1700000100,"data":{"order_id":"576486316948490001","order_status":"ON_HOLD",'
    b'"is_on_hold_order":true,"update_time":1700000095}}'
)
CANCELLATION_SAMPLE = (
    b'{"type":11,"tts_notification_id":"7400000000000000002","shop_id":"7494049642642441621",'
    b'"timestamp":1700003700,"data":{"order_id":"576486316948490001","cancellations_role":"BUYER",'
    b'"cancel_status":"CANCELLATION_REQUEST_PENDING","cancel_id":"4035318504086604100",'
    b'"create_time":1700003690}}'
)


def body(**envelope: object) -> bytes:
    document = {"type": 1, "shop_id": "7494049642642441621", "timestamp": 1700000100}
    document.update(envelope)
    return json.dumps(document).encode()


def test_order_status_change_sample_parses() -> None:
    """The type 1 sample reads into the envelope and its typed data."""
    notification = parse_notification(ORDER_STATUS_SAMPLE)
    assert (notification.type, notification.topic) == (1, "ORDER_STATUS_CHANGE")
    assert notification.tts_notification_id == "7400000000000000001"
    assert notification.shop_id == "7494049642642441621"
    assert notification.timestamp == datetime.fromtimestamp(1700000100, UTC)
    change = notification.order_status_change
    assert change is not None
    assert (change.order_id, change.order_status) == ("576486316948490001", OrderStatus.ON_HOLD)
    assert change.is_on_hold_order is True
    assert change.update_time == datetime.fromtimestamp(1700000095, UTC)
    assert notification.cancellation_status_change is None


def test_cancellation_status_change_sample_parses() -> None:
    """The type 11 sample reads into its typed data, including the odd cancellations_role."""
    notification = parse_notification(CANCELLATION_SAMPLE)
    change = notification.cancellation_status_change
    assert change is not None
    assert change.cancel_id == "4035318504086604100"
    assert change.cancel_status is CancelStatus.PENDING
    assert change.cancellations_role == "BUYER"
    assert notification.order_id == "576486316948490001"
    assert notification.order_status_change is None


def test_cancel_spelling_in_webhook_means_cancelled() -> None:
    """A type 1 `CANCEL` status reads as CANCELLED."""
    raw = body(data={"order_id": "1", "order_status": "CANCEL", "update_time": 1700000095})
    change = parse_notification(raw).order_status_change
    assert change is not None
    assert change.order_status is OrderStatus.CANCELLED


def test_numeric_ids_in_notifications_become_strings() -> None:
    """Ids sent as JSON numbers come out as exact strings."""
    raw = body(
        shop_id=7494049642642441621,
        tts_notification_id=7400000000000000001,
        data={"order_id": 576486316948490001, "order_status": "UNPAID"},
    )
    notification = parse_notification(raw)
    assert notification.shop_id == "7494049642642441621"
    assert notification.tts_notification_id == "7400000000000000001"
    assert notification.order_id == "576486316948490001"


def test_bad_json_is_malformed() -> None:
    """A body that is not JSON raises MalformedNotification saying so."""
    with pytest.raises(MalformedNotification, match="not JSON"):
        parse_notification(b'{"type":1,')


def test_json_that_is_not_an_object_is_malformed() -> None:
    """A JSON array is not a notification."""
    with pytest.raises(MalformedNotification, match="JSON list, not an object"):
        parse_notification(b"[1, 2]")


def test_missing_shop_id_is_malformed() -> None:
    """An envelope without shop_id names the missing field."""
    with pytest.raises(MalformedNotification, match="envelope is malformed: shop_id"):
        parse_notification(b'{"type":1,"timestamp":1700000100,"data":{}}')


def test_type_1_without_order_id_is_malformed() -> None:
    """Type 1 data must name its order."""
    raw = body(data={"order_status": "UNPAID"})
    with pytest.raises(MalformedNotification, match=r"ORDER_STATUS_CHANGE data.*order_id"):
        parse_notification(raw)


def test_other_topics_parse_without_typed_data() -> None:
    """A topic we do not model (type 3) parses; its data stays a plain dict."""
    notification = parse_notification(body(type=3, data={"order_id": "1", "update_time": 1}))
    assert notification.topic == "RECIPIENT_ADDRESS_UPDATE"
    assert notification.data == {"order_id": "1", "update_time": 1}
    assert notification.order_id == "1"


def test_unknown_topic_number_parses_with_a_placeholder_name() -> None:
    """A topic number without a known name parses and is labelled UNKNOWN_<n>."""
    assert parse_notification(body(type=99, data={})).topic == "UNKNOWN_99"
    assert topic_name(11) == "CANCELLATION_STATUS_CHANGE"


def test_delivery_key_is_the_notification_id() -> None:
    """With tts_notification_id present, it is the dedupe key."""
    notification = parse_notification(ORDER_STATUS_SAMPLE)
    assert delivery_key(ORDER_STATUS_SAMPLE, notification) == "7400000000000000001"


def test_missing_notification_id_falls_back_to_body_hash() -> None:
    """Without tts_notification_id the key is the SHA-256 of the raw body."""
    raw = body(type=3, data={"order_id": "1", "update_time": 1})
    notification = parse_notification(raw)
    assert notification.tts_notification_id is None
    assert delivery_key(raw, notification) == "sha256:" + hashlib.sha256(raw).hexdigest()
