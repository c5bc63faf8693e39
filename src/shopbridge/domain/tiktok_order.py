"""What TikTok Shop says about one order: a snapshot, as read from its API.

Line items arrive one unit each (TikTok has no quantity field, tiktok_shop_api.md §3.2);
a snapshot holds them grouped by SKU.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shopbridge.domain.money import Money


class TikTokStatus(StrEnum):
    UNPAID = "UNPAID"
    ON_HOLD = "ON_HOLD"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    PARTIALLY_SHIPPING = "PARTIALLY_SHIPPING"
    AWAITING_COLLECTION = "AWAITING_COLLECTION"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"

    @classmethod
    def parse(cls, value: str) -> TikTokStatus | None:
        """The status for an API or webhook string; webhooks may spell it `CANCEL` (§2.5)."""
        normalized = value.strip().upper()
        if normalized == "CANCEL":
            return cls.CANCELLED
        try:
            return cls(normalized)
        except ValueError:
            return None

    @property
    def rank(self) -> int:
        """Position along TikTok's one-way status path; CANCELLED is terminal and ranks last."""
        return _RANK[self]


_RANK = {status: index for index, status in enumerate(TikTokStatus)}

# Statuses in which the order is paid and past TikTok's on-hold phase.
SHIPPABLE = frozenset(
    {
        TikTokStatus.AWAITING_SHIPMENT,
        TikTokStatus.PARTIALLY_SHIPPING,
        TikTokStatus.AWAITING_COLLECTION,
        TikTokStatus.IN_TRANSIT,
        TikTokStatus.DELIVERED,
        TikTokStatus.COMPLETED,
    }
)


@dataclass(frozen=True)
class OrderLine:
    """All units of one SKU in the order."""

    seller_sku: str
    sku_id: str
    product_name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True)
class Address:
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class TikTokOrder:
    order_id: str
    status: TikTokStatus
    update_time: datetime
    create_time: datetime
    paid_time: datetime | None = None
    is_on_hold_order: bool = False
    is_buyer_request_cancel: bool = False
    cancellation_initiator: str | None = None
    cancel_reason: str | None = None
    lines: tuple[OrderLine, ...] = ()
    total: Money | None = None
    shipping_address: Address | None = None
    delivery_option_id: str | None = None

    @property
    def is_paid(self) -> bool:
        return self.paid_time is not None and self.status not in (
            TikTokStatus.UNPAID,
            TikTokStatus.CANCELLED,
        )

    def is_newer_than(self, other: TikTokOrder | None) -> bool:
        """Apply by TikTok's update time, then by status rank; never by arrival order (rule 9)."""
        if other is None:
            return True
        return (self.update_time, self.status.rank) > (other.update_time, other.status.rank)
