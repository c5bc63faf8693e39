"""Orders pages at 1k and 100k orders: does the merchant's UI stay flat as the shop grows?

For each database (SQLite, and PostgreSQL when a URL is set) and each size, the script builds a
database of that many orders by bulk insert straight into the tables: realistic mirrors (the
domain's own encoded state: a mix of phases, about 2% needing attention, Shopify names in
sequence, TikTok ids that grow with time, a timeline for one order in a hundred). It then starts
`shopbridge serve --web-only` on it (the real command: uvicorn on loopback, in a process of its
own), logs in as a merchant through the login form, and times each page with an HTTP client:

- list, newest page;  list, a deep page (`?after=` a cursor half-way down the list, as the
  Older link makes it) and its Newer page (`?before=`);  the "needs attention" list;
- search: a TikTok order id, a Shopify name, and prefixes of each;
- an order's page (with its timeline).

Each figure is the median of `--runs` requests after two warm-ups. The ratio 100k / 1k is
printed next to the goal (≤ 2×), and the serve process's resident memory at 100k (now and its
peak) next to its goal (≤ 150 MB). Every response is checked (status, the rows it must list,
the order it must find); anything wrong is printed and the exit status is 1. Figures never
pass or fail.

`--explain` prints the query plans of the list's reads at the largest size (EXPLAIN QUERY PLAN
on SQLite, EXPLAIN ANALYZE on PostgreSQL): what bounds a figure that is not flat.

PostgreSQL comes from SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL; each database is a
schema of its own, dropped afterwards. Without a URL the PostgreSQL rows are skipped.

Run: .venv/bin/python bench/pages.py [--sizes 1000,100000] [--runs 15] [--only sqlite]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from benchdb import PG_URL_VARIABLES, postgres_schema, postgres_server_url, sqlite_file

from shopbridge.clock import SystemClock
from shopbridge.domain.codec import encode_mirror
from shopbridge.domain.mirror import Flag, FlagCode, Fulfilment, LineLink, OrderMirror, Phase
from shopbridge.domain.money import Money
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus, Unit
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.listing import ListCursor
from shopbridge.store.tables import order_mirrors, timeline
from shopbridge.web import accounts

GOAL_RATIO = 2.0  # issue 14: a page at 100k orders takes at most twice its time at 1k
GOAL_RSS_MB = 150.0
EMAIL, PASSWORD = "bench@example.com", "pages stay flat at scale"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'data-testid="order-row" data-order-id="(\d+)"')
LIST_PAGE_SIZE = 25
FIRST_NAME = 1001  # Shopify numbers orders #1001, #1002, ...
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORDER_EVERY = timedelta(minutes=3)  # 100k orders: about seven months of a busy shop
BATCH = 5000


# -- the orders --------------------------------------------------------------------------------


def tiktok_id(number: int) -> str:
    """TikTok ids grow with time (the first digits are a clock), as real ones do."""
    return f"5764{number * 7919 + 10**13:015d}"


def shopify_name(number: int) -> str:
    return f"#{FIRST_NAME + number}"


# How often each kind of order appears: mostly fulfilled, as in a shop's history.
KINDS = ["fulfilled"] * 70 + ["released"] * 12 + ["cancelled"] * 10 + ["held"] * 6 + ["unpaid"] * 2
ADDRESS = Address(
    name="Jane Doe", address1="1 Main St", city="San Jose", zip="95110", country_code="US"
)


def mirror_of(number: int, kind: str, created: datetime, attention: bool) -> OrderMirror:
    """An order of two tees in the phase `kind` stands for, encoded by the domain's own codec."""
    order_id = tiktok_id(number)
    units = (f"{order_id}01", f"{order_id}02")
    paid = None if kind == "unpaid" else created + timedelta(minutes=2)
    status = {
        "unpaid": TikTokStatus.UNPAID,
        "held": TikTokStatus.AWAITING_SHIPMENT,
        "released": TikTokStatus.AWAITING_SHIPMENT,
        "fulfilled": TikTokStatus.IN_TRANSIT,
        "cancelled": TikTokStatus.CANCELLED,
    }[kind]
    order = TikTokOrder(
        order_id=order_id,
        status=status,
        update_time=paid or created,
        create_time=created,
        paid_time=paid,
        cancellation_initiator="BUYER" if kind == "cancelled" else None,
        cancel_reason="No longer needed" if kind == "cancelled" else None,
        lines=(
            OrderLine("TEE-M", "1729411234567890001", "Tee", 2, Money.of("19.99", "USD"), units),
        ),
        total=Money.of("39.98", "USD"),
        shipping_address=None if paid is None else ADDRESS,
        units=tuple(Unit(u, "TEE-M", "1729411234567890001", status.value) for u in units),
    )
    phase = Phase.HELD if kind == "unpaid" else Phase(kind)
    shipped = kind == "fulfilled"
    return OrderMirror(
        tiktok_order_id=order_id,
        phase=phase,
        tiktok=order,
        shopify_order_id=f"gid://shopify/Order/{5_000_000 + number}",
        shopify_order_name=shopify_name(number),
        hold_ids=() if kind in ("released", "fulfilled") else (f"hold-{number}",),
        fulfilments=(Fulfilment(f"gid://shopify/Fulfillment/{number}", "UPS", "1Z999AA1", True),)
        if shipped
        else (),
        flags=(Flag(FlagCode.UNSUPPORTED_CARRIER, "Carrier 'Yodel' is not one TikTok takes"),)
        if attention
        else (),
        lines=(LineLink(f"gid://shopify/LineItem/{number}", "TEE-M", units),),
    )


