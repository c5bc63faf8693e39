"""Worker throughput: orders per second through the whole lifecycle, with zero-latency platforms.

Each order goes the whole way, as in production but with in-memory TikTok and Shopify
(`shopbridge_sandbox.fakes`) that answer instantly, so what is measured is shopbridge itself:
the domain decisions, the units of work, the claim queries and the database.

1. TikTok reports the order UNPAID (bridge.apply of TikTokOrderObserved); a worker reserves the
   stock: a Shopify order is created, payment pending, every fulfilment order on hold.
2. TikTok reports it paid (AWAITING_SHIPMENT); the holdback starts.
3. The clock moves past paid + 60 minutes; a worker fires the holdback deadline and releases
   (re-reads TikTok, sets the address, marks the Shopify order paid, releases the holds).
4. The merchant fulfils in Shopify and shopbridge observes it (ShopifyFulfilmentObserved); a
   worker sends the tracking number to TikTok.

An order counts as done when its mirror is "fulfilled" and TikTok has its tracking number.

Three runs, in one command: SQLite (a temp file) with 1 worker; PostgreSQL with 1 worker; and
PostgreSQL with 2 workers in 2 processes. In every run the parent process plays TikTok, Shopify
and the merchant (its observations are serial, one bridge.apply per event), and the workers run
in child processes that drain the queues until idle after each step. Processes cannot share
in-memory platforms, so each worker process has its own fakes: before each step the parent hands
every worker the platforms' current state and afterwards merges back what each changed. Within a
step an order is changed by at most one command, so this is exact; an order changed by two
processes in one step is reported as an error (it would mean an action ran twice).

Correctness is checked on the store and the platforms, never timing: every mirror is
"fulfilled", every outbox command is "done" (done count = command count), and each platform
side effect (Shopify order created, marked paid; tracking sent) happened exactly once per order.

PostgreSQL comes from SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL; each run creates its own
schema and drops it afterwards. Without a URL the PostgreSQL rows are skipped.

Figures are wall-clock seconds and orders per second, split into the parent's observing and the
workers' draining (what more workers can speed up), plus the worker processes' CPU time. Other
load on the machine moves every figure; `--repeat R` runs each configuration R times, interleaved,
and shows the fastest run with every run's total beside it.

Run: .venv/bin/python bench/worker_throughput.py --orders 300 [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.money import Money
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus
from shopbridge.store import Store, create_db_engine, normalize_url, upgrade_database
from shopbridge.store.tables import order_mirrors, outbox
from shopbridge_sandbox.fakes import FakeContexts, FakeShopify, FakeShopifyOrder, FakeTikTok

PG_URL_VARIABLES = ("SHOPBRIDGE_BENCH_PG_URL", "SHOPBRIDGE_TEST_PG_URL")

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PAID_AT = T0 + timedelta(minutes=5)
RELEASE_AT = PAID_AT + timedelta(minutes=60, seconds=1)  # just past the 60-minute holdback
FULFIL_AT = RELEASE_AT + timedelta(minutes=30)

SKU = "TEE-RED-L"
DELIVERY_OPTION_ID = "7091146663229654785"
ADDRESS = Address(
    name="Jane Doe", address1="1 Main St", city="San Jose", zip="95110", country_code="US"
)


def tiktok_order_id(n: int) -> str:
    return f"5764863169{n:08d}"


def tiktok_order(order_id: str, *, paid_at: datetime | None) -> TikTokOrder:
    """TikTok's snapshot of one order of two tees: UNPAID, or AWAITING_SHIPMENT once paid."""
    status = TikTokStatus.UNPAID if paid_at is None else TikTokStatus.AWAITING_SHIPMENT
    return TikTokOrder(
        order_id=order_id,
        status=status,
        update_time=paid_at or T0,
        create_time=T0,
        paid_time=paid_at,
        is_on_hold_order=False,
        is_buyer_request_cancel=False,
        cancellation_initiator=None,
        cancel_reason=None,
        lines=(OrderLine(SKU, "1729411234567890001", "Tee", 2, Money.of("19.99", "USD")),),
        total=Money.of("39.98", "USD"),
        # TikTok hides the address until the order is paid (tiktok_shop_api.md §3.2).
        shipping_address=None if paid_at is None else ADDRESS,
        delivery_option_id=DELIVERY_OPTION_ID,
    )


# -- the worker processes ------------------------------------------------------------------------


class NumberedShopify(FakeShopify):
    """A FakeShopify whose order numbers start at `first_number`: processes never share an id."""

    def __init__(self, stock: dict[str, int], first_number: int) -> None:
        super().__init__(stock)
        self._ids = itertools.count(first_number)


