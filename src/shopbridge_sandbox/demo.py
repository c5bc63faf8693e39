"""`shopbridge demo`: both sandboxes and the bridge in one process, a scripted day of orders.

Everything runs for real on loopback ports: the TikTok Shop and Shopify sandboxes, the bridge's
webhook receivers, a worker, the embedded SQLite store. Time is a scaled clock (by default one
sandbox hour every two real seconds), so TikTok's 24-hour unpaid window and one-hour holdback pass
in about a minute. The scenario acts as buyers, TikTok and the merchant; at the end the invariant
checker compares both sandboxes against workflow.md's rules.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import click

from shopbridge.bootstrap import open_store
from shopbridge.clock import ScaledClock
from shopbridge.config import Settings
from shopbridge.domain.codec import decode_mirror
from shopbridge.engine.worker import RetryPolicy
from shopbridge.store import SecretBox, Store
from shopbridge.web.accounts import create_user
from shopbridge_sandbox.faults import Faults, FaultSettings
from shopbridge_sandbox.invariants import Breach
from shopbridge_sandbox.loopback import Loopback, loopback
from shopbridge_sandbox.scenario import PATHS, Scenario

CATALOG = {"TEE-RED-L": "19.99", "MUG-BLUE": "12.50"}
DEMO_EMAIL, DEMO_PASSWORD = "merchant@example.com", "shopbridge-demo"
SPREAD = timedelta(hours=2)
TAIL = timedelta(hours=26)  # the last orders' 24 h unpaid window, and a little more


async def run_demo(
    order_count: int, database_url: str | None, hour_seconds: float, faults: bool
) -> int:
    started = time.monotonic()
    clock = ScaledClock(3600 / hour_seconds)
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="shopbridge-demo-"))
        database_url = f"sqlite:///{folder / 'demo.sqlite3'}"
    store = open_store(
        Settings(database_url=database_url),
        clock=clock,
        secret_box=SecretBox(SecretBox.generate_key()),
    )
    knobs = FaultSettings()
    if faults:
        knobs.update(
            {"webhook_duplicate_rate": 0.1, "webhook_drop_rate": 0.1, "api_error_rate": 0.02}
        )
    stock = 3 * order_count + 10
    stop = asyncio.Event()
    async with loopback(
        store,
        clock,
        catalog={sku: (price, stock) for sku, price in CATALOG.items()},
        tiktok_faults=Faults(knobs, seed=1),
        # Plus: the clock runs ~1800 times faster than Shopify's real-time cost bucket refills,
        # so the demo's order rate would drain a Standard bucket that real traffic would not.
        plan="plus",
        carrier_mapping={"Royal Mail": "USPS"},
        worker_options={
            "worker_id": "demo",
            # Backoff is in clock time: two real seconds at first, whatever the scale.
            "retry": RetryPolicy(base=timedelta(seconds=2 * clock.factor), cap=timedelta(hours=1)),
            "reconcile_every": timedelta(minutes=30),
        },
    ) as world:
        click.echo(f"TikTok Shop sandbox  {world.tiktok_url}")
        click.echo(f"Shopify sandbox      {world.shopify_url}")
        create_user(store, DEMO_EMAIL, DEMO_PASSWORD, [world.connection_id])
        click.echo(f"shopbridge           {world.bridge_url}   (store: {database_url})")
        click.echo(f"merchant UI          {world.bridge_url}/login  {DEMO_EMAIL} / {DEMO_PASSWORD}")
        click.echo(
            f"{order_count} orders over {SPREAD.total_seconds() / 3600:g} sandbox hours; "
            f"one sandbox hour every {hour_seconds:g} s"
            f"{'; faults on' if faults else ''}. Ctrl-C stops.\n"
        )
        connection_id = world.connection_id
        worker = world.worker
        scenario = Scenario(
            world.tiktok_driver,
            world.shop_id,
            world.shopify_driver,
            world.shop_name,
            world.merchant,
        )
        begin = clock.now() + timedelta(minutes=1)
        scenario.plan(order_count, begin, SPREAD)
        scenario.plan_store_day(max(4, order_count // 2), begin, SPREAD)
        worker_task = asyncio.create_task(worker.run(stop, idle_seconds=0.05))
        interrupted = False
        try:
            await _drive(scenario, clock, store, connection_id, begin + SPREAD + TAIL)
            await _settle(store)
        except (KeyboardInterrupt, asyncio.CancelledError):
            interrupted = True
        finally:
            stop.set()
            await worker_task
        breaches = [] if interrupted else await world.breaches()
        stock_lines = [] if interrupted else await _stock_lines(world)
    _summary(
        scenario,
        store,
        connection_id,
        breaches,
        time.monotonic() - started,
        interrupted,
        stock_lines,
    )
    return 1 if breaches else (130 if interrupted else 0)


async def _settle(store: Store, seconds: float = 20.0) -> None:
    """Before the rules are checked, let the worker finish what the day's last acts queued
    (deliveries, actions, stock pushes), for up to `seconds` of real time."""
    deadline = time.monotonic() + seconds
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        backlog = await asyncio.to_thread(store.backlog)
        waiting = sum(
            backlog[k] for k in ("deliveries pending", "actions pending", "stock pushes due")
        )
        quiet = quiet + 1 if waiting == 0 else 0
        await asyncio.sleep(0.2)


async def _drive(
    scenario: Scenario, clock: ScaledClock, store: Store, connection_id: int, end: datetime
) -> None:
    next_report = clock.now()
    while clock.now() < end:
        await scenario.due_acts(clock.now())
        if clock.now() >= next_report:
            phases = Counter(r.phase for r in store.list_mirrors(connection_id, limit=100_000))
            shown = "  ".join(f"{p}: {n}" for p, n in sorted(phases.items()) if p)
            click.echo(f"  {clock.now():%a %H:%M}  orders {len(scenario.orders):>3}  {shown}")
            next_report = clock.now() + timedelta(hours=2)
        await asyncio.sleep(0.05)


async def _stock_lines(world: Loopback) -> list[str]:
    """Each SKU's count on both platforms at the end, and the rule that links them."""
    lines = ["\nStock at the end (TikTok follows Shopify's available, 2 units kept back):"]
    for sku in world.catalog:
        shopify = (await world.shopify_driver.inventory(world.shop_name, sku))["available"]
        tiktok = await world.tiktok_driver.inventory(world.shop_id, sku)
        lines.append(f"  {sku:<12} Shopify available {shopify:>4}   TikTok shows {tiktok:>4}")
    return lines


