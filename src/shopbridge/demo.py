"""`shopbridge demo`: a scripted day of TikTok orders through the real engine and store.

The bridge's core, worker and SQLite store are the real ones; TikTok Shop and Shopify are the
in-memory platforms of `shopbridge.engine.fakes`, and time is a manual clock moved in
five-minute steps, so a 26-hour day runs in seconds. Every workflow path is exercised, and the
rules of workflow.md are checked at the end.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.money import Money
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.fakes import FakeShopify, FakeTikTok
from shopbridge.engine.inbox import PlatformInboxHandler
from shopbridge.engine.worker import Worker
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
ADDRESS = Address(
    name="Jane Doe", address1="1 Main St", city="Austin", zip="78701", country_code="US"
)
PATHS = (
    "unpaid, auto-cancelled after 24 h",
    "paid via ON_HOLD, released",
    "paid straight to AWAITING_SHIPMENT, released",
    "buyer cancel inside the holdback",
    "fraud cancel inside the holdback",
    "cancellation request approved after release",
    "fulfilled with tracking",
    "fulfilled with an unsupported carrier",
    "cancelled after fulfilment",
    "unknown SKU",
)


@dataclass
class Script:
    """One order's story: what happens to it and when (minutes after its creation)."""

    order_id: str
    path: int
    created: datetime


class RecordingShopify(FakeShopify):
    def __init__(self, clock: ManualClock, tiktok: FakeTikTok, stock: dict[str, int]) -> None:
        super().__init__(stock)
        self.clock, self.tiktok = clock, tiktok
        self.paid_at: dict[str, tuple[datetime, TikTokOrder]] = {}

    async def mark_paid(self, order_id: str) -> None:
        await super().mark_paid(order_id)
        tiktok_id = self.orders[order_id].tiktok_order_id
        self.paid_at.setdefault(order_id, (self.clock.now(), self.tiktok.orders[tiktok_id]))


