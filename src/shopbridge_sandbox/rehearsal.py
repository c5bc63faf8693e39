"""`shopbridge rehearse`: the whole product as separate processes, with faults and kill -9.

What an operator would run, on one machine: both sandboxes, `shopbridge serve --web-only` and N
`shopbridge worker`s, each its own OS process, on PostgreSQL (or SQLite), all on one accelerated
clock (`--clock scaled:FACTOR`, anchored in the database; the sandboxes get the same anchor).
Then the scenario plays a stream of orders through every workflow path over HTTP while:

- the sandboxes' fault knobs duplicate, drop and reorder webhooks, answer 5xx and 429, lose
  answers after committing, and the Shopify bucket is drained now and then (THROTTLED storms);
- every K seconds a random shopbridge process is killed with SIGKILL and started again;
- the invariant checker reads both platforms every couple of seconds and records every breach
  of an always-rule, even one that heals itself later.

At the end faults stop, the system is left to settle (reconciliation included), the settled
rules are checked, and a report gives orders per path, breaches, duplicates, orders lost or left
for manual action, work still pending, the reservation lag and the time new Shopify orders were
fulfillable before their hold (in real seconds), and how many processes were killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import ClockSpec, ScaledClock
from shopbridge.config import Settings
from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.mirror import FlagCode
from shopbridge.domain.stock import DEFAULT_RULE, tiktok_quantity
from shopbridge.store import SecretBox, Store, normalize_url
from shopbridge.store.anchor import anchored_clock
from shopbridge.store.tables import order_mirrors, outbox
from shopbridge.web.accounts import create_user
from shopbridge_sandbox.driver import ShopifyDriver, TikTokDriver
from shopbridge_sandbox.invariants import Breach, Observer
from shopbridge_sandbox.scenario import PATHS, Scenario, WebMerchant

SKUS = {"TEE-RED-L": "19.99", "MUG-BLUE": "12.50"}
MERCHANT = ("rehearsal@example.com", "rehearsal-password")
SHOPIFY_TOPICS = (
    "fulfillments/create",
    "fulfillments/update",
    "orders/cancelled",
    "inventory_levels/update",
    "orders/create",
    "refunds/create",
)
# The scenario's last act on an order comes 10 + 115 minutes after it was created.
LAST_ACT = timedelta(minutes=125)
# Flags a path of the scenario raises on purpose (an unmapped carrier, a cancel after shipping):
# anything else on an order needed a person.
EXPECTED_FLAGS = frozenset({FlagCode.UNSUPPORTED_CARRIER, FlagCode.CANCELLED_AFTER_FULFILMENT})


@dataclass(frozen=True)
class Options:
    orders: int = 200
    workers: int = 2
    concurrency: int = 4  # items each worker runs at once
    database_url: str | None = None  # default: a new SQLite file; PostgreSQL: a schema of its own
    factor: float = 60.0  # simulated seconds per real second
    orders_per_second: float = 4.0  # real time: how fast the orders arrive
    kill_every: float = 30.0  # real seconds between kills; 0: none
    faults: bool = True
    lease_seconds: float = 10.0
    heartbeat_seconds: float = 2.0
    shopify_latency: float = 0.0  # real seconds every Shopify answer is late
    until_unpaid_cancelled: bool = True  # wait for TikTok's 24 h unpaid auto-cancel of all
    check_every: float = 2.0
    reconcile_minutes: float = 5.0  # simulated: the production default
    seed: int = 1
    keep: bool = False  # keep the database and logs (and say where)


@dataclass
class Report:
    orders: int
    elapsed: float
    placed: int  # TikTok orders the buyers placed: the planned ones and their second orders
    never_held: list[str]  # placed, still live on TikTok, and never held in Shopify
    # Placed, then cancelled on TikTok before shopbridge reserved them (so rightly never
    # created): a measure of reservation lag under the load, not a lost order.
    cancelled_first: list[str]
    outcomes: dict[str, Counter[str]]
    transient: list[tuple[datetime, Breach]]
    final: list[Breach]
    duplicates: int
    lost: int
    manual: list[str]
    pending: dict[str, int]
    reservation_lag: list[float]
    heard_to_held: list[float]
    unheld_window: list[float]
    kills: dict[str, int]
    skipped: Counter[str]
    where: str

    @property
    def ok(self) -> bool:
        return not (
            self.transient or self.final or self.duplicates or self.lost or self.manual
        ) and not any(self.pending.values())


class Child:
    """One process of the rehearsal: started, killed with SIGKILL and started again."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = folder / f"{name}.log"
        self._log: TextIO | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        if self.alive:
            return
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; then reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def rehearsal_database(url: str | None, folder: Path, keep: bool = False) -> Iterator[str]:
    """A database of the rehearsal's own: a new SQLite file, or a new schema on PostgreSQL
    (dropped afterwards unless `keep`), so a rehearsal never touches anyone's data."""
    if url is None or make_url(normalize_url(url)).get_backend_name() == "sqlite":
        yield url or f"sqlite:///{folder / 'rehearsal.sqlite3'}"
        return
    schema = f"shopbridge_rehearsal_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        parsed = make_url(normalize_url(url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield parsed.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as db:
                db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class Rehearsal:
    def __init__(self, options: Options, out: Callable[[str], None] = print) -> None:
        self.o = options
        self.out = out
        self.rng = random.Random(options.seed)
        self.children: dict[str, Child] = {}
        self.transient: dict[tuple[str, str], tuple[datetime, Breach]] = {}

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        folder = Path(tempfile.mkdtemp(prefix="shopbridge-rehearsal-"))
        try:
            with rehearsal_database(self.o.database_url, folder, self.o.keep) as url:
                report = await self._run(url, folder, started)
        finally:
            if not self.o.keep:
                shutil.rmtree(folder, ignore_errors=True)
        return report

    async def _run(self, url: str, folder: Path, started: float) -> Report:
        o = self.o
        epoch = time.time()
        secret_key = SecretBox.generate_key()
        settings = Settings(database_url=url, clock=f"scaled:{o.factor:g}")
        clock = ScaledClock(o.factor, epoch)
        service = bootstrap(settings, clock=clock, secret_box=SecretBox(secret_key))
        # Anchor the database's clock at this epoch: serve and the workers read it back.
        anchored_clock(service.store.engine, ClockSpec(o.factor, epoch))
        store = service.store
        ports = {name: free_port() for name in ("tiktok", "shopify", "serve")}
        tiktok_url, shopify_url, serve_url = (
            f"http://127.0.0.1:{ports[n]}" for n in ("tiktok", "shopify", "serve")
        )
        env = self._environment(url, secret_key)
        self._plan_children(ports, clock, env, folder)
        try:
            for name in ("tiktok", "shopify"):
                self.children[name].start()
            tiktok, shopify = TikTokDriver(tiktok_url), ShopifyDriver(shopify_url)
            await _until_up(tiktok_url + "/_sandbox/clock")
            await _until_up(shopify_url + "/_sandbox/faults")
            connection_id, shop_id = await self._set_up(store, tiktok, shopify, serve_url)
            self.out(f"database   {_safe(url)}")
            self.out(f"logs       {folder}{'' if o.keep else ' (removed at the end; --keep)'}")
            for name in self.children:
                if name not in ("tiktok", "shopify"):
                    self.children[name].start()
            await _until_up(serve_url + "/healthz")
            merchant = WebMerchant(serve_url, connection_id, *MERCHANT)
            scenario = Scenario(tiktok, shop_id, shopify, "rehearsal", merchant, skus=tuple(SKUS))
            holdback = service.contexts.policy(connection_id).holdback
            observer = Observer(tiktok, shop_id, shopify, "rehearsal", holdback, skus=tuple(SKUS))
            await self._faults(tiktok, shopify, on=o.faults)
            report = await self._play(scenario, observer, clock, store, connection_id, started)
            await merchant.aclose()
            await tiktok.aclose()
            await shopify.aclose()
            report.where = str(folder) if o.keep else ""
            return report
        finally:
            for child in reversed(list(self.children.values())):
                child.stop()
            await service.aclose()

    def _environment(self, url: str, secret_key: str) -> dict[str, str]:
        o = self.o
        return {
            **os.environ,
            "SHOPBRIDGE_DATABASE_URL": url,
            "SHOPBRIDGE_SECRET_KEY": secret_key,
            "SHOPBRIDGE_LOG_LEVEL": "warning",
            "SHOPBRIDGE_WORKER_LEASE_SECONDS": str(o.lease_seconds),
            "SHOPBRIDGE_WORKER_HEARTBEAT_SECONDS": str(o.heartbeat_seconds),
            "SHOPBRIDGE_WORKER_CONCURRENCY": str(o.concurrency),
            "SHOPBRIDGE_RECONCILE_MINUTES": str(o.reconcile_minutes),
            "SHOPBRIDGE_WORKER_IDLE_SECONDS": "0.05",
            "PYTHONUNBUFFERED": "1",
        }

    def _plan_children(
        self, ports: dict[str, int], clock: ScaledClock, env: dict[str, str], folder: Path
    ) -> None:
        shopbridge = [sys.executable, "-m", "shopbridge"]
        sandbox_clock = ["--clock", clock.spec, "--empty"]
        self.children["tiktok"] = Child(
            "tiktok",
            [*shopbridge, "sandbox", "tiktok", "--port", str(ports["tiktok"]), *sandbox_clock],
            env,
            folder,
        )
        self.children["shopify"] = Child(
            "shopify",
            [*shopbridge, "sandbox", "shopify", "--port", str(ports["shopify"]), *sandbox_clock],
            env,
            folder,
        )
        bridge_clock = ["--clock", f"scaled:{self.o.factor:g}"]
        self.children["serve"] = Child(
            "serve",
            [*shopbridge, "serve", "--web-only", "--port", str(ports["serve"]), *bridge_clock],
            env,
            folder,
        )
        for n in range(1, self.o.workers + 1):
            self.children[f"worker-{n}"] = Child(
                f"worker-{n}", [*shopbridge, "worker", *bridge_clock], env, folder
            )

    async def _set_up(
        self, store: Store, tiktok: TikTokDriver, shopify: ShopifyDriver, serve_url: str
    ) -> tuple[int, str]:
        # Plus: the clock runs faster than Shopify's real-time cost bucket refills.
        connection_id, shop = await connect_sandboxes(
            store,
            tiktok,
            shopify,
            serve_url,
            name="Rehearsal",
            plan="plus",
            stock=3 * self.o.orders + 50,
            carrier_mapping={"Royal Mail": "USPS"},
        )
        create_user(store, *MERCHANT, [connection_id])
        return connection_id, str(shop["shop_id"])

    async def _faults(self, tiktok: TikTokDriver, shopify: ShopifyDriver, *, on: bool) -> None:
        rate = 1.0 if on else 0.0
        await tiktok.faults(
            webhook_duplicate_rate=0.10 * rate,
            webhook_drop_rate=0.02 * rate,
            webhook_reorder_rate=0.10 * rate,
            api_error_rate=0.02 * rate,
            api_429_rate=0.01 * rate,
            api_lost_answer_rate=0.01 * rate,
        )
        await shopify.faults(
            webhook_duplicate_rate=0.05 * rate,
            webhook_drop_rate=0.02 * rate,
            api_error_rate=0.02 * rate,
            api_429_rate=0.01 * rate,
            api_lost_answer_rate=0.01 * rate,
            api_latency_seconds=self.o.shopify_latency,
        )

    # -- playing it --------------------------------------------------------------------------

    async def _play(
        self,
        scenario: Scenario,
        observer: Observer,
        clock: ScaledClock,
        store: Store,
        connection_id: int,
        started: float,
    ) -> Report:
        o = self.o
        spread = timedelta(seconds=o.orders / o.orders_per_second * o.factor)
        begin = clock.now() + timedelta(minutes=1)
        scenario.plan(o.orders, begin, spread)
        tail = timedelta(hours=24, minutes=30) if o.until_unpaid_cancelled else LAST_ACT
        end = begin + spread + tail
        self.out(
            f"{o.orders} orders over {spread.total_seconds() / 3600:.1f} simulated hours "
            f"({o.orders / o.orders_per_second:.0f} s), clock x{o.factor:g}, "
            f"{o.workers} workers + serve, kill -9 "
            f"{f'every {o.kill_every:g} s' if o.kill_every else 'off'}, "
            f"faults {'on' if o.faults else 'off'}"
        )
        tasks = [
            asyncio.create_task(self._checking(observer)),
            asyncio.create_task(self._killing()),
            asyncio.create_task(self._storms(scenario.shopify)),
        ]
        progress = Progress(self.out, o.orders)
        try:
            while clock.now() < end or not scenario.finished:
                await scenario.due_acts(clock.now(), concurrency=16)
                progress.show(clock, scenario, lambda: store.phase_counts(connection_id), self)
                self._restart_the_dead()
                await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            progress.done()
        self._restart_the_dead()
        self.out("faults off; settling (reconciliation included)")
        await self._faults(scenario.tiktok, scenario.shopify, on=False)
        await self._settle(store, clock, observer)
        final = await observer.breaches(settled=True)
        return self._report(scenario, observer, store, connection_id, final, started)

    async def _checking(self, observer: Observer) -> None:
        """The always-rules, every few seconds, on what changed; failures of a look only wait."""
        while True:
            await asyncio.sleep(self.o.check_every)
            try:
                found = await observer.changed_breaches()
            except httpx.HTTPError:
                continue
            now = datetime.now().astimezone()
            for breach in found:
                self.transient.setdefault((breach.rule, breach.order_id), (now, breach))

    async def _killing(self) -> None:
        if not self.o.kill_every:
            return
        targets = [name for name in self.children if name not in ("tiktok", "shopify")]
        while True:
            await asyncio.sleep(self.o.kill_every * self.rng.uniform(0.8, 1.2))
            child = self.children[self.rng.choice(targets)]
            # Killed and started again at once, as a supervisor (systemd, docker) would.
            child.kill()
            child.start()

    async def _storms(self, shopify: ShopifyDriver) -> None:
        """A THROTTLED storm now and then: the Shopify bucket emptied at once."""
        if not self.o.faults:
            return
        while True:
            await asyncio.sleep(self.rng.uniform(20, 40))
            with contextlib.suppress(httpx.HTTPError):
                await shopify.drain_bucket("rehearsal")

    def _restart_the_dead(self) -> None:
        """A shopbridge process that died by itself is a finding; it is restarted and counted."""
        for name, child in self.children.items():
            if name not in ("tiktok", "shopify") and not child.alive:
                self.out(f"  {name} exited by itself (see {child.log_path}); restarting it")
                child.start()

    async def _settle(self, store: Store, clock: ScaledClock, observer: Observer) -> None:
        """Until nothing is pending for a while, and at least one reconciliation pass ran."""
        started = clock.now()
        minimum = timedelta(minutes=self.o.reconcile_minutes * 1.5)
        quiet = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            backlog = store.backlog()
            busy = (
                backlog["deliveries pending"]
                + backlog["actions pending"]
                + backlog["deadlines due"]
                + backlog["stock pushes due"]
            )
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= 3 and clock.now() - started >= minimum:
                return

    def _report(
        self,
        scenario: Scenario,
        observer: Observer,
        store: Store,
        connection_id: int,
        final: list[Breach],
        started: float,
    ) -> Report:
        outcomes: dict[str, Counter[str]] = {name: Counter() for name in PATHS}
        manual: list[str] = []
        for n, order_id in scenario.orders.items():
            row = store.get_mirror(connection_id, order_id)
            path = PATHS[scenario.paths[n]]
            if row is None or row.state is None:
                outcomes[path]["not mirrored"] += 1
                continue
            flags = decode_mirror(dict(row.state)).flags
            shown = sorted({f.code.value for f in flags})
            outcomes[path][f"{row.phase}{f' [{chr(44).join(shown)}]' if shown else ''}"] += 1
            unexpected = [f for f in flags if f.code not in EXPECTED_FLAGS]
            if unexpected or row.stuck_reason:
                reasons = [f.message for f in unexpected] + [row.stuck_reason or ""]
                manual.append(f"{order_id}: {'; '.join(r for r in reasons if r)}")
        for item in store.failed_inbox(connection_id, limit=50):
            manual.append(f"delivery {item.delivery_key}: {item.last_error}")
        for action in store.connection_actions(connection_id, status="failed", limit=50):
            manual.append(f"action {action.kind}: {action.last_error}")
        backlog = store.backlog()
        pending = {k: v for k, v in backlog.items() if k.endswith(("pending", "due"))}
        by_source: Counter[str] = Counter(
            str(s.get("source_identifier")) for s in observer.shopify_orders.values()
        )
        lost = sum(1 for b in final if b.rule in ("reserve fast", "cancellations are mirrored"))
        timings = observer.timings()
        factor = self.o.factor
        held = {t.order_id for t in timings}
        placed = (*scenario.orders.values(), *scenario.extra_orders)
        unheld = sorted(order_id for order_id in placed if order_id not in held)

        def cancelled_on_tiktok(order_id: str) -> bool:
            return observer.tiktok_orders.get(order_id, {}).get("status") == "CANCELLED"

        return Report(
            orders=len(scenario.orders),
            elapsed=time.monotonic() - started,
            placed=len(scenario.orders) + len(scenario.extra_orders),
            never_held=[o for o in unheld if not cancelled_on_tiktok(o)],
            cancelled_first=[o for o in unheld if cancelled_on_tiktok(o)],
            outcomes={k: v for k, v in outcomes.items() if v},
            transient=sorted(self.transient.values(), key=lambda pair: pair[0]),
            final=final,
            duplicates=sum(1 for count in by_source.values() if count > 1),
            lost=lost,
            manual=manual,
            pending=pending,
            reservation_lag=[t.reserved_after.total_seconds() / factor for t in timings],
            heard_to_held=[seconds / factor for seconds in _heard_to_held(store, connection_id)],
            unheld_window=[t.open_for.total_seconds() / factor for t in timings],
            kills={n: c.kills for n, c in self.children.items() if c.kills},
            skipped=scenario.skipped,
            where="",
        )


