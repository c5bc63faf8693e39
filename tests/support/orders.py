"""Small builders for TikTok order snapshots in domain tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shopbridge.domain.money import Money
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus, Unit

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ORDER_ID = "576486316948490001"
PAID_AT = T0 + timedelta(minutes=5)
ADDRESS = Address(
    name="Jane Doe", address1="1 Main St", city="San Jose", zip="95110", country_code="US"
)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def snapshot(
    status: str = "UNPAID",
    *,
    at: datetime = T0,
    paid: datetime | None = None,
    order_id: str = ORDER_ID,
    on_hold: bool = True,
    request_cancel: bool = False,
    initiator: str | None = None,
    reason: str | None = None,
    skus: dict[str, int] | None = None,
) -> TikTokOrder:
    parsed = TikTokStatus.parse(status)
    assert parsed is not None
    lines = tuple(
        OrderLine(
            sku,
            f"17{i:017d}",
            "Tee",
            qty,
            Money.of("19.99", "USD"),
            tuple(unit_id(order_id, i, k) for k in range(qty)),
        )
        for i, (sku, qty) in enumerate((skus or {"TEE-RED-L": 2}).items())
    )
    units = tuple(
        Unit(unit, line.seller_sku, line.sku_id, parsed.value)
        for line in lines
        for unit in line.unit_ids
    )
    shows_address = parsed not in (TikTokStatus.UNPAID, TikTokStatus.ON_HOLD)
    return TikTokOrder(
        order_id=order_id,
        status=parsed,
        update_time=at,
        create_time=T0,
        paid_time=paid,
        is_on_hold_order=on_hold,
        is_buyer_request_cancel=request_cancel,
        cancellation_initiator=initiator,
        cancel_reason=reason,
        lines=lines,
        total=Money.of("39.98", "USD"),
        shipping_address=ADDRESS if shows_address else None,
        delivery_option_id="7091146663229654785",
        units=units,
    )


def unit_id(order_id: str, line: int, k: int) -> str:
    """The TikTok line item id of unit `k` of the order's line `line` in these snapshots."""
    return f"{order_id[-6:]}{line:02d}{k:03d}"