@dataclass(frozen=True)
class PlatformState:
    """What the platforms hold that a worker reads or changes."""

    tiktok_orders: dict[str, TikTokOrder]
    shopify_orders: dict[str, FakeShopifyOrder]
    shipped: dict[str, tuple[str, str]]  # TikTok order id -> (tracking number, provider id)


@dataclass(frozen=True)
class DrainRequest:
    now: datetime
    platforms: PlatformState


@dataclass(frozen=True)
class DrainReport:
    handled: int
    platforms: PlatformState
    calls: Counter[str]  # platform calls made in this drain, "shopify.mark_paid" etc.
    cpu_seconds: float  # CPU time this worker process spent on the drain


def worker_process(pipe: Connection, url: str, connection_id: int, index: int) -> None:
    """One worker in its own process: drain the queues until idle, once per request."""
    engine = create_db_engine(url)
    try:
        clock = ManualClock(T0)
        store = Store(engine, clock)
        tiktok = FakeTikTok()
        shopify = NumberedShopify({SKU: 1_000_000}, first_number=1001 + 1_000_000 * index)
        contexts = FakeContexts(tiktok, shopify, Policy(), clock)
        service = bootstrap(store=store, clock=clock, contexts=contexts)
        worker = service.worker(worker_id=f"bench-{index}", seed=index, reconcile_every=None)
        pipe.send("ready")
        while (request := pipe.recv()) is not None:
            clock.set(request.now)
            tiktok.orders = dict(request.platforms.tiktok_orders)
            tiktok.shipped = dict(request.platforms.shipped)
            shopify.orders = dict(request.platforms.shopify_orders)
            tiktok.calls.clear()
            shopify.calls.clear()
            cpu_started = time.process_time()
            handled = asyncio.run(worker.run_until_idle())
            cpu_seconds = time.process_time() - cpu_started
            calls = Counter({f"tiktok.{k}": v for k, v in tiktok.calls.items()})
            calls.update({f"shopify.{k}": v for k, v in shopify.calls.items()})
            state = PlatformState(tiktok.orders, shopify.orders, tiktok.shipped)
            pipe.send(DrainReport(handled, state, calls, cpu_seconds))
    finally:
        engine.dispose()
        pipe.close()


class WorkerPool:
    """`size` worker processes, started (and their imports paid) before the clock starts."""

    def __init__(self, url: str, connection_id: int, size: int) -> None:
        spawn = multiprocessing.get_context("spawn")  # no inherited engine or connection pool
        self._pipes: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(size):
            ours, theirs = spawn.Pipe()
            process = spawn.Process(
                target=worker_process, args=(theirs, url, connection_id, index), daemon=True
            )
            process.start()
            theirs.close()
            self._pipes.append(ours)
            self._processes.append(process)
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a worker process failed to start")

    def drain(self, request: DrainRequest) -> list[DrainReport]:
        for pipe in self._pipes:
            pipe.send(request)
        return [pipe.recv() for pipe in self._pipes]

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):  # a process that already died has no pipe
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=30)
        for pipe in self._pipes:
            pipe.close()


# -- the outside world (parent process) ----------------------------------------------------------


class Platforms:
    """The one true TikTok and Shopify, kept by the parent and lent to the workers at each step."""

    def __init__(self) -> None:
        self.tiktok = FakeTikTok()
        self.shopify = FakeShopify()
        self.calls: Counter[str] = Counter()  # every worker's platform calls, summed
        self.conflicts: list[str] = []

    def state(self) -> PlatformState:
        return PlatformState(
            dict(self.tiktok.orders), dict(self.shopify.orders), dict(self.tiktok.shipped)
        )

    def merge(self, reports: list[DrainReport]) -> None:
        """Take back what each worker changed; an item changed by two workers is a conflict."""
        changed_by: dict[str, int] = {}
        shopify_changes: dict[str, FakeShopifyOrder] = {}
        shipped_changes: dict[str, tuple[str, str]] = {}
        for index, report in enumerate(reports):
            self.calls.update(report.calls)
            for gid, order in report.platforms.shopify_orders.items():
                if self.shopify.orders.get(gid) != order:
                    self._note_change(changed_by, f"Shopify order {gid}", index)
                    shopify_changes[gid] = order
            for order_id, shipment in report.platforms.shipped.items():
                if self.tiktok.shipped.get(order_id) != shipment:
                    self._note_change(changed_by, f"TikTok shipment of {order_id}", index)
                    shipped_changes[order_id] = shipment
        self.shopify.orders.update(shopify_changes)
        self.tiktok.shipped.update(shipped_changes)

    def _note_change(self, changed_by: dict[str, int], what: str, index: int) -> None:
        if what in changed_by:
            self.conflicts.append(f"{what} changed by worker processes {changed_by[what]}, {index}")
        changed_by[what] = index


