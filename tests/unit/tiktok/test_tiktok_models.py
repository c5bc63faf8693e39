"""The payload models tolerate what TikTok really sends (spec §2.3, §3.2, §4.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shopbridge.tiktok.models import (
    Cancellation,
    CancelStatus,
    Order,
    OrderStatus,
    TokenSet,
)

# The composed example of spec §3.2.
SPEC_ORDER: dict[str, Any] = {
    "id": "576486316948490001",
    "status": "AWAITING_SHIPMENT",
    "is_on_hold_order": True,
    "create_time": 1700000000,
    "paid_time": 1700000030,
    "update_time": 1700003631,
    "fulfillment_type": "FULFILLMENT_BY_SELLER",
    "shipping_type": "SELLER",
    "delivery_option_id": "7091146663229654785",
    "payment": {
        "currency": "USD",
        "sub_total": "39.98",
        "shipping_fee": "0",
        "tax": "3.20",
        "total_amount": "43.18",
        "original_total_product_price": "39.98",
        "seller_discount": "0",
        "platform_discount": "0",
    },
    "recipient_address": {
        "name": "Jane Doe",
        "address_line1": "1 Main St",
        "postal_code": "95110",
        "region_code": "US",
        "phone_number": "(+1)213***1234",
        "district_info": [
            {
                "address_level": "L0",
                "address_level_name": "Country",
                "address_name": "United States",
            },
            {"address_level": "L1", "address_level_name": "State", "address_name": "California"},
        ],
    },
    "line_items": [
        {
            "id": "577086512123755001",
            "sku_id": "1729382476852921560",
            "seller_sku": "TEE-RED-L",
            "product_id": "1729582718312380123",
            "product_name": "Tee",
            "sku_name": "Red, L",
            "original_price": "19.99",
            "sale_price": "19.99",
            "display_status": "AWAITING_SHIPMENT",
        },
        {
            "id": "577086512123755002",
            "sku_id": "1729382476852921560",
            "seller_sku": "TEE-RED-L",
            "product_id": "1729582718312380123",
            "product_name": "Tee",
            "sku_name": "Red, L",
            "original_price": "19.99",
            "sale_price": "19.99",
            "display_status": "AWAITING_SHIPMENT",
        },
    ],
    "cancel_order_sla_time": 1700259200,
    "rts_sla_time": 1700259200,
    "tts_sla_time": 1700345600,
    "buyer_email": "v2b2V5@scs.tiktok.com",
}


def order(**changes: object) -> Order:
    return Order.model_validate({**SPEC_ORDER, **changes})


def test_spec_example_order_parses() -> None:
    """The §3.2 example reads into typed fields: status, times, money, address."""
    parsed = order()
    assert parsed.status is OrderStatus.AWAITING_SHIPMENT
    assert parsed.paid_time == datetime(2023, 11, 14, 22, 13, 50, tzinfo=UTC)
    assert parsed.payment.total_amount == Decimal("43.18")
    assert parsed.currency == "USD"
    assert parsed.recipient_address is not None
    assert parsed.recipient_address.district("State") == "California"


def test_address_names_state_and_city_by_level() -> None:
    """State is the L1 division; city is the division named City, else the UK post town."""
    us = order().recipient_address
    assert us is not None
    assert (us.state, us.level("L0"), us.city) == ("California", "United States", None)
    uk = order(
        recipient_address={
            "post_town": "London",
            "district_info": [
                {
                    "address_level": "L1",
                    "address_level_name": "County",
                    "address_name": "Greater London",
                }
            ],
        }
    ).recipient_address
    assert uk is not None
    assert (uk.state, uk.city) == ("Greater London", "London")


def test_numeric_ids_become_exact_strings() -> None:
    """64-bit ids sent as JSON numbers are kept digit for digit as strings."""
    item = {**SPEC_ORDER["line_items"][0], "id": 577086512123755001}
    item["sku_id"] = 1729382476852921560
    parsed = order(id=576486316948490001, delivery_option_id=7091146663229654785, line_items=[item])
    assert parsed.id == "576486316948490001"
    assert parsed.delivery_option_id == "7091146663229654785"
    assert parsed.line_items[0].id == "577086512123755001"
    assert parsed.line_items[0].sku_id == "1729382476852921560"


def test_float_id_is_refused() -> None:
    """An id that arrived as a float has lost digits, so it is rejected, not rounded."""
    with pytest.raises(ValidationError, match="id must be a string or an integer"):
        order(id=5.764863169484900e17)


def test_webhook_spelling_cancel_reads_as_cancelled() -> None:
    """Order status `CANCEL` (webhook sample spelling) is the same as `CANCELLED`."""
    assert order(status="CANCEL").status is OrderStatus.CANCELLED
    assert order(status="CANCELLED").status is OrderStatus.CANCELLED


def test_unknown_order_status_is_kept_as_text() -> None:
    """A status TikTok adds later is kept as a plain string, not an error."""
    parsed = order(status="AWAITING_PICKUP_SOMEDAY")
    assert parsed.status == "AWAITING_PICKUP_SOMEDAY"
    assert not isinstance(parsed.status, OrderStatus)


def test_unknown_fields_are_kept() -> None:
    """Fields the model does not declare survive in model_extra."""
    parsed = order(brand_new_field={"x": 1})
    assert parsed.model_extra is not None
    assert parsed.model_extra["brand_new_field"] == {"x": 1}
    assert parsed.model_extra["buyer_email"] == "v2b2V5@scs.tiktok.com"


@pytest.mark.parametrize("address", [{}, None])
def test_empty_or_null_address_is_none(address: object) -> None:
    """An ON_HOLD order's empty or null recipient_address reads as no address."""
    assert order(status="ON_HOLD", recipient_address=address).recipient_address is None


