"""Reference data a TikTok shop comes with: carriers, delivery options, cancel reasons.

Carrier ids are fixed 19-digit strings so that tests and the carrier mapping can name them;
the UPS id is the one in the Mark Package As Shipped example (tiktok_shop_api.md §4.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ShippingProvider:
    id: str
    name: str
    # TikTok checks that a tracking number fits its carrier (§4.3, §7); these patterns are the
    # carriers' published formats, loosened where they have several.
    tracking_pattern: str = r"[A-Za-z0-9]{8,40}"

    def accepts(self, tracking_number: str) -> bool:
        return re.fullmatch(self.tracking_pattern, tracking_number) is not None


US_PROVIDERS = (
    ShippingProvider("6617675021119438849", "USPS", r"\d{20,22}|[A-Z]{2}\d{9}US"),
    ShippingProvider("7117858858072016686", "UPS", r"1Z[0-9A-Z]{16}"),
    ShippingProvider("6617674840873420806", "FedEx", r"\d{12}|\d{15}|\d{20}|\d{22}"),
    ShippingProvider("7132721393761781506", "DHL eCommerce", r"[A-Za-z0-9]{10,34}"),
    ShippingProvider("7212608507307837189", "OnTrac", r"[A-Z0-9]{12,20}"),
    ShippingProvider("7248600717110282027", "LaserShip", r"[A-Z0-9]{8,30}"),
    ShippingProvider("7129736668648474369", "Amazon Logistics", r"TBA\d{12}"),
    ShippingProvider("7265432109876543210", "Other"),
)

UK_PROVIDERS = (
    ShippingProvider("7208502187360519982", "Royal Mail", r"[A-Z]{2}\d{9}GB|[A-Z0-9]{11,16}"),
    ShippingProvider("7208502187360536366", "Evri", r"[A-Z0-9]{16}"),
    ShippingProvider("7208502187360552750", "DPD", r"\d{10,14}"),
    ShippingProvider("7208502187360569134", "Parcelforce", r"[A-Z]{2}\d{7,9}[A-Z]{0,2}"),
    ShippingProvider("7208502187360585518", "Yodel", r"[A-Z0-9]{12,18}"),
    ShippingProvider("7208502187360601902", "DHL Parcel UK", r"\d{10,14}"),
)


def providers_for(region: str) -> tuple[ShippingProvider, ...]:
    return UK_PROVIDERS if region in ("GB", "UK") else US_PROVIDERS


# Seller cancel reason keys by order status (§4.2, DOCS cancel-reasons.json, US); UK adds "_uk".
_UNPAID_REASONS = (
    "seller_cancel_unpaid_reason_out_of_stock",
    "seller_cancel_unpaid_reason_wrong_price",
    "seller_cancel_unpaid_reason_buyer_hasnt_paid_within_time_allowed",
    "seller_cancel_unpaid_reason_buyer_requested_cancellation",
)
_PAID_REASONS = (
    "seller_cancel_reason_out_of_stock",
    "seller_cancel_reason_wrong_price",
    "seller_cancel_paid_reason_address_not_deliver",
    "seller_cancel_paid_reason_buyer_requested_cancellation",
)


def seller_cancel_reasons(status: str, region: str) -> tuple[str, ...]:
    base = _UNPAID_REASONS if status == "UNPAID" else _PAID_REASONS
    if region in ("GB", "UK"):
        return tuple(f"{key}_uk" for key in base)
    return base


def is_out_of_stock(reason: str) -> bool:
    """Item-level cancels take only the out-of-stock reason (wave2 §4)."""
    return reason.removesuffix("_uk") in (_UNPAID_REASONS[0], _PAID_REASONS[0])


REJECT_REASONS = (
    "order_manage_list_action_respond_popup_reject_reason_invalid_cancellation_reason",
    "order_manage_list_action_respond_popup_reject_reason_delivered",
    "order_manage_list_action_respond_popup_reject_reason_buyer_agree",
    "seller_reject_apply_product_has_been_packed",
)

BUYER_CANCEL_REASON = "ecom_order_to_ship_canceled_reason_created_by_mistakes"
UNPAID_TIMEOUT_REASON = "system_cancel_unpaid_time_out"
FRAUD_REASON = "system_cancel_anti_span_block"


def sample_address(region: str) -> dict[str, Any]:
    """The buyer's address, revealed once the order leaves UNPAID and ON_HOLD (§3.2)."""
    if region in ("GB", "UK"):
        return {
            "name": "Alex Smith",
            "first_name": "Alex",
            "last_name": "Smith",
            "phone_number": "(+44)7700***123",
            "address_line1": "10 Downing Street",
            "address_line2": "",
            "postal_code": "SW1A 2AA",
            "post_town": "London",
            "region_code": "GB",
            "full_address": "10 Downing Street, London, SW1A 2AA, United Kingdom",
            "district_info": [
                {"address_level": "L0", "address_level_name": "Country", "address_name": "UK"},
                {"address_level": "L1", "address_level_name": "County", "address_name": "London"},
            ],
        }
    return {
        "name": "Jane Doe",
        "first_name": "Jane",
        "last_name": "Doe",
        "phone_number": "(+1)213***1234",
        "address_line1": "1 Main St",
        "address_line2": "Apt 4",
        "postal_code": "95110",
        "region_code": region,
        "full_address": "1 Main St, Apt 4, San Jose, California, 95110, United States",
        "district_info": [
            {"address_level": "L0", "address_level_name": "Country", "address_name": "US"},
            {"address_level": "L1", "address_level_name": "State", "address_name": "California"},
            {"address_level": "L3", "address_level_name": "City", "address_name": "San Jose"},
        ],
    }
