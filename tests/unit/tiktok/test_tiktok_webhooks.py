"""Reading TikTok push notifications and keying them for dedupe (spec §2.3-2.6)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from shopbridge.tiktok.models import CancelStatus, OrderStatus, ReturnStatus
from shopbridge.tiktok.webhooks import (
    PACKAGE_UPDATE,
    RETURN_STATUS_CHANGE,
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


# Composed from spec §2.7 (types 4 and 12).
PACKAGE_UPDATE_SAMPLE = (
    b'{"type":4,"tts_notification_id":"7400000000000000003","shop_id":"7494049642642441621",'
    b'"timestamp":1700000200,"data":{"sc_type":"COMBINE","role_type":"ROLE_USER",'
    b'"package_list":[{"package_id":"1153000000000000001","order_id_list":["576401","576402"]},'
    b'{"package_id":1153000000000000002,"order_id_list":[576402,"576403"]}],'
    b'"update_time":1700000190}}'
)
RETURN_SAMPLE = (
    b'{"type":12,"tts_notification_id":"7400000000000000004","shop_id":"7494049642642441621",'
    b'"timestamp":1700000300,"data":{"order_id":"576486316948490001","return_role":"BUYER",'
    b'"return_type":"REFUND","return_status":"RETURN_OR_REFUND_REQUEST_PENDING",'
    b'"return_id":"4036123456789012345","create_time":1700000290,"update_time":1700000290}}'
)


def test_package_update_names_every_order_of_every_package() -> None:
    """Type 4: order_ids lists each order of package_list once, in order; ids as strings."""
    notification = parse_notification(PACKAGE_UPDATE_SAMPLE)
    assert (notification.type, notification.topic) == (PACKAGE_UPDATE, "PACKAGE_UPDATE")
    assert notification.order_ids == ("576401", "576402", "576403")
    assert notification.order_id is None
    update = notification.package_update
    assert update is not None
    assert update.sc_type == "COMBINE"
    assert update.package_list[1].package_id == "1153000000000000002"
    assert update.update_time == datetime.fromtimestamp(1700000190, UTC)
    assert notification.return_status_change is None


def test_package_update_with_no_packages_names_no_order() -> None:
    """A type 4 with an empty or missing package_list parses and names nothing to re-read."""
    assert parse_notification(body(type=4, data={"sc_type": "SPLIT"})).order_ids == ()


def test_return_status_change_names_its_order_and_return() -> None:
    """Type 12: the order and the return, which are different ids."""
    notification = parse_notification(RETURN_SAMPLE)
    assert notification.type == RETURN_STATUS_CHANGE
    assert notification.order_ids == ("576486316948490001",)
    assert notification.return_id == "4036123456789012345"
    change = notification.return_status_change
    assert change is not None
    assert change.return_status is ReturnStatus.PENDING
    assert (change.return_type, change.return_role) == ("REFUND", "BUYER")


def test_other_topics_have_their_order_as_order_ids() -> None:
    """order_ids is (order_id,) for the other topics, () when they name none."""
    assert parse_notification(ORDER_STATUS_SAMPLE).order_ids == ("576486316948490001",)
    assert parse_notification(body(type=6, data={"message": "bye"})).order_ids == ()
    assert parse_notification(ORDER_STATUS_SAMPLE).return_id is None


@pytest.mark.parametrize(
    "data",
    [
        {"package_list": {"package_id": "1"}},
        {"package_list": [["1", "2"]]},
        {"package_list": [{"package_id": "1", "order_id_list": "576401"}]},
        {"package_list": [{"package_id": "1", "order_id_list": [1.5]}]},
        {"package_list": [{"package_id": True, "order_id_list": []}]},
        {"package_list": [], "update_time": 10**30},
        {"package_list": [], "update_time": "soon"},
    ],
)
def test_hostile_package_updates_are_malformed(data: dict[str, object]) -> None:
    """Wrong shapes, float ids and impossible times raise MalformedNotification only."""
    with pytest.raises(MalformedNotification, match="PACKAGE_UPDATE data"):
        parse_notification(body(type=4, data=data))


@pytest.mark.parametrize(
    "data",
    [
        {"order_id": "1"},
        {"return_id": "2"},
        {"order_id": "1", "return_id": 2.0},
        {"order_id": ["1"], "return_id": "2"},
        {"order_id": "1", "return_id": "2", "return_status": 7},
        {"order_id": "1", "return_id": "2", "update_time": -(10**20)},
    ],
)
def test_hostile_return_changes_are_malformed(data: dict[str, object]) -> None:
    """A type 12 must name its order and return; anything odd is MalformedNotification."""
    with pytest.raises(MalformedNotification, match="RETURN_STATUS_CHANGE data"):
        parse_notification(body(type=12, data=data))


def test_deeply_nested_package_list_is_malformed() -> None:
    """Nesting past the parser's depth is refused as malformed, not a crash."""
    raw = b'{"type":4,"shop_id":"1","data":{"package_list":' + b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(MalformedNotification):
        parse_notification(raw + b"}}")


def test_order_id_of_an_odd_type_is_none() -> None:
    """An order_id that is an object or a float is no id, for topics we do not type."""
    assert parse_notification(body(type=3, data={"order_id": {"x": 1}})).order_id is None
    assert parse_notification(body(type=3, data={"order_id": 1.0})).order_ids == ()
