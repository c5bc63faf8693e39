"""A merchant's morning on the live stack: one order in each state the orders list can show.

Built through the sandboxes and the real worker only (no rows written by hand), so what the
browser sees is what a running shopbridge would show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from browser.live import LiveStack
from support.stack import SHOP, Stack

UPS_TRACKING = "1Z999AA10123456784"
UNKNOWN_CARRIER = "Bonshaw Freight"
TIMEZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class Morning:
    """TikTok order ids by the state the scripted morning left them in."""

    fulfilled: str
    unknown_carrier: str
    ready: str
    requested: str
    cancelled: str
    in_holdback: str
    unpaid: str


def _paid_order(live: LiveStack, items: dict[str, int]) -> str:
    """A paid TikTok order, mirrored before the clock moves on (as a running worker would)."""
    order_id = live.call(lambda s: s.tiktok.create_order(s.shop_id, items, paid=True))
    live.settle()
    return order_id


def _fulfil(live: LiveStack, order_id: str, company: str) -> None:
    def fulfil(stack: Stack) -> None:
        gid = stack.mirror(order_id).shopify_order_id
        assert gid is not None
        stack.shopify.fulfill_order(SHOP, gid, company=company, number=UPS_TRACKING)

    live.call(fulfil)


def play_morning(live: LiveStack) -> Morning:
    """09:00–10:30 UTC on 2 Nov 2026, in a shop whose merchant reads Pacific time."""
    live.call(lambda s: s.store.update_connection(s.connection_id, timezone=TIMEZONE))
    minutes = timedelta(minutes=5)
    fulfilled = _paid_order(live, {"TEE-RED-L": 1})
    live.advance(minutes)
    unknown_carrier = _paid_order(live, {"MUG-BLUE": 2})
    live.advance(minutes)
    ready = _paid_order(live, {"MUG-BLUE": 1, "TEE-RED-L": 1})
    live.advance(minutes)
    requested = _paid_order(live, {"TEE-RED-L": 2})
    live.advance(minutes)
    cancelled = _paid_order(live, {"MUG-BLUE": 1})
    live.advance(2 * minutes)
    live.call(lambda s: s.tiktok.buyer_cancel(cancelled))  # inside the holdback: row 4a
    live.advance(timedelta(minutes=50))  # 10:20: the first four are released (row 4b)
    _fulfil(live, fulfilled, "UPS")
    _fulfil(live, unknown_carrier, UNKNOWN_CARRIER)
    live.call(lambda s: s.tiktok.request_cancellation(requested))
    live.advance(minutes)
    in_holdback = _paid_order(live, {"TEE-RED-L": 1})
    live.advance(minutes)
    unpaid = live.call(lambda s: s.tiktok.create_order(s.shop_id, {"MUG-BLUE": 1}))
    live.settle()
    return Morning(fulfilled, unknown_carrier, ready, requested, cancelled, in_holdback, unpaid)
