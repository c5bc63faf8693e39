"""The oversell rehearsal: one SKU sells out on Shopify's storefront and on TikTok at once.

Shopify holds `units`; TikTok shows what the stock rules give. TikTok buyers order one unit at a
time at `tiktok_per_second` (TikTok refuses them once it shows 0) while the storefront sells one
unit at a time at `storefront_per_second` (Shopify's checkout refuses once it has none), all over
HTTP, with shopbridge's worker running against both sandboxes in real time. When both channels
refuse, the rehearsal waits for every TikTok order to be reserved and counts what was sold:
every unit beyond `units` was oversold (a TikTok buyer paid for stock that was gone).

Used by `bench/stock_sync.py` (figures) and by an end-to-end test (0 oversold by default).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shopbridge.clock import SystemClock
from shopbridge.domain.stock import StockRule
from shopbridge.store import Store
from shopbridge_sandbox.driver import Refused
from shopbridge_sandbox.loopback import loopback

SKU = "LAST-UNITS"
PRICE = "25.00"


@dataclass
class OversellResult:
    units: int
    buffer: int
    tiktok_sold: int = 0
    storefront_sold: int = 0
    tiktok_refused: int = 0
    storefront_refused: int = 0
    shopify_available: int = 0  # after every TikTok order was reserved
    # Seconds TikTok kept selling after the last unit was gone (0: it stopped in time).
    tiktok_after_sold_out: float = 0.0
    seconds: float = 0.0
    sales: list[tuple[float, str]] = field(default_factory=list)  # (seconds, channel)

    @property
    def oversold(self) -> int:
        return max(0, self.tiktok_sold + self.storefront_sold - self.units)

    def line(self) -> str:
        return (
            f"buffer {self.buffer}: {self.units} units, TikTok sold {self.tiktok_sold}, "
            f"storefront sold {self.storefront_sold}, oversold {self.oversold}, Shopify "
            f"available after {self.shopify_available}, TikTok kept selling "
            f"{self.tiktok_after_sold_out:.2f} s after the last unit was gone "
            f"({self.seconds:.1f} s)"
        )


async def rehearse_oversell(
    store: Store,
    *,
    units: int = 50,
    buffer: int = 2,
    tiktok_per_second: float = 5.0,
    storefront_per_second: float = 2.0,
    give_up_after: float = 120.0,
) -> OversellResult:
    result = OversellResult(units, buffer)
    clock = SystemClock()
    options = {"worker_id": "oversell", "reconcile_every": None}
    async with loopback(
        store, clock, catalog={SKU: (PRICE, units)}, worker_options=options
    ) as world:
        cid = world.connection_id
        store.stock.save_rule(cid, "", StockRule(buffer_units=buffer))
        store.stock.mark(cid, [SKU])
        stop = asyncio.Event()
        worker = asyncio.create_task(world.worker.run(stop, idle_seconds=0.02))
        try:
            await _until(
                lambda: world.tiktok.inventory(world.shop_id, SKU) == max(0, units - buffer),
                give_up_after,
                "TikTok never showed the starting count",
            )
            started = time.monotonic()
            sold_out_at: list[float] = []

            def sold(channel: str) -> None:
                at = time.monotonic() - started
                result.sales.append((at, channel))
                if len(result.sales) == units:
                    sold_out_at.append(at)

            async def tiktok_buyers() -> None:
                refused_in_a_row = 0
                while refused_in_a_row < 5 and time.monotonic() - started < give_up_after:
                    try:
                        await world.tiktok_driver.create_order(world.shop_id, {SKU: 1})
                        result.tiktok_sold += 1
                        sold("tiktok")
                        refused_in_a_row = 0
                    except Refused:
                        result.tiktok_refused += 1
                        refused_in_a_row += 1
                    await asyncio.sleep(1 / tiktok_per_second)

            async def storefront_buyers() -> None:
                refused_in_a_row = 0
                while refused_in_a_row < 3 and time.monotonic() - started < give_up_after:
                    try:
                        await world.shopify_driver.sell(world.shop_name, SKU)
                        result.storefront_sold += 1
                        sold("storefront")
                        refused_in_a_row = 0
                    except Refused:
                        result.storefront_refused += 1
                        refused_in_a_row += 1
                    await asyncio.sleep(1 / storefront_per_second)

            await asyncio.gather(tiktok_buyers(), storefront_buyers())
            result.seconds = time.monotonic() - started
            await _until(
                lambda: (
                    all(row.phase != "new" for row in store.list_mirrors(cid, limit=10 * units))
                    and len(store.list_mirrors(cid, limit=10 * units)) == result.tiktok_sold
                ),
                give_up_after,
                "TikTok orders were never all reserved",
            )
            result.shopify_available = world.shopify.inventory(world.shop_name, SKU)["available"]
            if sold_out_at:
                late = [at for at, channel in result.sales if channel == "tiktok"]
                after = [at - sold_out_at[0] for at in late if at > sold_out_at[0]]
                result.tiktok_after_sold_out = max(after, default=0.0)
        finally:
            stop.set()
            await worker
    return result


async def _until(condition: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(why)
        await asyncio.sleep(0.05)