class Progress:
    """One line of progress: redrawn in place on a terminal, printed every 10 % otherwise."""

    def __init__(self, out: Callable[[str], None], total: int) -> None:
        self.out, self.total = out, total
        self.tty = sys.stdout.isatty()
        self._last = 0.0
        self._printed_tenth = -1
        self._printed_at = 0.0

    def show(
        self,
        clock: ScaledClock,
        scenario: Scenario,
        phase_counts: Callable[[], dict[str, int]],
        rehearsal: Rehearsal,
    ) -> None:
        now = time.monotonic()
        if now - self._last < (0.5 if self.tty else 2.0):
            return
        self._last = now
        made = len(scenario.orders)
        tenth = made * 10 // max(1, self.total)
        if not self.tty and tenth == self._printed_tenth and now - self._printed_at < 30:
            return
        phases = phase_counts()
        width = 24
        filled = int(width * made / max(1, self.total))
        bar = "#" * filled + "." * (width - filled)
        shown = " ".join(f"{p} {n}" for p, n in sorted(phases.items()) if p and p != "None")
        kills = sum(c.kills for c in rehearsal.children.values())
        line = (
            f"[{bar}] {made}/{self.total} orders  {shown}  breaches {len(rehearsal.transient)}  "
            f"kills {kills}  {clock.now():%a %H:%M} simulated"
        )
        if self.tty:
            sys.stdout.write("\r" + line[:150].ljust(150))
            sys.stdout.flush()
        else:
            self._printed_tenth, self._printed_at = tenth, now
            self.out(line)

    def done(self) -> None:
        if self.tty:
            sys.stdout.write("\n")
            sys.stdout.flush()


