"""Flash sale: TikTok orders reserved in Shopify as fast as a Standard shop's bucket allows.

Both sandboxes and the bridge on loopback, over HTTP, with the wall clock: a Standard-plan
Shopify shop (bucket 2,000 points, restoring 100 a second) and N TikTok orders placed evenly
over S seconds (default 1,000 in 60 s). Each order's *reservation lag* is the time from TikTok
creating it to shopbridge having created and held its Shopify order (the outbox action's
finish). Nothing can beat the bucket: with P points per reservation the k-th order cannot be
reserved before (P × k − bucket) / 100 s into the sale, so each order's lag has a lower bound;
the script prints the measured lags next to that bound computed at the **minimum** P = 20
(orderCreate + fulfillmentOrderHold), and the points each reservation really spent.

Two runs, in the same command:
- **plain**: only the sale;
- **releases due**: 100 paid orders were reserved before the sale and their holdback ends at
  its first instant (the clock jumps past it), so 100 releases (30 points each) compete with
  the sale for the bucket. Reservations go first (claimed first, and other calls leave them a
  share of the bucket), so this run's p99 should stay within 5 % of the plain one.

    .venv/bin/python bench/flash_sale.py                       # 1,000 orders in 60 s
    .venv/bin/python bench/flash_sale.py --orders 300 --seconds 18 --releases 30

Figures, never pass/fail on time; the exit status is 1 only if an order was not reserved, a
release did not happen, or Shopify answered THROTTLED to the client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.tables import order_mirrors, outbox
from shopbridge_sandbox.loopback import Loopback, loopback

SKU = "TEE-RED-L"
MIN_RESERVE_POINTS = 20  # orderCreate + fulfillmentOrderHold, 10 each
RESERVE_OPERATIONS = frozenset({"CreateOrder", "HoldFulfillmentOrder"})
HOLDBACK = timedelta(minutes=60)


class JumpClock:
    """The wall clock, plus an offset the benchmark can move forward (to end a holdback)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def jump(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Run:
    name: str
    lags: list[float] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    reserve_points: float = 0.0
    other_points: Counter[str] = field(default_factory=Counter)
    releases_done: int = 0
    releases_wanted: int = 0
    throttled: int = 0
    took: float = 0.0
    errors: list[str] = field(default_factory=list)


async def sale(orders: int, seconds: float, releases: int, concurrency: int) -> Run:
    run = Run("releases due" if releases else "plain", releases_wanted=releases)
    clock = JumpClock()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'flash.sqlite3'}"
    upgrade_database(url)
    store = Store(create_db_engine(url), clock, SecretBox(SecretBox.generate_key()))
    catalog = {SKU: ("19.99", orders + releases + 1000)}
    options = {"concurrency": concurrency, "reconcile_every": None}
    async with loopback(store, clock, catalog=catalog, worker_options=options) as world:
        stop = asyncio.Event()
        worker = asyncio.create_task(world.worker.run(stop, idle_seconds=0.05))
        try:
            await _run_sale(world, clock, run, orders, seconds, releases)
        finally:
            stop.set()
            await worker
    return run


async def _run_sale(
    world: Loopback, clock: JumpClock, run: Run, orders: int, seconds: float, releases: int
) -> None:
    bucket = world.shopify.bucket(world.shop_name)
    early = [world.tiktok.create_order(world.shop_id, {SKU: 1}, paid=True) for _ in range(releases)]
    await _until(lambda: _reserved(world, early) == len(early), within=120 + releases)
    await _until(lambda: _backlog(world) == 0, within=120)
    await _until(lambda: bucket.status()["currentlyAvailable"] >= bucket.maximum - 5, within=60)
    clock.jump(HOLDBACK + timedelta(minutes=1))  # the early orders' holdbacks end now
    level = float(bucket.status()["currentlyAvailable"])
    charges_before = len(bucket.charges)
    throttled_before = bucket.throttled

    created: dict[str, float] = {}  # TikTok order -> seconds into the sale
    start = time.perf_counter()
    for k in range(orders):
        due = k * seconds / orders
        delay = due - (time.perf_counter() - start)
        if delay > 0:
            await asyncio.sleep(delay)
        order_id = world.tiktok.create_order(world.shop_id, {SKU: 1})
        created[order_id] = time.perf_counter() - start
    wanted = list(created)
    limit = 3 * (MIN_RESERVE_POINTS * orders) / bucket.restore_rate + 120
    await _until(lambda: _reserved(world, wanted) == len(wanted), within=limit)
    run.took = time.perf_counter() - start
    await _until(lambda: _released(world, early) == len(early), within=120 + releases)
    run.releases_done = _released(world, early)

    finished = _finished(world, wanted)
    sale_start = clock.now() - timedelta(seconds=time.perf_counter() - start)
    for k, order_id in enumerate(sorted(wanted, key=created.__getitem__)):
        at = finished.get(order_id)
        if at is None:
            run.errors.append(f"order {order_id} has no finished reservation")
            continue
        run.lags.append((at - sale_start).total_seconds() - created[order_id])
        earliest = (MIN_RESERVE_POINTS * (k + 1) - level) / bucket.restore_rate
        run.bounds.append(max(0.0, earliest - created[order_id]))
    for operation, _requested, actual in list(bucket.charges)[charges_before:]:
        if operation in RESERVE_OPERATIONS:
            run.reserve_points += actual
        else:
            run.other_points[operation] += actual
    run.reserve_points /= max(1, orders)
    run.throttled = bucket.throttled - throttled_before
    if run.releases_done != releases:
        run.errors.append(f"{releases - run.releases_done} release(s) never happened")