def order_rows(connection_id: int, start: int, stop: int, size: int) -> list[dict[str, Any]]:
    rows = []
    for number in range(start, stop):
        created = NOW - ORDER_EVERY * (size - number)
        kind = KINDS[(number * 37) % len(KINDS)]
        attention = number % 50 == 7  # 2%
        mirror = mirror_of(number, kind, created, attention)
        rows.append(
            {
                "connection_id": connection_id,
                "tiktok_order_id": mirror.tiktok_order_id,
                "state": encode_mirror(mirror),
                "version": 5,
                "phase": mirror.phase.value,
                "tiktok_status": mirror.tiktok_status.value if mirror.tiktok_status else None,
                "shopify_order_id": mirror.shopify_order_id,
                "shopify_order_name": mirror.shopify_order_name,
                "tiktok_created_at": created,
                "paid_at": mirror.tiktok.paid_time if mirror.tiktok else None,
                "holdback_ends_at": created + timedelta(minutes=62),
                "needs_attention": attention,
                "attention_reason": mirror.flags[0].message if attention else None,
                "created_at": created,
                "updated_at": created + timedelta(hours=2),
            }
        )
    return rows


TIMELINE = [
    ("event", "TikTok: order created (UNPAID)"),
    ("action", "Shopify order created, payment pending, on hold"),
    ("event", "TikTok: paid"),
    ("action", "Holdback over: marked paid, holds released"),
    ("event", "Fulfilled in Shopify: UPS 1Z999AA1"),
    ("result", "Tracking sent to TikTok"),
]


def build(url: str, size: int, box: SecretBox) -> Shop:
    """A database of `size` orders of one connection, and a merchant who may see them."""
    upgrade_database(url)
    engine = create_db_engine(url)
    try:
        store = Store(engine, SystemClock(), box)
        connection_id = store.add_connection(
            name="Bench shop",
            tiktok_shop_id="7494049642642441621",
            shopify_domain="bench.myshopify.com",
            timezone="America/New_York",
            tiktok_region="US",
        )
        accounts.create_user(store, EMAIL, PASSWORD, [connection_id])
        for start in range(0, size, BATCH):
            with engine.begin() as db:
                db.execute(
                    order_mirrors.insert(),
                    order_rows(connection_id, start, min(size, start + BATCH), size),
                )
        with engine.begin() as db:
            ids = dict(
                db.execute(
                    sa.select(order_mirrors.c.tiktok_order_id, order_mirrors.c.id).where(
                        order_mirrors.c.tiktok_order_id.in_(
                            [tiktok_id(n) for n in range(0, size, 100)]
                        )
                    )
                ).all()
            )
            entries = [
                {
                    "order_mirror_id": mirror_id,
                    "at": NOW - timedelta(days=1) + timedelta(minutes=step),
                    "kind": kind,
                    "summary": summary,
                    "detail": {"step": step},
                }
                for mirror_id in ids.values()
                for step, (kind, summary) in enumerate(TIMELINE)
            ]
            db.execute(timeline.insert(), entries)
            if engine.dialect.name == "postgresql":
                db.exec_driver_sql("ANALYZE order_mirrors")
                db.exec_driver_sql("ANALYZE timeline")
        return Shop(connection_id, size, _listed_ids(store, connection_id))
    finally:
        engine.dispose()


def _listed_ids(store: Store, connection_id: int) -> list[tuple[str, ListCursor]]:
    """The list as the merchant sees it (unpaid hidden), newest first, with each row's cursor."""
    query = (
        sa.select(order_mirrors.c.tiktok_order_id, order_mirrors.c.created_at, order_mirrors.c.id)
        .where(
            order_mirrors.c.connection_id == connection_id,
            order_mirrors.c.tiktok_status != "UNPAID",
        )
        .order_by(order_mirrors.c.created_at.desc(), order_mirrors.c.id.desc())
    )
    with store.engine.connect() as db:
        return [(row[0], ListCursor(row[1], row[2])) for row in db.execute(query)]