def render(report: Report, options: Options) -> list[str]:
    """The report as lines of text."""
    lines = [f"\nOutcome per path ({report.orders} orders):"]
    for name, outcome in report.outcomes.items():
        lines.append(f"  {name:<50} " + ", ".join(f"{v} {k}" for k, v in outcome.items()))
    if report.skipped:
        lines.append(
            "Acts the platforms refused (the story took another turn): "
            + ", ".join(f"{k} x{v}" for k, v in report.skipped.most_common(8))
        )
    lines.append("")
    lines.append(f"breaches seen while running   {len(report.transient)}")
    for at, breach in report.transient[:20]:
        lines.append(f"  {at:%H:%M:%S}  {breach}")
    lines.append(f"breaches once settled         {len(report.final)}")
    lines += [f"  {breach}" for breach in report.final[:20]]
    lines.append(f"duplicate Shopify orders      {report.duplicates}")
    lines.append(f"orders lost                   {report.lost}")
    lines.append(f"never held in Shopify         {len(report.never_held)}")
    lines += [f"  {order_id}" for order_id in report.never_held[:20]]
    lines.append(f"cancelled before reserved     {len(report.cancelled_first)}")
    lines.append(f"left for manual action        {len(report.manual)}")
    lines += [f"  {line}" for line in report.manual[:20]]
    pending = ", ".join(f"{k} {v}" for k, v in report.pending.items() if v) or "none"
    lines.append(f"work still pending            {pending}")
    lines.append(f"reservation lag (real s)      {_percentiles(report.reservation_lag)}")
    lines.append(f"  from first news of it       {_percentiles(report.heard_to_held)}")
    lines.append(f"fulfillable before hold (s)   {_percentiles(report.unheld_window)}")
    kills = ", ".join(f"{n} x{c}" for n, c in sorted(report.kills.items())) or "none"
    lines.append(f"kill -9                       {kills}")
    slow = (
        f", Shopify answers {options.shopify_latency:g} s late" if options.shopify_latency else ""
    )
    lines.append(
        f"{'OK' if report.ok else 'FAILED'}: {report.orders} orders"
        + (
            f" (+{report.placed - report.orders} second orders)"
            if report.placed > report.orders
            else ""
        )
        + f" in {report.elapsed:.0f} s "
        f"(clock x{options.factor:g}, {options.workers} workers{slow}, "
        f"lease {options.lease_seconds:g} s)"
    )
    if report.where:
        lines.append(f"database and logs kept in {report.where}")
    return lines