@dataclass
class Timings:
    observing: float = 0.0  # the parent's bridge.apply of TikTok and Shopify observations
    draining: float = 0.0  # the workers draining the queues, including the platform hand-over
    worker_cpu: float = 0.0  # CPU time of all worker processes while draining (no database server)

    @property
    def total(self) -> float:
        return self.observing + self.draining


@dataclass(frozen=True)
class RunResult:
    label: str
    workers: int
    orders: int
    done: int
    timings: Timings
    problems: tuple[str, ...]

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.timings.total

    @property
    def drained_per_second(self) -> float:
        return self.orders / self.timings.draining


class Lifecycle:
    """Drives `orders` orders through the lifecycle on one database with `workers` processes."""

    def __init__(self, url: str, orders: int, workers: int) -> None:
        self.clock = ManualClock(T0)
        self.engine = create_db_engine(url)
        self.store = Store(self.engine, self.clock)
        self.connection_id = self.store.add_connection(
            name="Bench", tiktok_shop_id="7494049642642441621", shopify_domain="bench.myshopify.com"
        )
        self.policy = Policy()
        contexts = FakeContexts(FakeTikTok(), FakeShopify(), self.policy, self.clock)
        self.bridge = bootstrap(store=self.store, clock=self.clock, contexts=contexts).bridge
        self.order_ids = [tiktok_order_id(n) for n in range(orders)]
        self.platforms = Platforms()
        self.timings = Timings()
        try:
            self.pool = WorkerPool(url, self.connection_id, workers)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.pool.close()
        self.engine.dispose()

    def run(self) -> None:
        with self._observing():
            for order_id in self.order_ids:
                self._tiktok_reports(tiktok_order(order_id, paid_at=None))
        self._drain()  # reservations
        self.clock.set(PAID_AT)
        with self._observing():
            for order_id in self.order_ids:
                self._tiktok_reports(tiktok_order(order_id, paid_at=PAID_AT))
        self._drain()  # nothing is due yet: the holdback runs
        self.clock.set(RELEASE_AT)
        self._drain()  # holdback deadlines fire; releases
        self.clock.set(FULFIL_AT)
        with self._observing():
            shopify = self.platforms.shopify
            shopify_order_of = {o.tiktok_order_id: o.order_id for o in shopify.orders.values()}
            for n, order_id in enumerate(self.order_ids):
                # The merchant fulfils in the Shopify admin; the fulfilment webhook tells us.
                fulfilment = shopify.fulfil(shopify_order_of[order_id], "UPS", f"1Z999AA1{n:010d}")
                observed = ev.ShopifyFulfilmentObserved(
                    fulfilment.fulfillment_id, fulfilment.company, fulfilment.number
                )
                self.bridge.apply(self.connection_id, order_id, observed)
        self._drain()  # tracking to TikTok

    def _tiktok_reports(self, order: TikTokOrder) -> None:
        self.platforms.tiktok.put(order)
        self.bridge.apply(self.connection_id, order.order_id, ev.TikTokOrderObserved(order))

    @contextmanager
    def _observing(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings.observing += time.perf_counter() - started

    def _drain(self) -> None:
        started = time.perf_counter()
        reports = self.pool.drain(DrainRequest(self.clock.now(), self.platforms.state()))
        self.platforms.merge(reports)
        self.timings.draining += time.perf_counter() - started
        self.timings.worker_cpu += sum(report.cpu_seconds for report in reports)

    def check(self) -> tuple[int, list[str]]:
        """How many orders are done, and what is wrong, judged by the store and the platforms."""
        problems = list(self.platforms.conflicts)
        with self.engine.connect() as db:
            phases = dict(
                db.execute(
                    sa.select(order_mirrors.c.tiktok_order_id, order_mirrors.c.phase).where(
                        order_mirrors.c.connection_id == self.connection_id
                    )
                ).all()
            )
            statuses = Counter(
                dict(
                    db.execute(
                        sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
                    ).all()
                )
            )
        done = sum(
            1
            for order_id in self.order_ids
            if phases.get(order_id) == "fulfilled" and order_id in self.platforms.tiktok.shipped
        )
        n = len(self.order_ids)
        if done != n:
            problems.append(f"only {done} of {n} orders are fulfilled with tracking sent")
        if statuses["done"] != sum(statuses.values()):
            problems.append(f"outbox not all done: {dict(statuses)}")
        for call in ("shopify.create_pending_order", "shopify.mark_paid", "tiktok.mark_shipped"):
            if self.platforms.calls[call] != n:
                problems.append(f"{call} ran {self.platforms.calls[call]} times for {n} orders")
        return done, problems


def measure(label: str, url: str, orders: int, workers: int) -> RunResult:
    upgrade_database(url)
    lifecycle = Lifecycle(url, orders, workers)
    try:
        lifecycle.run()
        done, problems = lifecycle.check()
    finally:
        lifecycle.close()
    return RunResult(label, workers, orders, done, lifecycle.timings, tuple(problems))


# -- databases -----------------------------------------------------------------------------------


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="shopbridge-bench-") as directory:
        yield f"sqlite:///{directory}/bench.sqlite3"


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A fresh schema of its own (dropped afterwards), so no other table is ever touched."""
    schema = f"shopbridge_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with admin.connect() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        # Every connection of every process gets the schema as its search_path.
        url = make_url(normalize_url(server_url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as db:
            db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def postgres_server_url() -> str | None:
    for name in PG_URL_VARIABLES:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return None


# -- report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Configuration:
    label: str
    postgres: bool
    workers: int


SQLITE_1 = Configuration("SQLite, 1 worker", postgres=False, workers=1)
POSTGRES_1 = Configuration("PostgreSQL, 1 worker", postgres=True, workers=1)
POSTGRES_2 = Configuration("PostgreSQL, 2 workers", postgres=True, workers=2)


def measure_all(
    configurations: list[Configuration], orders: int, repeat: int, server_url: str | None
) -> dict[str, list[RunResult]]:
    """Every configuration `repeat` times, interleaved so that a burst of load hits all alike."""
    results: dict[str, list[RunResult]] = {c.label: [] for c in configurations}
    for _ in range(repeat):
        for c in configurations:
            database = postgres_schema(server_url or "") if c.postgres else sqlite_file()
            with database as url:
                results[c.label].append(measure(c.label, url, orders, c.workers))
    return results


def best(runs: list[RunResult]) -> RunResult:
    """The fastest run: the one least disturbed by whatever else the machine was doing."""
    return min(runs, key=lambda r: r.timings.total)


def print_table(results: dict[str, list[RunResult]]) -> None:
    print(
        f"{'run':<23}{'total s':>9}{'orders/s':>10}{'observing s':>13}{'draining s':>12}"
        f"{'drained/s':>11}{'worker CPU s':>14}{'done':>9}{'runs':>6}{'total s, all runs':>22}"
    )
    for label, runs in results.items():
        r = best(runs)
        done = f"{min(run.done for run in runs)}/{r.orders}"
        spread = ", ".join(f"{run.timings.total:.1f}" for run in runs)
        print(
            f"{label:<23}{r.timings.total:>9.2f}{r.orders_per_second:>10.1f}"
            f"{r.timings.observing:>13.2f}{r.timings.draining:>12.2f}"
            f"{r.drained_per_second:>11.1f}{r.timings.worker_cpu:>14.2f}"
            f"{done:>9}{len(runs):>6}{spread:>22}"
        )


def print_ratios(results: dict[str, list[RunResult]]) -> None:
    pairs = [(POSTGRES_1, SQLITE_1), (POSTGRES_2, SQLITE_1), (POSTGRES_2, POSTGRES_1)]
    for this, baseline in pairs:
        if this.label in results and baseline.label in results:
            a, b = best(results[this.label]), best(results[baseline.label])
            print(
                f"  {this.label}: {a.orders_per_second / b.orders_per_second:.2f}× "
                f"{baseline.label} "
                f"(draining alone: {a.drained_per_second / b.drained_per_second:.2f}×)"
            )


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="orders per run (default 300)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each configuration; the best is shown"
    )
    args = parser.parse_args()
    orders: int = args.orders

    print(
        f"Worker throughput: {orders} orders through the whole lifecycle "
        f"(reserve, hold, release, fulfil, tracking) with zero-latency in-memory platforms."
    )
    print(
        "The parent plays TikTok, Shopify and the merchant (serial observations); workers run in "
        "child processes, each with its own fakes, handed the platform state at every step."
    )
    print(f"Machine before: {machine_load()}.")
    configurations = [SQLITE_1]
    server_url = postgres_server_url()
    if server_url is None:
        print(f"PostgreSQL skipped: set {' or '.join(PG_URL_VARIABLES)} to a server URL.")
    else:
        configurations += [POSTGRES_1, POSTGRES_2]
    results = measure_all(configurations, orders, args.repeat, server_url)

    print()
    print_table(results)
    if len(results) > 1:
        print()
        print("Ratios of orders/s (best runs):")
        print_ratios(results)
    print()
    print(f"Machine after: {machine_load()}; other load on the machine skews every figure.")
    failed = [r for runs in results.values() for r in runs if r.problems]
    for r in failed:
        for problem in r.problems:
            print(f"INCORRECT ({r.label}): {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