def test_missing_address_is_none() -> None:
    """An order without recipient_address parses with no address."""
    document = {k: v for k, v in SPEC_ORDER.items() if k != "recipient_address"}
    assert Order.model_validate(document).recipient_address is None


def test_zero_time_means_not_set() -> None:
    """TikTok's 0 for an unset time becomes None; set times are aware UTC."""
    parsed = order(cancel_time=0, update_time="1700003631")
    assert parsed.cancel_time is None
    assert parsed.update_time is not None
    assert parsed.update_time.tzinfo is UTC


def test_numeric_money_keeps_its_decimal_text() -> None:
    """An amount sent as a JSON number becomes the Decimal of its shortest text."""
    assert order(payment={"currency": "USD", "total_amount": 43.18}).payment.total_amount == (
        Decimal("43.18")
    )


def test_quantities_by_sku_count_one_unit_per_line_item() -> None:
    """Two line items of TEE-RED-L mean a quantity of two."""
    assert order().quantities_by_sku() == {"TEE-RED-L": 2}


def test_sku_quantities_keep_unit_price_and_line_ids() -> None:
    """Units of one SKU at different prices form separate groups, each with its line ids."""
    first, second = SPEC_ORDER["line_items"]
    discounted = {**second, "sale_price": "15.00"}
    (full, cheap) = order(line_items=[first, discounted]).sku_quantities()
    assert (full.seller_sku, full.quantity, full.unit_price) == ("TEE-RED-L", 1, Decimal("19.99"))
    assert full.product_name == "Tee"
    assert (cheap.quantity, cheap.unit_price, cheap.currency) == (1, Decimal("15.00"), "USD")
    assert cheap.line_item_ids == ("577086512123755002",)


def test_line_item_without_seller_sku_counts_under_sku_id() -> None:
    """A SKU the seller gave no code is counted under TikTok's sku_id."""
    item = {"id": "1", "sku_id": "1729382476852921560", "seller_sku": ""}
    assert order(line_items=[item]).quantities_by_sku() == {"1729382476852921560": 1}


def test_cancellation_deadline_comes_from_seller_next_action() -> None:
    """The respond-by deadline is read from seller_next_action_response."""
    record = Cancellation.model_validate(
        {
            "cancel_id": 4035318504086604100,
            "order_id": "576486316948490001",
            "cancel_type": "BUYER_CANCEL",
            "cancel_status": "CANCELLATION_REQUEST_PENDING",
            "role": "BUYER",
            "create_time": 1700003690,
            "seller_next_action_response": [
                {"action": "SELLER_RESPOND_CANCEL", "deadline": 1700176490}
            ],
        }
    )
    assert record.cancel_id == "4035318504086604100"
    assert record.cancel_status is CancelStatus.PENDING
    assert record.deadline == datetime.fromtimestamp(1700176490, UTC)


@pytest.mark.parametrize(
    "spelling", ["CANCELLATION_REQUEST_CANCEL", "CANCELLATION_REQUEST_CANCELLED"]
)
def test_both_cancelled_request_spellings_are_one_status(spelling: str) -> None:
    """`..._CANCEL` (request side) and `..._CANCELLED` (responses) mean the same state."""
    record = Cancellation.model_validate(
        {"cancel_id": "1", "order_id": "2", "cancel_status": spelling}
    )
    assert record.cancel_status is CancelStatus.CANCELLED


def test_cancellation_without_next_action_has_no_deadline() -> None:
    """A closed request with no pending seller action has no deadline."""
    record = Cancellation.model_validate(
        {"cancel_id": "1", "order_id": "2", "cancel_status": "CANCELLATION_REQUEST_SUCCESS"}
    )
    assert record.deadline is None


def test_token_expiry_is_an_absolute_time() -> None:
    """access_token_expire_in is a Unix time, not a duration."""
    tokens = TokenSet.model_validate(
        {
            "access_token": "a",
            "access_token_expire_in": 1700604800,
            "refresh_token": "r",
            "refresh_token_expire_in": 1731536000,
        }
    )
    assert tokens.access_token_expires_at == datetime(2023, 11, 21, 22, 13, 20, tzinfo=UTC)