def _summary(
    scenario: Scenario,
    store: Store,
    connection_id: int,
    breaches: list[Breach],
    elapsed: float,
    interrupted: bool,
    stock_lines: list[str],
) -> None:
    click.echo("\nOutcome per path:")
    for index, name in enumerate(PATHS):
        outcome: Counter[str] = Counter()
        for n, path in scenario.paths.items():
            if path != index or n not in scenario.orders:
                continue
            row = store.get_mirror(connection_id, scenario.orders[n])
            if row is None:
                outcome["not mirrored"] += 1
                continue
            flags = decode_mirror(dict(row.state)).flags if row.state else ()
            shown = f" [{', '.join(f.code.value for f in flags)}]" if flags else ""
            outcome[f"{row.phase}{shown}"] += 1
        if outcome:
            click.echo(f"  {name:<50} " + ", ".join(f"{v} {k}" for k, v in outcome.items()))
    sales = ", ".join(
        f"{n} {channel.replace('_', ' ')}" for channel, n in scenario.store_sales.items()
    )
    click.echo(
        f"Shopify's own channels: {sales or 'no sales'}; restocks: "
        f"{', '.join(scenario.restocks) or 'none'} (TikTok followed each through the stock queue)"
    )
    if scenario.skipped:
        click.echo(
            "Acts the platforms refused (the story took another turn): "
            + ", ".join(f"{k} ×{v}" for k, v in scenario.skipped.items())
        )
    if interrupted:
        click.echo(f"\nStopped after {elapsed:.0f} s; the store keeps what happened so far.")
        return
    for line in stock_lines:
        click.echo(line)
    click.echo(
        "\nRules checked: one Shopify order per TikTok order; never released before paid time + "
        "holdback, nor unpaid; every cancellation mirrored, item by item (Shopify waits to ship "
        "only what TikTok still has live); TikTok's stock follows Shopify's."
    )
    for breach in breaches:
        click.echo(f"  BREACH {breach}", err=True)
    verdict = "No breach" if not breaches else f"{len(breaches)} breaches"
    click.echo(f"{verdict}. {len(scenario.orders)} orders in {elapsed:.0f} s.")