async def run_demo(order_count: int, database_url: str | None) -> int:
    started = time.monotonic()
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="shopbridge-demo-"))
        database_url = f"sqlite:///{folder / 'demo.sqlite3'}"
    upgrade_database(database_url)
    clock = ManualClock(START)
    store = Store(create_db_engine(database_url), clock, SecretBox(SecretBox.generate_key()))
    tiktok = FakeTikTok()
    shopify = RecordingShopify(clock, tiktok, {"TEE-RED-L": 500, "MUG-BLUE": 500})
    policy = Policy()
    connection_id = store.add_connection(
        name="Demo shop", tiktok_shop_id="7494049642642441621", shopify_domain="demo.myshopify.com"
    )

    def context(cid: int) -> ConnectionContext:
        return ConnectionContext(cid, tiktok, shopify, policy, clock, {"Royal Mail": "USPS"})

    worker = Worker(store, clock, context, PlatformInboxHandler(store, context), seed=7)
    scripts = [
        Script(str(577000000000000000 + n), n % len(PATHS), START + timedelta(minutes=n % 50))
        for n in range(order_count)
    ]
    click.echo(
        f"shopbridge demo: {order_count} TikTok orders over one simulated day ({database_url})"
    )

    def observe(order: TikTokOrder) -> None:
        tiktok.put(order)
        worker.bridge.apply(connection_id, order.order_id, ev.TikTokOrderObserved(order))

    def change(order_id: str, **fields: object) -> None:
        current = tiktok.orders[order_id]
        observe(replace(current, update_time=clock.now(), **fields))  # type: ignore[arg-type]

    def mirror_of(order_id: str):  # type: ignore[no-untyped-def]
        row = store.get_mirror(connection_id, order_id)
        return None if row is None or row.state is None else decode_mirror(dict(row.state))

    def shopify_order(order_id: str) -> str | None:
        mirror = mirror_of(order_id)
        return None if mirror is None else mirror.shopify_order_id

    def fulfil(order_id: str, company: str) -> None:
        gid = shopify_order(order_id)
        if gid is None or shopify.orders[gid].holds:
            return
        f = shopify.fulfil(gid, company, f"1Z{order_id[-10:]}")
        worker.bridge.apply(
            connection_id,
            order_id,
            ev.ShopifyFulfilmentObserved(f.fulfillment_id, f.company, f.number),
        )

    steps: dict[int, list[Callable[[], None]]] = {}

    def at(minutes: int, script: Script, action: Callable[[], None]) -> None:
        due = script.created + timedelta(minutes=minutes)
        steps.setdefault(int((due - START) / STEP), []).append(action)

    for s in scripts:
        oid, p = s.order_id, s.path
        skus = (
            {"TEE-RED-L": 1 + s.path % 2, "MUG-BLUE": 1}
            if p != 9
            else {"TEE-RED-L": 1, "NOT-IN-SHOPIFY": 1}
        )
        lines = tuple(
            OrderLine(sku, f"1729{i:015d}", sku.title(), q, Money.of("19.99", "USD"))
            for i, (sku, q) in enumerate(skus.items())
        )
        order = TikTokOrder(
            oid,
            TikTokStatus.UNPAID,
            s.created,
            s.created,
            lines=lines,
            total=Money.of("59.97", "USD"),
            delivery_option_id="7091146663229654785",
            is_on_hold_order=p == 1,
        )
        at(0, s, lambda order=order: observe(order))
        if p == 0:
            continue
        paid_status = TikTokStatus.ON_HOLD if p == 1 else TikTokStatus.AWAITING_SHIPMENT
        at(10, s, lambda oid=oid, st=paid_status: change(oid, status=st, paid_time=clock.now()))
        if p == 1:
            at(
                70,
                s,
                lambda oid=oid: change(
                    oid, status=TikTokStatus.AWAITING_SHIPMENT, shipping_address=ADDRESS
                ),
            )
        if p in (3, 4):
            who, why = (
                ("BUYER", "buyer_changed_mind")
                if p == 3
                else ("SYSTEM", "system_cancel_anti_span_block")
            )
            at(
                40,
                s,
                lambda oid=oid, who=who, why=why: change(
                    oid,
                    status=TikTokStatus.CANCELLED,
                    cancellation_initiator=who,
                    cancel_reason=why,
                ),
            )
            continue
        if p == 5:

            def request(oid: str = oid) -> None:
                worker.bridge.apply(
                    connection_id,
                    oid,
                    ev.CancellationObserved(
                        f"c{oid}",
                        "CANCELLATION_REQUEST_PENDING",
                        "BUYER",
                        clock.now(),
                        clock.now() + timedelta(hours=48),
                    ),
                )

            def approve(oid: str = oid) -> None:
                worker.bridge.apply(
                    connection_id, oid, ev.MerchantApprovedCancellation(f"c{oid}", "demo")
                )

            def tiktok_cancels(oid: str = oid) -> None:
                if tiktok.answers.get(f"c{oid}") == "approve":
                    change(
                        oid,
                        status=TikTokStatus.CANCELLED,
                        cancellation_initiator="BUYER",
                        cancel_reason="buyer_request_approved",
                    )

            at(120, s, request)
            at(130, s, approve)
            at(150, s, tiktok_cancels)
        if p in (6, 8):
            at(180, s, lambda oid=oid: fulfil(oid, "UPS"))
        if p == 7:
            at(180, s, lambda oid=oid: fulfil(oid, "Bonshaw"))
        if p == 8:
            at(
                240,
                s,
                lambda oid=oid: change(
                    oid,
                    status=TikTokStatus.CANCELLED,
                    cancellation_initiator="SYSTEM",
                    cancel_reason="package_lost",
                ),
            )

    # TikTok's own unpaid auto-cancel at 24 h (path 0)
    for s in scripts:
        if s.path == 0:
            at(
                24 * 60,
                s,
                lambda oid=s.order_id: change(
                    oid,
                    status=TikTokStatus.CANCELLED,
                    cancellation_initiator="SYSTEM",
                    cancel_reason="system_cancel_unpaid_time_out",
                ),
            )

    last_step = max(steps) + 12
    for step in range(last_step + 1):
        clock.set(START + step * STEP)
        for action in steps.get(step, []):
            action()
        await worker.run_until_idle()
        if step % 36 == 0:
            phases = Counter(r.phase for r in store.list_mirrors(connection_id, limit=10_000))
            click.echo(
                f"  {clock.now():%a %H:%M}  "
                + "  ".join(f"{k}: {v}" for k, v in sorted(phases.items()))
            )

    problems = check_rules(scripts, tiktok, shopify, policy, mirror_of)
    click.echo("\nOutcome per path:")
    for index, name in enumerate(PATHS):
        members = [s for s in scripts if s.path == index]
        if not members:
            continue
        outcome = Counter(_outcome(mirror_of(s.order_id)) for s in members)
        click.echo(f"  {name:<46} " + ", ".join(f"{v} {k}" for k, v in outcome.items()))
    click.echo(
        "\nRules checked: one Shopify order per TikTok order, never released before P+60 or "
        "unpaid, every cancellation mirrored with stock returned."
    )
    for problem in problems:
        click.echo(f"  BREACH: {problem}", err=True)
    click.echo(
        f"{'No breach' if not problems else f'{len(problems)} breaches'} "
        f"in {time.monotonic() - started:.1f} s."
    )
    return 1 if problems else 0


def _outcome(mirror) -> str:  # type: ignore[no-untyped-def]
    if mirror is None:
        return "missing"
    flags = ",".join(f.code.value for f in mirror.flags)
    return f"{mirror.phase.value}" + (f" [{flags}]" if flags else "")


def check_rules(scripts, tiktok, shopify, policy, mirror_of) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    for s in scripts:
        order = tiktok.orders[s.order_id]
        mirrored = shopify.orders_for(s.order_id)
        if len(mirrored) > 1:
            problems.append(f"{s.order_id}: {len(mirrored)} Shopify orders")
        if order.status is TikTokStatus.CANCELLED and any(
            not o.cancelled and not o.fulfilments for o in mirrored
        ):
            problems.append(f"{s.order_id}: cancelled on TikTok but not in Shopify")
        mirror = mirror_of(s.order_id)
        if (
            order.status is TikTokStatus.CANCELLED
            and mirrored
            and not mirrored[0].fulfilments
            and not mirror.inventory_synced
        ):
            problems.append(f"{s.order_id}: stock not returned on TikTok")
    for gid, (marked_at, seen) in shopify.paid_at.items():
        if seen.paid_time is None or marked_at < seen.paid_time + policy.holdback:
            problems.append(f"{gid}: marked paid at {marked_at} before paid time + holdback")
    for sku, quantity in tiktok.inventory.items():
        if quantity != shopify.available_stock.get(sku):
            problems.append(
                f"{sku}: TikTok {quantity} vs Shopify available {shopify.available_stock.get(sku)}"
            )
    return problems