def _heard_to_held(store: Store, connection_id: int) -> list[float]:
    """Simulated seconds from shopbridge's first record of each order (a webhook's or a
    reconciliation's news) to its reservation done: shopbridge's own share of the lag."""
    query = (
        sa.select(order_mirrors.c.created_at, outbox.c.finished_at)
        .join(outbox, outbox.c.order_mirror_id == order_mirrors.c.id)
        .where(
            order_mirrors.c.connection_id == connection_id,
            outbox.c.kind == "create_shopify_order",
            outbox.c.status == "done",
        )
    )
    with store.engine.connect() as db:
        return [(done - heard).total_seconds() for heard, done in db.execute(query)]


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no data"
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50:.2f}  p99 {p99:.2f}  max {ordered[-1]:.2f}  (n={len(ordered)})"


async def _until_up(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up within {seconds:g} s")
            await asyncio.sleep(0.1)


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def rehearse(options: Options, out: Callable[[str], None] = print) -> Report:
    """Run one rehearsal and print its report; returns it.

    SIGTERM or SIGINT (also in the background, where a shell leaves SIGINT ignored) cancel the
    run: its children are stopped on the way out, never left running as orphans."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stops = (signal.SIGTERM, signal.SIGINT)
    for number in stops:
        loop.add_signal_handler(number, task.cancel)
    try:
        report = await Rehearsal(options, out).run()
    finally:
        for number in stops:
            loop.remove_signal_handler(number)
    for line in render(report, options):
        out(line)
    return report


async def connect_sandboxes(
    store: Store,
    tiktok: TikTokDriver,
    shopify: ShopifyDriver,
    serve_url: str,
    *,
    name: str,
    plan: str,
    stock: int,
    carrier_mapping: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Two running sandboxes made into one connection for the bridge at `serve_url`: a TikTok
    shop and a Shopify store (`plan`) selling SKUS, `stock` of each on both (an already-synced
    shop: TikTok shows what the default rules give), their webhooks aimed at the bridge.
    Returns the connection's id and the TikTok shop (its id, app key and secret...)."""
    shop = await tiktok.create_shop(f"{name} TikTok Shop", "US")
    await tiktok.add_product(
        shop["shop_id"],
        "Catalog",
        [
            {"seller_sku": s, "price": p, "quantity": tiktok_quantity(stock, DEFAULT_RULE)}
            for s, p in SKUS.items()
        ],
    )
    await tiktok.set_webhook(shop["shop_id"], f"{serve_url}/webhooks/tiktok")
    handle = name.lower()
    creds = await shopify.create_shop(handle, plan)
    await shopify.add_product(
        handle, "Catalog", [{"sku": s, "price": p, "available": stock} for s, p in SKUS.items()]
    )
    for topic in SHOPIFY_TOPICS:
        await shopify.subscribe(handle, topic, f"{serve_url}/webhooks/shopify")
    connection_id = store.add_connection(
        name=name,
        tiktok_app_key=shop["app_key"],
        tiktok_app_secret=shop["app_secret"],
        tiktok_access_token=shop["access_token"],
        tiktok_refresh_token=shop["refresh_token"],
        tiktok_shop_id=shop["shop_id"],
        tiktok_shop_cipher=shop["shop_cipher"],
        tiktok_region=shop["region"],
        tiktok_api_base_url=tiktok.base_url,
        tiktok_auth_base_url=tiktok.base_url,
        shopify_domain=creds["domain"],
        shopify_api_base_url=shopify.base_url,
        shopify_access_token=creds["access_token"],
        shopify_client_secret=creds["client_secret"],
        shopify_location_id=creds["location_ids"][0],
        **({"carrier_mapping": carrier_mapping} if carrier_mapping else {}),
    )
    return connection_id, shop