@dataclass(frozen=True)
class Shop:
    connection_id: int
    size: int
    listed: list[tuple[str, ListCursor]]  # the merchant's whole list, newest first

    @property
    def orders_url(self) -> str:
        return f"/connections/{self.connection_id}/orders"

    def number_of(self, order_id: str) -> int:
        return (int(order_id[4:]) - 10**13) // 7919


# -- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(url: str, box_key: str) -> Iterator[tuple[str, int]]:
    """`shopbridge serve --web-only` on this database, on a loopback port: (base URL, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "SHOPBRIDGE_DATABASE_URL": url,
        "SHOPBRIDGE_SECRET_KEY": box_key,
        "SHOPBRIDGE_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "shopbridge", "serve", "--web-only", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"serve exited: {log.read().decode(errors='replace')}")
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("serve did not answer /healthz within 60 s")
                time.sleep(0.1)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory of the process now and at its peak, in MiB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def login(client: httpx.Client) -> None:
    found = CSRF.search(client.get("/login").text)
    if found is None:
        raise RuntimeError("the login page has no CSRF token")
    data = {"email": EMAIL, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
    response = client.post("/login", data=data, follow_redirects=False)
    if response.status_code != 303:
        raise RuntimeError(f"login refused: {response.status_code} {response.text[:200]}")


# -- the pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page to time: its URL and what the response must show."""

    name: str
    url: str
    check: Callable[[str], str | None]  # the problem with the page's HTML, or None


def lists(expected: list[str]) -> Callable[[str], str | None]:
    def check(html: str) -> str | None:
        shown = ROW.findall(html)
        return None if shown == expected else f"listed {shown[:3]}..., expected {expected[:3]}..."

    return check


def shows(text: str) -> Callable[[str], str | None]:
    return lambda html: None if text in html else f"{text!r} is not on the page"


def pages_of(shop: Shop) -> list[Page]:
    listed = [order_id for order_id, _ in shop.listed]
    middle = len(listed) // 2
    cursor = shop.listed[middle][1]
    found = shop.listed[middle + LIST_PAGE_SIZE][0]  # an order of a page deep in the list
    number = shop.number_of(found)
    name = shopify_name(number)
    flagged = [i for i in listed if shop.number_of(i) % 50 == 7]
    with_timeline = next(i for i in listed[middle:] if shop.number_of(i) % 100 == 0)
    base = shop.orders_url

    def matching(prefix: str) -> list[str]:
        return [i for i in listed if i.startswith(prefix)][:LIST_PAGE_SIZE]

    def named(prefix: str) -> list[str]:
        hits = [i for i in listed if shopify_name(shop.number_of(i)).startswith(prefix)]
        return hits[:LIST_PAGE_SIZE]

    return [
        Page("list, newest page", base, lists(listed[:LIST_PAGE_SIZE])),
        Page(
            "list, deep page (Older)",
            f"{base}?after={cursor}",
            lists(listed[middle + 1 : middle + 1 + LIST_PAGE_SIZE]),
        ),
        Page(
            "list, deep page (Newer)",
            f"{base}?before={cursor}",
            lists(listed[middle - LIST_PAGE_SIZE : middle]),
        ),
        Page("list, needs attention", f"{base}?state=attention", lists(flagged[:LIST_PAGE_SIZE])),
        Page("search, TikTok id", f"{base}?q={found}", lists([found])),
        Page("search, TikTok id prefix", f"{base}?q={found[:12]}", lists(matching(found[:12]))),
        Page("search, Shopify name", f"{base}?q=%23{name[1:]}", lists(named(name))),
        Page("search, name prefix", f"{base}?q={name[1:-1]}", lists(named(name[:-1]))),
        Page("order page", f"{base}/{with_timeline}", shows("Tracking sent to TikTok")),
    ]


@dataclass
class Timings:
    medians: dict[str, float] = field(default_factory=dict)  # page -> ms
    rss_mb: float = 0.0
    peak_mb: float = 0.0
    problems: list[str] = field(default_factory=list)


def time_pages(base: str, pid: int, shop: Shop, runs: int) -> Timings:
    result = Timings()
    with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as client:
        login(client)
        for page in pages_of(shop):
            samples = []
            for attempt in range(runs + 2):
                started = time.perf_counter()
                response = client.get(page.url)
                elapsed = time.perf_counter() - started
                if attempt >= 2:
                    samples.append(elapsed * 1000)
                problem = (
                    f"HTTP {response.status_code}"
                    if response.status_code != 200
                    else page.check(response.text)
                )
                if problem and attempt == 0:
                    result.problems.append(f"{shop.size} orders, {page.name}: {problem}")
            result.medians[page.name] = statistics.median(samples)
    result.rss_mb, result.peak_mb = memory_mb(pid)
    return result


