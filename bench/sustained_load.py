"""Sustained webhook load: N signed TikTok webhooks a second for D seconds, open loop, with the
worker running against both sandboxes.

What runs, each in a process of its own, on loopback: the TikTok Shop sandbox, the Shopify
sandbox (Standard plan) and `shopbridge serve` (web app and worker in one process, the embedded
default; `--separate-worker` runs `serve --web-only` and `shopbridge worker` instead). Before the
load, `--orders` orders are placed on TikTok and paid, and the worker mirrors them into Shopify
(reservations are what cost Shopify points; none are made during the load).

The load (open loop: request i is due at start + i / rate, whether or not earlier ones were
answered, and its latency counts from that moment, so a stalled server shows as latency, not as
a politely slower client):

- `--order-share` of the webhooks (15% by default) are ORDER_STATUS_CHANGE of the mirrored
  orders, round robin: the worker re-reads each from TikTok (one Get Order Detail call), which
  the TikTok sandbox limits to 50 a second, so at 200/s that is 30 reads a second;
- the rest are topics a shop subscribed to everything sends and shopbridge stores but does not
  act on (PRODUCT_INFORMATION_CHANGE, INVENTORY_STATUS_CHANGE): stored, then marked ignored;
- 5% (`--duplicates`) are exact resends of a webhook sent earlier (same bytes, same signature),
  as TikTok's retries are: answered 200 and not stored again.

Printed: answer latency p50/p99/max and errors per window (a minute by default) and overall, next
to the goal (p99 < 100 ms); whether every webhook was stored exactly once (rows for this run's
notification ids against unique webhooks sent); and the worker's backlog (deliveries pending)
over time and at the end, then how long it takes to drain once the load stops. A backlog that
keeps growing means the worker does not keep up; that is reported, not hidden.

Exit 1 only when the work came out wrong: a webhook answered 200 but not stored, or stored twice.

PostgreSQL comes from SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL (a schema of its own,
dropped afterwards).

Run: .venv/bin/python bench/sustained_load.py [--rate 200] [--seconds 600] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from ingest import (  # the sibling benchmark: databases, HTTP connections, percentiles
    HttpConnection,
    database,
    free_port,
    postgres_server_url,
)

from shopbridge.clock import SystemClock
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.tables import inbox, order_mirrors
from shopbridge_sandbox.driver import ShopifyDriver, TikTokDriver
from shopbridge_sandbox.rehearsal import connect_sandboxes
from shopbridge_sandbox.tiktok.signing import webhook_authorization

GOAL_P99_MS = 100.0
TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_REUSE_SECONDS = 3.0
SKUS = {"TEE-RED-L": "19.99", "MUG-BLUE": "12.50"}
IGNORED_TOPICS = (15, 27)  # PRODUCT_INFORMATION_CHANGE, INVENTORY_STATUS_CHANGE


# -- processes -----------------------------------------------------------------------------------


class Child:
    """A shopbridge command in a process of its own, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shopbridge", *argv],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def until_up(url: str, child: Child, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code < 500:
                    return
            if child.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} did not start:\n{child.tail()}")
            await asyncio.sleep(0.1)


@dataclass
class World:
    url: str
    store: Store
    connection_id: int
    shop_id: str
    app_key: str
    app_secret: str
    serve_port: int
    order_ids: list[str]
    children: dict[str, Child]


