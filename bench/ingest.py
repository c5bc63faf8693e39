"""Webhook ingest: signed TikTok webhooks stored durably, against a bare Starlette endpoint.

Each row runs one server process under the same uvicorn configuration (one process, asyncio
loop, h11, logs at warning so neither app writes an access log line per request) and drives it
with the same load generator at a fixed concurrency (16 keep-alive connections by default):

- bare: a Starlette app whose one POST route reads the body and answers 200. The ceiling for any
  receiver on this server; measured next to each shopbridge row, the baseline of its ratio.
- shopbridge SQLite / PostgreSQL: the real web app (`bootstrap().web()`, no worker) receiving
  TikTok ORDER_STATUS_CHANGE webhooks, each with its own notification id and a real signature
  (the TikTok sandbox's signer, HMAC-SHA256 of app key + body), verified, parsed and stored
  in the inbox before the 200.

The load generator is asyncio over raw sockets (HTTP/1.1, keep-alive) in this process: it costs
a fraction of what the server does per request, so the server is what is measured. Each
connection sends a request and waits for the answer (closed loop); after a warm-up the figures
cover `--seconds` of load: requests per second, p50/p99 of each request's answer time, and the
server process's CPU time per request (user + system, from /proc: what a request costs, which
moves less than throughput when other work shares the machine). `--repeat R` runs the bare
endpoint and shopbridge R times each, interleaved, and shows the best run of each (the least
disturbed) with every run's figure beside it; the ratio is best against best.

Correctness (exit 1 when wrong): every answer is 200, and after the run the inbox holds exactly
one row per webhook answered (no loss, no double).

PostgreSQL comes from SHOPBRIDGE_BENCH_PG_URL or SHOPBRIDGE_TEST_PG_URL, in a schema of its own
dropped afterwards; without either the PostgreSQL row is skipped.

Run: .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from benchdb import PG_URL_VARIABLES, postgres_schema, postgres_server_url, sqlite_file

from shopbridge.store import SecretBox
from shopbridge_sandbox.tiktok.signing import webhook_authorization

GOAL_RATIO = 0.5
APP_KEY, APP_SECRET = "6a1b2c3d4e5f", "bench-tiktok-app-secret"
SHOP_ID = "7494049642642441621"
SHOPIFY_DOMAIN = "bench.myshopify.com"


# -- databases -----------------------------------------------------------------------------------


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with sqlite_file() as url:
            yield url
    else:
        with postgres_schema(postgres_server_url() or "") as url:
            yield url


def prepare(url: str, secret_key: str) -> int:
    """Migrate the database and add the one connection the webhooks are signed for."""
    from shopbridge.clock import SystemClock
    from shopbridge.store import Store, create_db_engine, upgrade_database

    upgrade_database(url)
    engine = create_db_engine(url)
    try:
        store = Store(engine, SystemClock(), SecretBox(secret_key))
        return store.add_connection(
            name="Bench shop",
            tiktok_app_key=APP_KEY,
            tiktok_app_secret=APP_SECRET,
            tiktok_shop_id=SHOP_ID,
            shopify_domain=SHOPIFY_DOMAIN,
            shopify_client_secret="bench-shopify-secret",
        )
    finally:
        engine.dispose()


def inbox_rows(url: str) -> int:
    from shopbridge.store import create_db_engine
    from shopbridge.store.tables import inbox

    engine = create_db_engine(url)
    try:
        with engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one())
    finally:
        engine.dispose()


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def uvicorn_config(app: object, port: int) -> object:
    """The one server configuration every row uses."""
    import uvicorn

    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="asyncio",
        http="h11",
        backlog=2048,
    )


def bare_app() -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def receive(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(
        routes=[
            Route("/webhooks/tiktok", receive, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def shopbridge_app(url: str) -> object:
    from shopbridge.bootstrap import bootstrap
    from shopbridge.config import Settings
    from shopbridge.logs import configure_logging

    configure_logging("warning")
    service = bootstrap(Settings(database_url=url, serve_worker=False), migrate=False)
    return service.web()


def serve(kind: str, url: str, port: int, secret_key: str) -> None:
    """The server process: one uvicorn, as `shopbridge serve --web-only` runs it."""
    import uvicorn

    os.environ["SHOPBRIDGE_SECRET_KEY"] = secret_key
    app = bare_app() if kind == "bare" else shopbridge_app(url)
    uvicorn.Server(uvicorn_config(app, port)).run()  # type: ignore[arg-type]


@contextlib.contextmanager
def server(kind: str, url: str, secret_key: str) -> Iterator[tuple[int, int]]:
    """A server process on a free port; yields (port, pid) once it answers."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(kind, url, port, secret_key), daemon=True
    )
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.1)
        yield port, process.pid or 0
    finally:
        process.terminate()
        process.join(10)


# -- load ----------------------------------------------------------------------------------------


