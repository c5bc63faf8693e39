"""The whole product on loopback for end-to-end tests, on a manual clock.

`shopbridge_sandbox.loopback` starts both sandboxes and the bridge; `Stack` adds what tests
need: settling
until nothing moves, advancing time, and reading mirrors and Shopify orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from shopbridge.clock import ManualClock
from shopbridge.engine.worker import RetryPolicy
from shopbridge.store import MirrorRow, Store
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.loopback import DEFAULT_CATALOG, SHOP, Loopback, loopback

CATALOG = DEFAULT_CATALOG
DEBOUNCE_PASSED = timedelta(seconds=1)  # more than a stock push's debounce
__all__ = ["CATALOG", "SHOP", "Stack", "running_stack"]


@dataclass
class Stack:
    """A running `Loopback` (its attributes read through) with test helpers."""

    world: Loopback

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)

    async def settle(self, rounds: int = 40) -> None:
        """Let timers, webhooks and the worker run until nothing moves; stock pushes waiting
        out their debounce get the second they need."""
        quiet = 0
        async with httpx.AsyncClient() as http:
            for _ in range(rounds):
                await http.post(f"{self.tiktok_url}/_sandbox/tick")
                await http.post(f"{self.shopify_url}/_sandbox/tick")
                handled = await self.worker.run_until_idle()
                quiet = quiet + 1 if handled == 0 else 0
                if quiet >= 2:
                    if not self.store.stock.due_count(self.connection_id):
                        return
                    self.clock.advance(DEBOUNCE_PASSED)
                    quiet = 0
                await asyncio.sleep(0.02)

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()

    def mirror(self, order_id: str) -> MirrorRow:
        row = self.store.get_mirror(self.connection_id, order_id)
        assert row is not None, f"no mirror for TikTok order {order_id}"
        return row

    def shopify_order(self, order_id: str) -> dict[str, Any]:
        row = self.mirror(order_id)
        assert row.shopify_order_id is not None
        return self.shopify.order(SHOP, row.shopify_order_id)

    def shopify_orders_for(self, order_id: str) -> list[dict[str, Any]]:
        return [o for o in self.shopify.orders(SHOP) if o.get("source_identifier") == order_id]

    async def breaches(self, settled: bool = True) -> list[str]:
        """What the invariant checker finds wrong, as readable lines for assertions."""
        return [str(b) for b in await self.world.breaches(settled)]

    def timeline(self, order_id: str) -> list[str]:
        return [entry.summary for entry in self.store.timeline(self.mirror(order_id).id)]


@asynccontextmanager
async def running_stack(
    store: Store,
    clock: ManualClock,
    faults: Faults | None = None,
    holdback_minutes: int = 60,
    region: str = "US",
    shopify_faults: Faults | None = None,
    reconcile_every: timedelta | None = None,
    stock: int | None = None,
    plan: str = "standard",
    tiktok_warehouses: tuple[str, ...] = (),
) -> AsyncIterator[Stack]:
    catalog = {sku: (price, stock or units) for sku, (price, units) in CATALOG.items()}
    async with loopback(
        store,
        clock,
        catalog=catalog,
        tiktok_faults=faults,
        shopify_faults=shopify_faults,
        region=region,
        tiktok_warehouses=tiktok_warehouses,
        holdback_minutes=holdback_minutes,
        plan=plan,
        worker_options={
            "worker_id": "e2e",
            "retry": RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=10)),
            "seed": 3,
            "reconcile_every": reconcile_every,
        },
    ) as world:
        yield Stack(world)