@contextlib.asynccontextmanager
async def world(url: str, args: argparse.Namespace, folder: Path) -> AsyncIterator[World]:
    """Both sandboxes, the connection, the mirrored orders and `shopbridge serve`."""
    secret_key = SecretBox.generate_key()
    upgrade_database(url)
    engine = create_db_engine(url)
    store = Store(engine, SystemClock(), SecretBox(secret_key))
    ports = {name: free_port() for name in ("tiktok", "shopify", "serve")}
    env = {
        **os.environ,
        "SHOPBRIDGE_DATABASE_URL": url,
        "SHOPBRIDGE_SECRET_KEY": secret_key,
        "SHOPBRIDGE_LOG_LEVEL": "warning",
        "SHOPBRIDGE_PORT": str(ports["serve"]),
        "PYTHONUNBUFFERED": "1",
    }
    children: dict[str, Child] = {}
    tiktok_url, shopify_url, serve_url = (f"http://127.0.0.1:{ports[n]}" for n in ports)
    tiktok, shopify = TikTokDriver(tiktok_url), ShopifyDriver(shopify_url)
    try:
        for name in ("tiktok", "shopify"):
            children[name] = Child(
                name, ["sandbox", name, "--port", str(ports[name]), "--empty"], env, folder
            )
        await until_up(f"{tiktok_url}/_sandbox/clock", children["tiktok"])
        await until_up(f"{shopify_url}/_sandbox/faults", children["shopify"])
        connection_id, shop = await connect_sandboxes(
            store,
            tiktok,
            shopify,
            serve_url,
            name="Load",
            plan="standard",
            stock=10 * args.orders + 100,
        )
        if args.separate_worker:
            children["serve"] = Child("serve", ["serve", "--web-only"], env, folder)
            children["worker"] = Child("worker", ["worker"], env, folder)
        else:
            children["serve"] = Child("serve", ["serve"], env, folder)
        await until_up(f"{serve_url}/healthz", children["serve"])
        skus = list(SKUS)
        order_ids = []
        for n in range(args.orders):
            order_id = await tiktok.create_order(shop["shop_id"], {skus[n % len(skus)]: 1})
            await tiktok.pay(order_id)
            order_ids.append(order_id)
        yield World(
            url,
            store,
            connection_id,
            str(shop["shop_id"]),
            str(shop["app_key"]),
            str(shop["app_secret"]),
            ports["serve"],
            order_ids,
            children,
        )
    finally:
        await tiktok.aclose()
        await shopify.aclose()
        for child in reversed(list(children.values())):
            child.stop()
        engine.dispose()


def mirrored(w: World) -> int:
    """Orders mirrored into Shopify (a Shopify order exists for them)."""
    query = (
        sa.select(sa.func.count())
        .select_from(order_mirrors)
        .where(
            order_mirrors.c.connection_id == w.connection_id,
            order_mirrors.c.shopify_order_id.is_not(None),
        )
    )
    with w.store.engine.connect() as db:
        return int(db.execute(query).scalar_one())


def pending_deliveries(w: World) -> int:
    return w.store.backlog()["deliveries pending"]


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Send:
    scheduled: float  # perf_counter() when it was due
    notification_id: str
    duplicate: bool
    request: bytes


@dataclass
class Answer:
    scheduled: float
    latency: float | None  # seconds from due to answered; None: no answer (timeout, error)
    status: int | None
    notification_id: str
    duplicate: bool


