"""What TikTok Shop says about one order: a snapshot, as read from its API.

Line items arrive one unit each (TikTok has no quantity field, tiktok_shop_api.md §3.2). A
snapshot holds them both ways: grouped by SKU (`lines`, what the Shopify order is made of) and
one by one (`units`, each with its own status and package), so any subset of an order can be
cancelled, shipped or returned on its own (tiktok wave2 §4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


# A unit's own status once its package left (display_status, tiktok_shop_api.md §3.2).
UNIT_SHIPPED = frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"})


@dataclass(frozen=True)
class OrderLine:
    """All units of one SKU (at one price) in the order."""

    seller_sku: str
    sku_id: str
    product_name: str
    quantity: int
    unit_price: Money
    unit_ids: tuple[str, ...] = ()  # the TikTok line items (one per unit) behind this line


@dataclass(frozen=True)
class Unit:
    """One TikTok line item: one unit of one SKU, cancelled, packed and shipped on its own."""

    line_item_id: str
    seller_sku: str
    sku_id: str = ""
    status: str = ""  # TikTok's display_status of this unit
    cancel_user: str | None = None  # BUYER | SELLER | OPERATOR | SYSTEM, once cancelled
    package_id: str | None = None  # set once packed (combined or split) or shipped

    @property
    def cancelled(self) -> bool:
        return self.status.upper() in ("CANCELLED", "CANCEL")

    @property
    def shipped(self) -> bool:
        return self.status.upper() in UNIT_SHIPPED

    @property
    def progress(self) -> int:
        """How far along its one-way path the unit is: live, shipped, cancelled."""
        return 2 if self.cancelled else 1 if self.shipped else 0


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
    units: tuple[Unit, ...] = ()
    combined: bool = False  # TikTok packed it with other orders of the buyer (COMBINED)

    @property
    def is_paid(self) -> bool:
        return self.paid_time is not None and self.status not in (
            TikTokStatus.UNPAID,
            TikTokStatus.CANCELLED,
        )

    def is_newer_than(self, other: TikTokOrder | None) -> bool:
        """Apply by TikTok's update time, then by status rank, then by how far the units got;
        never by arrival order (rule 9)."""
        if other is None:
            return True
        mine, theirs = (self.update_time, self.status.rank), (other.update_time, other.status.rank)
        return mine > theirs or (mine == theirs and self._units_moved_on(other))

    def _units_moved_on(self, other: TikTokOrder) -> bool:
        """A read of the same moment that shows the units further on. TikTok's update time has
        one-second resolution and may not move when it cancels a unit or repacks the order
        (UNCONFIRMED). A unit never comes back from cancelled or shipped, so a read that shows
        one more cancelled or shipped unit, or other packages and nothing undone, is later."""
        if [u.line_item_id for u in self.units] != [u.line_item_id for u in other.units]:
            return False
        pairs = list(zip(self.units, other.units, strict=True))
        if any(new.progress < old.progress for new, old in pairs):
            return False
        return any(
            new.progress > old.progress or new.package_id != old.package_id for new, old in pairs
        )

    @property
    def live_units(self) -> tuple[Unit, ...]:
        if self.status is TikTokStatus.CANCELLED:
            return ()
        return tuple(u for u in self.units if not u.cancelled)

    @property
    def cancelled_unit_ids(self) -> frozenset[str]:
        """Units TikTok cancelled: all of them once the order is (whatever the units say)."""
        everything = self.status is TikTokStatus.CANCELLED
        return frozenset(u.line_item_id for u in self.units if everything or u.cancelled)

    def unit(self, line_item_id: str) -> Unit | None:
        return next((u for u in self.units if u.line_item_id == line_item_id), None)

    def live_lines(self) -> tuple[OrderLine, ...]:
        """The lines without their cancelled units: what Shopify should hold for this order."""
        gone = self.cancelled_unit_ids
        if not gone:
            return self.lines
        kept: list[OrderLine] = []
        for line in self.lines:
            alive = tuple(i for i in line.unit_ids if i not in gone)
            if alive or not line.unit_ids:
                kept.append(
                    replace(line, quantity=len(alive), unit_ids=alive) if line.unit_ids else line
                )
        return tuple(kept)