# -- plans ---------------------------------------------------------------------------------------


def explain(url: str, shop: Shop) -> None:
    """The plan of every query the list's pages send (what bounds a figure that is not flat)."""
    engine = create_db_engine(url)
    store = Store(engine, SystemClock())
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "order_mirrors" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    middle = shop.listed[len(shop.listed) // 2]
    reads: dict[str, Callable[[], object]] = {
        "newest page": lambda: store.list_mirrors(
            shop.connection_id, include_unpaid=False, limit=26
        ),
        "deep page": lambda: store.list_mirrors(
            shop.connection_id, include_unpaid=False, limit=26, after=middle[1]
        ),
        "attention count": lambda: store.count_needing_attention(
            shop.connection_id, include_unpaid=False
        ),
        "search, TikTok id prefix": lambda: store.list_mirrors(
            shop.connection_id, include_unpaid=False, limit=26, search=middle[0][:12]
        ),
    }
    try:
        for name, read in reads.items():
            seen.clear()
            sa.event.listen(engine, "before_cursor_execute", record)
            try:
                read()
            finally:
                sa.event.remove(engine, "before_cursor_execute", record)
            print(f"  {name}:")
            with engine.connect() as db:
                for statement, parameters in seen:
                    if db.dialect.name == "postgresql":
                        lines = db.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                        ).scalars()
                    else:
                        rows = db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                        lines = (str(row[-1]) for row in rows)
                    for line in lines:
                        print(f"      {line}")
                    print()
    finally:
        engine.dispose()


# -- databases -----------------------------------------------------------------------------------


# -- report --------------------------------------------------------------------------------------


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def measure(
    database: str, server_url: str | None, sizes: list[int], runs: int, show_plans: bool
) -> dict[int, Timings]:
    results: dict[int, Timings] = {}
    box_key = SecretBox.generate_key()
    for size in sizes:
        place = postgres_schema(server_url or "") if database == "PostgreSQL" else sqlite_file()
        with place as url:
            started = time.perf_counter()
            shop = build(url, size, SecretBox(box_key))
            print(f"  {database}, {size} orders built in {time.perf_counter() - started:.1f} s")
            with serving(url, box_key) as (base, pid):
                results[size] = time_pages(base, pid, shop, runs)
            if show_plans and size == max(sizes):
                print(f"  Query plans, {database}, {size} orders:")
                explain(url, shop)
    return results


def report(database: str, results: dict[int, Timings]) -> None:
    small, large = min(results), max(results)
    print(f"\n{database}: median ms of {large} orders and of {small}, ratio (goal ≤ {GOAL_RATIO}×)")
    print(f"  {'page':<28} {small:>9} {large:>9} {'ratio':>7}")
    for name, base in results[small].medians.items():
        big = results[large].medians[name]
        ratio = big / base if base else float("inf")
        mark = "" if ratio <= GOAL_RATIO else "   above the goal"
        print(f"  {name:<28} {base:>9.1f} {big:>9.1f} {ratio:>6.2f}×{mark}")
    memory = results[large]
    print(
        f"  serve RSS at {large} orders: {memory.rss_mb:.0f} MiB now, {memory.peak_mb:.0f} MiB "
        f"peak (goal ≤ {GOAL_RSS_MB:.0f} MB); at {small}: {results[small].rss_mb:.0f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="orders per database (1000,100000)")
    parser.add_argument("--runs", type=int, default=15, help="timed requests per page (15)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument("--explain", action="store_true", help="print the list's query plans")
    args = parser.parse_args()
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    print(f"Orders pages at {' and '.join(map(str, sizes))} orders, served by shopbridge serve.")
    print(f"Machine before: {machine_load()}.")
    databases = [] if args.only == "postgresql" else ["SQLite"]
    server_url = postgres_server_url()
    if args.only != "sqlite":
        if server_url is None:
            print(f"PostgreSQL skipped: set {' or '.join(PG_URL_VARIABLES)} to a server URL.")
        else:
            databases.append("PostgreSQL")
    all_results = {db: measure(db, server_url, sizes, args.runs, args.explain) for db in databases}
    for database, results in all_results.items():
        report(database, results)
    print(f"\nMachine after: {machine_load()}; other load on the machine skews every figure.")
    problems = [p for results in all_results.values() for t in results.values() for p in t.problems]
    for problem in problems:
        print(f"INCORRECT: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