def tiktok_webhook(notification_id: int, order_id: int, status: str = "AWAITING_SHIPMENT") -> bytes:
    """An ORDER_STATUS_CHANGE notification as TikTok sends it (compact JSON)."""
    document = {
        "type": 1,
        "tts_notification_id": str(notification_id),
        "shop_id": SHOP_ID,
        "timestamp": int(time.time()),
        "data": {
            "order_id": str(order_id),
            "order_status": status,
            "is_on_hold_order": False,
            "update_time": int(time.time()),
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_request(port: int, body: bytes) -> bytes:
    """The whole HTTP/1.1 request for one webhook, signed with the app's secret."""
    signature = webhook_authorization(APP_KEY, APP_SECRET, body)
    head = (
        f"POST /webhooks/tiktok HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\nauthorization: {signature}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: send a request, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)  # seconds, measured window only
    statuses: dict[int, int] = field(default_factory=dict)  # every answer, warm-up included
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server process used in the measured window

    @property
    def cpu_per_request_us(self) -> float:
        return self.server_cpu / len(self.latencies) * 1e6 if self.latencies else float("nan")

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(
    port: int,
    make_request: Callable[[int], bytes],
    connections: int,
    warmup: float,
    seconds: float,
    server_pid: int | None = None,
) -> Figures:
    """`connections` clients, each sending the next request once the last is answered."""
    figures = Figures()
    counter = iter(range(10**12))
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def client() -> None:
        connection = await HttpConnection.open(port)
        try:
            while True:
                request = make_request(next(counter))
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                status = await connection.exchange(request)
                answered = time.perf_counter()
                figures.statuses[status] = figures.statuses.get(status, 0) + 1
                if sent >= measure_from and answered <= stop_at:
                    figures.latencies.append(answered - sent)
        finally:
            connection.close()

    async def server_cpu() -> None:
        if server_pid is None:
            return
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        before = process_cpu_seconds(server_pid)
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        figures.server_cpu = process_cpu_seconds(server_pid) - before

    await asyncio.gather(server_cpu(), *(client() for _ in range(connections)))
    figures.seconds = seconds
    return figures


# -- the rows ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    runs: list[Figures]  # shopbridge's runs
    baselines: list[Figures]  # the bare endpoint's runs, interleaved with them
    problems: list[str]

    @property
    def best(self) -> Figures:
        return max(self.runs, key=lambda f: f.per_second)

    @property
    def best_baseline(self) -> Figures:
        return max(self.baselines, key=lambda f: f.per_second)


def measure(kind: str, url: str, secret_key: str, args: argparse.Namespace, run: int) -> Figures:
    with server(kind, url, secret_key) as (port, pid):
        # Each run its own notification ids: every webhook is a new delivery.
        next_id = 7_400_000_000_000_000_000 + os.getpid() * 10**9 + run * 10**7

        def make_request(n: int) -> bytes:
            return signed_request(port, tiktok_webhook(next_id + n, 576_486_316_948_000_000 + n))

        return asyncio.run(
            closed_loop(port, make_request, args.connections, args.warmup, args.seconds, pid)
        )


def run_backend(backend: str, args: argparse.Namespace) -> Row:
    secret_key = SecretBox.generate_key()
    baselines, runs = [], []
    with database(backend) as url:
        prepare(url, secret_key)
        for run in range(args.repeat):
            # Interleaved, so that a change in the machine's load hits both alike.
            baselines.append(measure("bare", url, secret_key, args, run))
            runs.append(measure("shopbridge", url, secret_key, args, run))
        problems = []
        answers: dict[int, int] = {}
        for figures in runs:
            for status, count in figures.statuses.items():
                answers[status] = answers.get(status, 0) + count
        not_ok = {s: n for s, n in answers.items() if s != 200}
        if not_ok:
            problems.append(f"answers other than 200: {not_ok}")
        stored = inbox_rows(url)
        if stored != answers.get(200, 0):
            problems.append(f"{answers.get(200, 0)} webhooks answered 200, {stored} stored")
    name = "SQLite (WAL, synchronous=FULL)" if backend == "sqlite" else "PostgreSQL"
    return Row(name, runs, baselines, problems)


def print_rows(rows: list[Row], args: argparse.Namespace) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nwebhook ingest, {args.connections} connections, {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up, best of {args.repeat} interleaved runs; "
        f"load average before: {args.load_before}, after: {load}"
    )
    header = (
        f"{'row':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} "
        f"{'ratio':>7}  {'goal':<16} every run req/s"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        b, f = row.best_baseline, row.best
        print(
            f"{'  bare Starlette (baseline of next row)':<40} {b.per_second:>7.0f} "
            f"{b.percentile(50) * 1000:>7.2f} {b.percentile(99) * 1000:>7.2f} "
            f"{b.cpu_per_request_us:>10.0f} {'':>7}  {'':<16} "
            + " ".join(f"{r.per_second:.0f}" for r in row.baselines)
        )
        ratio = f.per_second / b.per_second
        verdict = f">= {GOAL_RATIO}x: " + ("met" if ratio >= GOAL_RATIO else "NOT met")
        print(
            f"{'shopbridge, ' + row.name:<40} {f.per_second:>7.0f} "
            f"{f.percentile(50) * 1000:>7.2f} {f.percentile(99) * 1000:>7.2f} "
            f"{f.cpu_per_request_us:>10.0f} {ratio:>6.3f}x  {verdict:<16} "
            + " ".join(f"{r.per_second:.0f}" for r in row.runs)
        )
        for problem in row.problems:
            print(f"  INCORRECT: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each server")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    args = parser.parse_args()
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if "postgresql" in backends and postgres_server_url() is None:
        print(f"no PostgreSQL: set {' or '.join(PG_URL_VARIABLES)}; its row is skipped")
        backends.remove("postgresql")
    rows = [run_backend(backend, args) for backend in backends]
    print_rows(rows, args)
    return 1 if any(row.problems for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
