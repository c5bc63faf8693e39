"""Whatever buyers, payments and the clock do, stock and status history stay consistent."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbridge.clock import ManualClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.tiktok import NotFound, SandboxError, SkuSpec, TikTokSandbox

ALLOWED = {
    "UNPAID": {"ON_HOLD", "AWAITING_SHIPMENT", "CANCEL"},
    "ON_HOLD": {"AWAITING_SHIPMENT", "CANCEL"},
    "AWAITING_SHIPMENT": {"CANCEL"},
}
STOCK = 6

actions = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(1, 3), st.booleans(), st.booleans()),
        st.tuples(
            st.sampled_from(
                ["pay", "fail_payment", "buyer_cancel", "fraud_cancel", "request_cancellation"]
            ),
            st.integers(0, 5),
        ),
        st.tuples(st.just("advance"), st.sampled_from([60, 1800, 3600, 7200, 86400, 172800])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_stock_and_status_history_stay_consistent(steps: list[tuple[object, ...]]) -> None:
    """Units are either on sale or held by a live order, and each order's webhook history
    is a legal path of §3.1 ending in the status the API reports."""
    clock = ManualClock()
    sandbox = TikTokSandbox(clock=clock, faults=Faults(seed=3))
    shop = sandbox.add_shop()
    sandbox.add_product(shop.shop_id, "Tee", [SkuSpec("TEE", "10.00", STOCK)])
    orders: list[str] = []
    for step in steps:
        try:
            if step[0] == "create":
                _, units, paid, on_hold = step
                orders.append(
                    sandbox.create_order(
                        shop.shop_id,
                        {"TEE": int(units)},
                        paid=bool(paid),
                        on_hold_flow=bool(on_hold),
                    )
                )
            elif step[0] == "advance":
                clock.advance(timedelta(seconds=int(step[1])))
            elif orders:
                getattr(sandbox, str(step[0]))(orders[int(step[1]) % len(orders)])
        except (SandboxError, NotFound):
            pass
    views = [sandbox.order(order_id) for order_id in orders]
    held = sum(len(v["line_items"]) for v in views if v["status"] != "CANCELLED")
    assert sandbox.inventory(shop.shop_id, "TEE") + held == STOCK
    for view in views:
        history = [
            n["data"]
            for n in sandbox.notifications
            if n["type"] == 1 and n["data"]["order_id"] == view["id"]
        ]
        statuses = [h["order_status"] for h in history]
        assert statuses[0] == "UNPAID"
        for before, after in itertools.pairwise(statuses):
            assert after in ALLOWED[before], statuses
        assert statuses[-1] == ("CANCEL" if view["status"] == "CANCELLED" else view["status"])
        times = [h["update_time"] for h in history]
        assert times == sorted(times)
        # A buyer request moves update_time without a status change, so only "at most".
        assert times[-1] <= view["update_time"]
