"""Return, package and item-cancel payloads parse tolerantly (wave2 §4-6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shopbridge.tiktok.models import (
    Cancellation,
    LineItem,
    Order,
    OrderStatus,
    Package,
    Return,
    ReturnStatus,
)

SEARCH_RETURNS_ENTRY = {
    "return_id": "4036123456789012345",
    "order_id": "576486316948490001",
    "return_type": "RETURN_AND_REFUND",
    "return_status": "AWAITING_BUYER_SHIP",
    "role": "BUYER",
    "create_time": 1700000000,
    "update_time": 1700000100,
    "return_reason": "ecom_order_delivered_refund_and_return_reason_wrong_size",
    "return_reason_text": "Wrong size",
    "return_line_items": [
        {
            "return_line_item_id": 4036000000000000001,
            "order_line_item_id": "577086512123755001",
            "sku_id": 1729382476852921560,
            "seller_sku": "TEE-RED-L",
            "sku_name": "Red, L",
            "product_name": "Tee",
            "refund_amount": {"currency": "USD", "refund_total": "21.59"},
        }
    ],
    "refund_amount": {
        "currency": "USD",
        "refund_total": "21.59",
        "refund_subtotal": "19.99",
        "refund_shipping_fee": "0",
        "refund_tax": "1.60",
    },
    "arbitration_status": "IN_PROGRESS",
}


def test_search_returns_entry_parses() -> None:
    """Ids become strings, money Decimal, statuses known members; extras are kept."""
    record = Return.model_validate(SEARCH_RETURNS_ENTRY)
    assert record.return_status is ReturnStatus.AWAITING_BUYER_SHIP
    assert record.line_item_ids == ("577086512123755001",)
    item = record.return_line_items[0]
    assert (item.return_line_item_id, item.sku_id) == ("4036000000000000001", "1729382476852921560")
    assert item.refund_amount is not None and item.refund_amount.refund_total == Decimal("21.59")
    assert record.refund_amount is not None and record.refund_amount.refund_tax == Decimal("1.60")
    assert record.model_extra == {"arbitration_status": "IN_PROGRESS"}


def test_a_bare_return_parses_with_defaults() -> None:
    """Only the two ids are needed; everything else defaults."""
    record = Return.model_validate({"return_id": 1, "order_id": 2})
    assert (record.return_status, record.return_line_items, record.refund_amount) == ("", [], None)
    assert record.deadline is None and record.create_time is None


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("REPLACEMENT_REQUEST_PENDING", "REPLACEMENT_REQUEST_PENDING"),
        ("RETURN_OR_REFUND__REQUEST_CANCELLED", ReturnStatus.CANCELLED),
        ("REFUND_OR_RETURN_REQUEST_REJECT", ReturnStatus.REJECTED),
    ],
)
def test_return_status_spellings(sent: str, read: str) -> None:
    """Unknown statuses stay text; the webhook page's double-underscore spelling is CANCEL."""
    record = Return.model_validate({"return_id": "1", "order_id": "2", "return_status": sent})
    assert record.return_status == read


def test_a_return_without_its_id_is_refused() -> None:
    """A return without return_id cannot be acted on: a validation error, not a guess."""
    with pytest.raises(ValidationError):
        Return.model_validate({"order_id": "2"})


def test_cancellation_lists_the_units_it_cancels() -> None:
    """cancel_line_items name the order line items of an item-level cancel."""
    record = Cancellation.model_validate(
        {
            "cancel_id": "1",
            "order_id": "2",
            "cancel_line_items": [
                {"order_line_item_id": 5770001, "sku_id": 17293, "seller_sku": "TEE"},
                {"order_line_item_id": "5770002"},
            ],
        }
    )
    assert record.line_item_ids == ("5770001", "5770002")
    assert record.cancel_line_items[0].sku_id == "17293"


def test_order_reads_packages_tag_and_cancelled_units() -> None:
    """split_or_combine_tag, packages[{id}] and a unit's CANCEL(LED) display status."""
    order = Order.model_validate(
        {
            "id": "1",
            "status": "AWAITING_SHIPMENT",
            "split_or_combine_tag": "COMBINED",
            "packages": [{"id": 1153}],
            "line_items": [
                {"id": "a", "display_status": "CANCEL", "cancel_user": "SELLER"},
                {"id": "b", "display_status": "AWAITING_SHIPMENT", "package_id": 1153},
            ],
        }
    )
    assert order.split_or_combine_tag == "COMBINED"
    assert [p.id for p in order.packages] == ["1153"]
    cancelled, live = order.line_items
    assert cancelled.cancelled and cancelled.display_status is OrderStatus.CANCELLED
    assert not live.cancelled and live.package_id == "1153"
    assert Order.model_validate({"id": "2", "status": "UNPAID"}).split_or_combine_tag is None


def test_line_item_reads_shipping_fields() -> None:
    """Once shipped a unit carries its carrier's name and its rts_time."""
    item = LineItem.model_validate(
        {"id": "a", "shipping_provider_name": "UPS", "rts_time": 1700000000}
    )
    assert item.shipping_provider_name == "UPS"
    assert item.rts_time is not None


def test_pre_shipping_package_parses_with_empty_carrier() -> None:
    """A package TikTok made before shipping has empty tracking fields; they read as given."""
    package = Package.model_validate(
        {"package_id": "1", "package_status": "TO_FULFILL", "shipping_provider_id": ""}
    )
    assert (package.order_ids, package.shipping_provider_id) == ((), "")