def _reserved(world: Loopback, order_ids: list[str]) -> int:
    query = sa.select(sa.func.count()).where(
        order_mirrors.c.connection_id == world.connection_id,
        order_mirrors.c.tiktok_order_id.in_(order_ids),
        order_mirrors.c.shopify_order_id.is_not(None),
    )
    with world.store.engine.connect() as db:
        return int(db.execute(query).scalar_one())


def _released(world: Loopback, order_ids: list[str]) -> int:
    query = sa.select(sa.func.count()).where(
        order_mirrors.c.connection_id == world.connection_id,
        order_mirrors.c.tiktok_order_id.in_(order_ids),
        order_mirrors.c.phase == "released",
    )
    with world.store.engine.connect() as db:
        return int(db.execute(query).scalar_one())


def _backlog(world: Loopback) -> int:
    return sum(v for k, v in world.store.backlog().items() if "failed" not in k)


def _finished(world: Loopback, order_ids: list[str]) -> dict[str, datetime]:
    query = (
        sa.select(order_mirrors.c.tiktok_order_id, sa.func.min(outbox.c.finished_at))
        .join(outbox, outbox.c.order_mirror_id == order_mirrors.c.id)
        .where(
            order_mirrors.c.connection_id == world.connection_id,
            order_mirrors.c.tiktok_order_id.in_(order_ids),
            outbox.c.kind == "create_shopify_order",
            outbox.c.status == "done",
        )
        .group_by(order_mirrors.c.tiktok_order_id)
    )
    with world.store.engine.connect() as db:
        return {
            str(order_id): at if at.tzinfo else at.replace(tzinfo=UTC)
            for order_id, at in db.execute(query)
        }


async def _until(done: Callable[[], bool], within: float) -> None:
    deadline = time.perf_counter() + within
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"still waiting after {within:.0f} s")
        await asyncio.sleep(0.25)


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(runs: list[Run], orders: int, seconds: float) -> None:
    print(
        f"\nFlash sale: {orders} TikTok orders over {seconds:g} s, Standard shop (2,000 points, "
        "100/s), one worker, SQLite, everything over HTTP on loopback."
    )
    header = (
        f"{'run':<14}{'lag p50 s':>10}{'lag p99 s':>10}{'last s':>9}{'bound p99':>10}"
        f"{'p99/bound':>10}{'points/reserve':>15}{'THROTTLED':>10}{'releases':>10}"
    )
    print(header)
    for run in runs:
        print(
            f"{run.name:<14}{statistics.median(run.lags):>10.2f}{_p(run.lags, 0.99):>10.2f}"
            f"{run.lags[-1]:>9.2f}{_p(run.bounds, 0.99):>10.2f}"
            f"{_p(run.lags, 0.99) / max(_p(run.bounds, 0.99), 1e-9):>10.3f}"
            f"{run.reserve_points:>15.1f}{run.throttled:>10}"
            f"{f'{run.releases_done}/{run.releases_wanted}':>10}"
        )
    print("goal: p99/bound ≤ 1.1 (bound at the minimum 20 points per reservation)")
    if len(runs) == 2:
        ratio = _p(runs[1].lags, 0.99) / _p(runs[0].lags, 0.99)
        print(f"releases due / plain, p99 lag: {ratio:.3f} (goal ≤ 1.05)")
    for run in runs:
        other = ", ".join(f"{op} {int(p)}" for op, p in run.other_points.most_common())
        print(f"{run.name}: other Shopify points during the sale: {other or 'none'}")
    print(f"machine load average (1, 5 min): {os.getloadavg()[0]:.1f}, {os.getloadavg()[1]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    runs = []
    for releases in (0, args.releases):
        print(f"running the {'plain' if not releases else 'releases-due'} sale...", flush=True)
        runs.append(asyncio.run(sale(args.orders, args.seconds, releases, args.concurrency)))
    report(runs, args.orders, args.seconds)
    errors = [f"{run.name}: {e}" for run in runs for e in run.errors]
    errors += [f"{run.name}: {run.throttled} THROTTLED" for run in runs if run.throttled]
    for error in errors:
        print("INCORRECT:", error)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
