"""Worker throughput: lifecycles per second through the worker, with zero-latency platforms.

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
and the merchant (its observations are serial, one bridge.apply per event, and outside the
measured window: they are the benchmark's setup, not the worker's work), and the workers run in
child processes that drain the queues after each step as in production (`Worker.drain`: the
configured `concurrency` items in flight, claimed in rounds, recorded by group commit) until
nothing is due. Processes cannot share
in-memory platforms, so each worker process has its own fakes: before each step the parent hands
every worker the platforms' current state and afterwards merges back what each changed. Within a
step an order is changed by at most one command, so this is exact; an order changed by two
processes in one step is reported as an error (it would mean an action ran twice).

Correctness is checked on the store and the platforms, never timing: every mirror is
"fulfilled", every outbox command is "done" (done count = command count), and each platform
side effect (Shopify order created, marked paid; tracking sent) happened exactly once per order.

PostgreSQL comes from SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL; each run creates its own
schema and drops it afterwards. Without a URL the PostgreSQL rows are skipped.

The figure is lifecycles per second = N / the workers' draining time (the platform hand-over
included), printed next to issue 14's goals (≥ 300 on SQLite with 1 worker; PostgreSQL with 2
workers ≥ 1.6× 1 worker); also the SQL statements and commits per lifecycle the workers sent
(counted by SQLAlchemy event listeners on their engines: before_cursor_execute, commit; BEGIN
not counted), their CPU time, and the parent's observing time apart. Other load on the machine
moves every figure; `--repeat R` runs each configuration R times, interleaved, and shows the run
with the shortest draining, every run's draining beside it. The exit status says only whether
the work came out right. `--profile DIR` writes a cProfile of each worker process (its event
loop and the threads its store calls run in) for `python -m pstats`.

Run: .venv/bin/python bench/worker_throughput.py --orders 300 [--repeat 3] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import multiprocessing
import os
import pstats
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import sqlalchemy as sa
from benchdb import PG_URL_VARIABLES, postgres_schema, postgres_server_url, sqlite_file

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.money import Money
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus
from shopbridge.engine.worker import Worker
from shopbridge.store import Store, create_db_engine, upgrade_database
from shopbridge.store.tables import order_mirrors, outbox
from shopbridge_sandbox.fakes import FakeContexts, FakeShopify, FakeShopifyOrder, FakeTikTok

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
    statements: int  # SQL statements the worker sent in this drain (BEGINs not counted)
    commits: int  # transactions the worker committed in this drain
    busy_seconds: float  # wall-clock time of the drain itself (without the platform hand-over)


class SqlCounter:
    """Counts the statements and commits an engine sends, through SQLAlchemy's own events.

    BEGIN is not counted as a statement: on SQLite it is sent as one (BEGIN IMMEDIATE, see
    store/db.py), on PostgreSQL the driver sends it, so counting it would compare unlike things.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        self.commits = 0
        sa.event.listen(engine, "before_cursor_execute", self._on_statement)
        sa.event.listen(engine, "commit", self._on_commit)

    def _on_statement(self, _conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        if not sql.startswith("BEGIN"):
            self.statements += 1

    def _on_commit(self, _conn: object) -> None:
        self.commits += 1


class ThreadProfiler:
    """cProfile of the event loop's thread and of every thread the worker's store calls run in
    (`asyncio.to_thread`: the database work), merged into one file."""

    def __init__(self) -> None:
        self._profiles: list[cProfile.Profile] = []

    def executor(self) -> ThreadPoolExecutor:
        """A thread pool for one drain (`asyncio.run` shuts its default executor down)."""
        return ThreadPoolExecutor(max_workers=8, initializer=self._start)

    def _start(self) -> None:
        profile = cProfile.Profile()
        self._profiles.append(profile)
        profile.enable()

    @contextmanager
    def loop_thread(self) -> Iterator[None]:
        profile = cProfile.Profile()
        self._profiles.append(profile)
        profile.enable()
        try:
            yield
        finally:
            profile.disable()

    def dump(self, path: str) -> None:
        stats = pstats.Stats(self._profiles[0])
        for profile in self._profiles[1:]:
            stats.add(profile)
        stats.dump_stats(path)


async def drain(worker: Worker, profiler: ThreadProfiler | None) -> int:
    """Run the worker as in production (`concurrency` items in flight) until nothing is due
    (profiled, with `profiler`)."""
    if profiler is None:
        return int(await worker.drain())
    asyncio.get_running_loop().set_default_executor(profiler.executor())
    with profiler.loop_thread():
        return int(await worker.drain())


def worker_process(
    pipe: Connection, url: str, connection_id: int, index: int, profile: str | None
) -> None:
    """One worker in its own process: drain the queues until idle, once per request; with
    `profile`, its drains are profiled (cProfile) into that file."""
    engine = create_db_engine(url)
    counter = SqlCounter(engine)
    profiler = ThreadProfiler() if profile else None
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
            statements_before, commits_before = counter.statements, counter.commits
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            handled = asyncio.run(drain(worker, profiler))
            cpu_seconds = time.process_time() - cpu_started
            busy_seconds = time.perf_counter() - wall_started
            calls = Counter({f"tiktok.{k}": v for k, v in tiktok.calls.items()})
            calls.update({f"shopify.{k}": v for k, v in shopify.calls.items()})
            state = PlatformState(tiktok.orders, shopify.orders, tiktok.shipped)
            statements = counter.statements - statements_before
            commits = counter.commits - commits_before
            report = DrainReport(
                handled, state, calls, cpu_seconds, statements, commits, busy_seconds
            )
            pipe.send(report)
    finally:
        if profiler is not None and profile:
            profiler.dump(profile)
        engine.dispose()
        pipe.close()


class WorkerPool:
    """`size` worker processes, started (and their imports paid) before the clock starts."""

    def __init__(
        self, url: str, connection_id: int, size: int, profile_prefix: str | None = None
    ) -> None:
        spawn = multiprocessing.get_context("spawn")  # no inherited engine or connection pool
        self._pipes: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(size):
            ours, theirs = spawn.Pipe()
            profile = None if profile_prefix is None else f"{profile_prefix}-{index}.prof"
            process = spawn.Process(
                target=worker_process,
                args=(theirs, url, connection_id, index, profile),
                daemon=True,
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
    statements: int = 0  # SQL statements all workers sent while draining
    busy: float = 0.0  # of draining, the time the slowest worker of each step was working
    commits: int = 0  # transactions all workers committed while draining

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
    def lifecycles_per_second(self) -> float:
        """Whole lifecycles per second of the workers' draining (the parent's serial
        observations play the platforms and are not shopbridge's work)."""
        return self.orders / self.timings.draining


class Lifecycle:
    """Drives `orders` orders through the lifecycle on one database with `workers` processes."""

    def __init__(
        self, url: str, orders: int, workers: int, profile_prefix: str | None = None
    ) -> None:
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
            self.pool = WorkerPool(url, self.connection_id, workers, profile_prefix)
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
        self.timings.statements += sum(report.statements for report in reports)
        self.timings.commits += sum(report.commits for report in reports)
        self.timings.busy += max(report.busy_seconds for report in reports)

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


def measure(
    label: str, url: str, orders: int, workers: int, profile_prefix: str | None = None
) -> RunResult:
    upgrade_database(url)
    lifecycle = Lifecycle(url, orders, workers, profile_prefix)
    try:
        lifecycle.run()
        done, problems = lifecycle.check()
    finally:
        lifecycle.close()
    return RunResult(label, workers, orders, done, lifecycle.timings, tuple(problems))


# -- databases -----------------------------------------------------------------------------------


# -- report --------------------------------------------------------------------------------------

# Issue 14's goals: what the figures are printed next to (never a pass/fail).
GOAL_SQLITE_LIFECYCLES_PER_SECOND = 300.0
GOAL_POSTGRES_TWO_WORKERS_RATIO = 1.6


@dataclass(frozen=True)
class Configuration:
    label: str
    postgres: bool
    workers: int


SQLITE_1 = Configuration("SQLite, 1 worker", postgres=False, workers=1)
POSTGRES_1 = Configuration("PostgreSQL, 1 worker", postgres=True, workers=1)
POSTGRES_2 = Configuration("PostgreSQL, 2 workers", postgres=True, workers=2)


def measure_all(
    configurations: list[Configuration],
    orders: int,
    repeat: int,
    server_url: str | None,
    profile_dir: str | None = None,
) -> dict[str, list[RunResult]]:
    """Every configuration `repeat` times, interleaved so that a burst of load hits all alike."""
    results: dict[str, list[RunResult]] = {c.label: [] for c in configurations}
    for run in range(repeat):
        for c in configurations:
            prefix = None
            if profile_dir is not None:
                name = "sqlite" if not c.postgres else f"postgresql-{c.workers}"
                prefix = os.path.join(profile_dir, f"{name}-run{run + 1}-worker")
            database = postgres_schema(server_url or "") if c.postgres else sqlite_file()
            with database as url:
                results[c.label].append(measure(c.label, url, orders, c.workers, prefix))
    return results


def best(runs: list[RunResult]) -> RunResult:
    """The run with the shortest draining: the one least disturbed by other load."""
    return min(runs, key=lambda r: r.timings.draining)


def print_table(results: dict[str, list[RunResult]]) -> None:
    print(
        f"{'run':<23}{'lifecycles/s':>13}{'draining s':>12}{'working s':>11}{'statements':>12}"
        f"{'commits':>9}{'worker CPU s':>14}{'observing s':>13}{'done':>9}{'runs':>6}"
        f"{'draining s, all runs':>24}"
    )
    print(f"{'':<23}{'':>13}{'':>12}{'':>11}{'/lifecycle':>12}{'/lifec.':>9}")
    for label, runs in results.items():
        r = best(runs)
        done = f"{min(run.done for run in runs)}/{r.orders}"
        spread = ", ".join(f"{run.timings.draining:.2f}" for run in runs)
        print(
            f"{label:<23}{r.lifecycles_per_second:>13.1f}{r.timings.draining:>12.2f}"
            f"{r.timings.busy:>11.2f}{r.timings.statements / r.orders:>12.1f}"
            f"{r.timings.commits / r.orders:>9.1f}"
            f"{r.timings.worker_cpu:>14.2f}{r.timings.observing:>13.2f}"
            f"{done:>9}{len(runs):>6}{spread:>24}"
        )


def print_goals(results: dict[str, list[RunResult]]) -> None:
    if SQLITE_1.label in results:
        r = best(results[SQLITE_1.label])
        print(
            f"  {SQLITE_1.label}: {r.lifecycles_per_second:.1f} lifecycles/s "
            f"(goal ≥ {GOAL_SQLITE_LIFECYCLES_PER_SECOND:.0f}: "
            f"{r.lifecycles_per_second / GOAL_SQLITE_LIFECYCLES_PER_SECOND:.2f}× the goal)"
        )
    if POSTGRES_1.label in results and POSTGRES_2.label in results:
        one, two = best(results[POSTGRES_1.label]), best(results[POSTGRES_2.label])
        ratio = two.lifecycles_per_second / one.lifecycles_per_second
        print(
            f"  {POSTGRES_2.label}: {ratio:.2f}× {POSTGRES_1.label} "
            f"(goal ≥ {GOAL_POSTGRES_TWO_WORKERS_RATIO:.1f}×)"
        )
        sqlite = results.get(SQLITE_1.label)
        if sqlite:
            base = best(sqlite).lifecycles_per_second
            print(
                f"  {POSTGRES_1.label}: {one.lifecycles_per_second / base:.2f}× "
                f"{SQLITE_1.label}; {POSTGRES_2.label}: "
                f"{two.lifecycles_per_second / base:.2f}× {SQLITE_1.label}"
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
    parser.add_argument(
        "--only",
        choices=("sqlite", "postgresql"),
        help="run one database only (default: SQLite, and PostgreSQL when a URL is set)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile every worker process's drains (cProfile) into DIR/*.prof",
    )
    args = parser.parse_args()
    orders: int = args.orders

    print(
        f"Worker throughput: {orders} orders through the whole lifecycle "
        f"(reserve, hold, release, fulfil, tracking) with zero-latency in-memory platforms."
    )
    print(
        "The parent plays TikTok, Shopify and the merchant (serial observations, outside the "
        "measured window); workers run in child processes, each with its own fakes, handed the "
        "platform state at every step. lifecycles/s = orders / draining time."
    )
    print(f"Machine before: {machine_load()}.")
    configurations = [] if args.only == "postgresql" else [SQLITE_1]
    server_url = postgres_server_url()
    if args.only == "sqlite":
        pass
    elif server_url is None:
        print(f"PostgreSQL skipped: set {' or '.join(PG_URL_VARIABLES)} to a server URL.")
    else:
        configurations += [POSTGRES_1, POSTGRES_2]
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    results = measure_all(configurations, orders, args.repeat, server_url, args.profile)

    print()
    print_table(results)
    print()
    print("Against the goals (best runs):")
    print_goals(results)
    print()
    print(f"Machine after: {machine_load()}; other load on the machine skews every figure.")
    if args.profile:
        print(f"Profiles: {args.profile}/*.prof (python -m pstats FILE; sort cumtime)")
    failed = [r for runs in results.values() for r in runs if r.problems]
    for r in failed:
        for problem in r.problems:
            print(f"INCORRECT ({r.label}): {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