class Load:
    """Builds the run's webhooks: unique ones, and exact resends of earlier ones."""

    def __init__(self, w: World, args: argparse.Namespace) -> None:
        self.w, self.args = w, args
        self.prefix = f"9{uuid.uuid4().int % 10**6:06d}"
        self.sent: list[tuple[str, bytes]] = []
        self.count = 0

    def next(self, scheduled: float) -> Send:
        n = self.count
        self.count += 1
        # Every 20th is a resend, so exactly 5% at the default; the first is never one.
        if self.sent and self.args.duplicates > 0 and n % round(1 / self.args.duplicates) == 0:
            notification_id, request = self.sent[(n * 7919) % len(self.sent)]
            return Send(scheduled, notification_id, True, request)
        notification_id = f"{self.prefix}{n:012d}"
        request = self._request(notification_id, self._document(n, notification_id))
        self.sent.append((notification_id, request))
        return Send(scheduled, notification_id, False, request)

    def _document(self, n: int, notification_id: str) -> dict[str, Any]:
        now = int(time.time())
        envelope = {
            "tts_notification_id": notification_id,
            "shop_id": self.w.shop_id,
            "timestamp": now,
        }
        share = self.args.order_share
        if share > 0 and int((n + 1) * share) != int(n * share):
            order_id = self.w.order_ids[n % len(self.w.order_ids)]
            return {
                "type": 1,
                **envelope,
                "data": {
                    "order_id": order_id,
                    "order_status": "AWAITING_SHIPMENT",
                    "is_on_hold_order": False,
                    "update_time": now,
                },
            }
        topic = IGNORED_TOPICS[n % len(IGNORED_TOPICS)]
        data = {"product_id": f"17294{n % 500:014d}", "update_time": now}
        return {"type": topic, **envelope, "data": data}

    def _request(self, notification_id: str, document: dict[str, Any]) -> bytes:
        body = json.dumps(document, separators=(",", ":")).encode()
        signature = webhook_authorization(self.w.app_key, self.w.app_secret, body)
        head = (
            f"POST /webhooks/tiktok HTTP/1.1\r\nhost: 127.0.0.1:{self.w.serve_port}\r\n"
            f"content-type: application/json\r\nauthorization: {signature}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


async def open_loop(w: World, args: argparse.Namespace, load: Load) -> list[Answer]:
    """Send each webhook at its due moment on a free keep-alive connection (a new one when
    none is free), whatever happened to the earlier ones."""
    idle: list[tuple[float, HttpConnection]] = []  # (when it was last answered, connection)
    answers: list[Answer] = []
    tasks: set[asyncio.Task[None]] = set()

    def reusable() -> HttpConnection | None:
        # uvicorn closes a connection idle for 5 s; one idle that long is not reused.
        while idle:
            last_used, connection = idle.pop()
            if time.perf_counter() - last_used < KEEP_ALIVE_REUSE_SECONDS:
                return connection
            connection.close()
        return None

    async def exchange(send: Send) -> int:
        connection = reusable()
        if connection is not None:
            try:
                status = await connection.exchange(send.request)
            except (OSError, asyncio.IncompleteReadError):
                # Closed by the server between requests: send again on a new connection (a
                # webhook that did arrive is recognised as a duplicate anyway).
                connection.close()
            else:
                idle.append((time.perf_counter(), connection))
                return status
        connection = await HttpConnection.open(w.serve_port)
        try:
            status = await connection.exchange(send.request)
        except BaseException:
            connection.close()
            raise
        idle.append((time.perf_counter(), connection))
        return status

    async def one(send: Send) -> None:
        try:
            status = await asyncio.wait_for(exchange(send), TIMEOUT_SECONDS)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            answers.append(Answer(send.scheduled, None, None, send.notification_id, send.duplicate))
            return
        latency = time.perf_counter() - send.scheduled
        answers.append(
            Answer(send.scheduled, latency, status, send.notification_id, send.duplicate)
        )

    start = time.perf_counter() + 0.1
    total = int(args.rate * args.seconds)
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(load.next(due)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for _, connection in idle:
        connection.close()
    for answer in answers:
        answer.scheduled -= start
    return answers


async def sample_backlog(
    w: World, every: float, samples: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    started = time.perf_counter()
    while not stop.is_set():
        pending = await asyncio.to_thread(pending_deliveries, w)
        samples.append((time.perf_counter() - started, pending))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


# -- figures -------------------------------------------------------------------------------------


async def poll_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` (a database read, run in a thread) became true within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(0.5)
    return False


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Report:
    backend: str
    answers: list[Answer]
    backlog: list[tuple[float, int]]
    drained_after: float | None
    backlog_at_end: int
    stored: int
    unique_ok: int
    stored_twice: int
    missing: list[str] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""

    @property
    def problems(self) -> list[str]:
        found = []
        if self.missing:
            found.append(
                f"{len(self.missing)} webhooks answered 200 but not stored "
                f"(e.g. {self.missing[:3]})"
            )
        if self.stored_twice:
            found.append(f"{self.stored_twice} notifications stored more than once")
        return found


def print_report(r: Report, args: argparse.Namespace) -> None:
    print(
        f"\n{r.backend}: {args.rate:g} webhooks/s for {args.seconds:g} s, open loop, "
        f"{args.duplicates:.0%} resends, {args.order_share:.0%} order status changes "
        f"({len(r.answers)} sent); worker {'separate' if args.separate_worker else 'in serve'}"
    )
    print(f"load average before: {r.load_before}; after: {r.load_after}")
    header = (
        f"{'window':>12} {'sent':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'no answer':>9}"
    )
    header += f" {'non-200':>7} {'backlog max':>11} {'backlog end':>11}"
    print(header)
    print("-" * len(header))
    windows = max(1, int(-(-args.seconds // args.window)))
    for k in range(windows):
        lo, hi = k * args.window, (k + 1) * args.window
        inside = [a for a in r.answers if lo <= a.scheduled < hi]
        latencies = [a.latency * 1000 for a in inside if a.latency is not None]
        backlog = [b for t, b in r.backlog if lo <= t < hi] or [0]
        print(
            f"{f'{lo:g}-{hi:g} s':>12} {len(inside):>7} {percentile(latencies, 50):>8.1f} "
            f"{percentile(latencies, 99):>8.1f} {max(latencies, default=float('nan')):>8.1f} "
            f"{sum(a.latency is None for a in inside):>9} "
            f"{sum(a.status not in (None, 200) for a in inside):>7} "
            f"{max(backlog):>11} {backlog[-1]:>11}"
        )
    latencies = [a.latency * 1000 for a in r.answers if a.latency is not None]
    p99 = percentile(latencies, 99)
    verdict = "met" if p99 < GOAL_P99_MS else "NOT met"
    print(
        f"{'overall':>12} {len(r.answers):>7} {percentile(latencies, 50):>8.1f} {p99:>8.1f} "
        f"{max(latencies, default=float('nan')):>8.1f} "
        f"{sum(a.latency is None for a in r.answers):>9} "
        f"{sum(a.status not in (None, 200) for a in r.answers):>7}   "
        f"goal p99 < {GOAL_P99_MS:g} ms: {verdict}"
    )
    print(
        f"stored exactly once: {r.stored} rows for {r.unique_ok} unique webhooks answered 200"
        f"{'' if r.problems else ' (correct)'}"
    )
    drained = (
        f"drained {r.drained_after:.1f} s after the load stopped"
        if r.drained_after is not None
        else f"still {r.backlog_at_end} pending {args.drain:g} s after the load stopped"
    )
    peak = max((b for _, b in r.backlog), default=0)
    # Kept up: the backlog at the end of the load is at most one second of load above its
    # peak in the first window (it rises and falls, but does not climb).
    during = [(t, b) for t, b in r.backlog if t <= args.seconds]
    first = [b for t, b in during if t <= min(args.window, args.seconds / 2)] or [0]
    climb = (during[-1][1] - max(first)) / args.seconds if during else 0.0
    verdict = (
        "kept up"
        if climb * args.seconds <= args.rate and r.drained_after is not None
        else f"fell behind by {max(climb, 0):.0f} deliveries/s"
    )
    print(f"worker backlog (deliveries pending): peak {peak}; {drained}; {verdict}")
    for problem in r.problems:
        print(f"  INCORRECT: {problem}")


async def run(backend: str, args: argparse.Namespace) -> Report:
    with database(backend) as url, tempfile.TemporaryDirectory(prefix="shopbridge-load-") as tmp:
        async with world(url, args, Path(tmp)) as w:
            await poll_until(lambda: mirrored(w) == len(w.order_ids), args.settle)
            print(
                f"{backend}: {mirrored(w)}/{len(w.order_ids)} orders mirrored into Shopify "
                "before the load"
            )
            await poll_until(lambda: pending_deliveries(w) == 0, args.settle)
            load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
            load = Load(w, args)
            samples: list[tuple[float, int]] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_backlog(w, 2.0, samples, stop))
            answers = await open_loop(w, args, load)
            load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
            drain_started = time.perf_counter()
            drained = await poll_until(lambda: pending_deliveries(w) == 0, args.drain)
            drained_after = time.perf_counter() - drain_started if drained else None
            stop.set()
            await sampler
            backlog_at_end = pending_deliveries(w)
            for child in w.children.values():
                if child.process.poll() is not None:
                    print(f"{child.name} exited early:\n{child.tail()}")
            keys = {f"{w.connection_id}:{a.notification_id}" for a in answers}
            with w.store.engine.connect() as db:
                rows = db.execute(
                    sa.select(inbox.c.delivery_key, sa.func.count())
                    .where(
                        inbox.c.source == "tiktok", inbox.c.delivery_key.like(f"%:{load.prefix}%")
                    )
                    .group_by(inbox.c.delivery_key)
                ).all()
            stored = {key: count for key, count in rows if key in keys}
            answered_ok = {a.notification_id for a in answers if a.status == 200}
            missing = [n for n in answered_ok if f"{w.connection_id}:{n}" not in stored]
            return Report(
                backend,
                answers,
                samples,
                drained_after,
                backlog_at_end,
                sum(stored.values()),
                len(answered_ok),
                sum(1 for count in stored.values() if count > 1),
                missing,
                load_before,
                load_after,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks a second")
    parser.add_argument("--seconds", type=float, default=600.0, help="how long the load lasts")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per printed row")
    parser.add_argument("--orders", type=int, default=40, help="orders mirrored before the load")
    parser.add_argument("--order-share", type=float, default=0.15)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait after")
    parser.add_argument("--settle", type=float, default=120.0, help="most seconds to mirror")
    parser.add_argument("--separate-worker", action="store_true")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if "postgresql" in backends and postgres_server_url() is None:
        print("no PostgreSQL: set SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL; skipped")
        backends.remove("postgresql")
    reports = []
    for backend in backends:
        report = asyncio.run(run(backend, args))
        print_report(report, args)
        reports.append(report)
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
