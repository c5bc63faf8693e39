"""/healthz, /readyz and /metrics: for load balancers and Prometheus, never a merchant login.

- `/healthz` is liveness: the process answers. It reads nothing, so a slow database never gets
  a healthy process restarted.
- `/readyz` is readiness: 200 when the database answers `SELECT 1` in time, a worker has beaten
  recently, and no work due for a worker has waited too long; else 503, naming each failing check.
  The body says what failed in words, never the database's address or error text (it is open to
  anyone who can reach the port); the full error goes to the log.
- `/metrics` is Prometheus text: this process's counters (`shopbridge.metrics`) followed by the
  figures read from the database at scrape time (`SnapshotCollector`). With `metrics_token` set
  it asks for `Authorization: Bearer <token>`; without, it is as open as /healthz.

Both database readers share one probe at a time (`DatabaseProbe`): when the database hangs, a
load balancer polling every few seconds piles up no threads behind it, it gets its answer (503)
after `ready_database_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shopbridge import __version__
from shopbridge.clock import Clock, clock_span
from shopbridge.config import Settings
from shopbridge.store import Store
from shopbridge.store.operations import QUEUES, OperationsSnapshot, ping, read_snapshot

log = structlog.get_logger("shopbridge.health")

PATHS = ("/healthz", "/readyz", "/metrics")
# The classic text format (generate_latest's output): every Prometheus version reads it, where
# prometheus_client's newest CONTENT_TYPE_LATEST names a version older servers do not know.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ReadinessLimits:
    """When /readyz says not ready; in real seconds, whatever the clock (see `real_seconds`)."""

    worker_silence_seconds: float = 60.0
    max_wait_seconds: float = 300.0
    database_timeout_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadinessLimits:
        return cls(
            worker_silence_seconds=settings.worker_silence_limit(),
            max_wait_seconds=settings.ready_max_wait_minutes * 60,
            database_timeout_seconds=settings.ready_database_timeout_seconds,
        )


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class DatabaseUnavailable(Exception):
    """The snapshot could not be read; the message is safe to show (no address, no error)."""


class DatabaseProbe:
    """Reads the operations snapshot, one read at a time, each waited for at most `timeout`.

    A read still running when the next request comes is shared rather than doubled, so a hung
    database ties up one thread, not one per poll.
    """

    def __init__(self, store: Store, timeout_seconds: float) -> None:
        self._store = store
        self._timeout = timeout_seconds
        self._running: asyncio.Future[OperationsSnapshot] | None = None

    async def snapshot(self) -> OperationsSnapshot:
        running = self._running
        loop = asyncio.get_running_loop()
        if running is None or running.done() or running.get_loop() is not loop:
            running = asyncio.ensure_future(run_in_threadpool(self._read))
            # A read that finishes after nobody waits any more must not log "never retrieved".
            running.add_done_callback(_consume_exception)
            self._running = running
        try:
            return await asyncio.wait_for(asyncio.shield(running), self._timeout)
        except TimeoutError:
            log.warning("database did not answer in time", timeout_seconds=self._timeout)
            raise DatabaseUnavailable(
                f"the database did not answer SELECT 1 within {self._timeout:g} s"
            ) from None
        except sa.exc.SQLAlchemyError as error:
            log.warning("database unreachable", error=f"{type(error).__name__}: {error}")
            raise DatabaseUnavailable(
                f"the database could not be reached ({type(error).__name__}; see the log)"
            ) from None

    def _read(self) -> OperationsSnapshot:
        ping(self._store.engine)
        return read_snapshot(self._store.engine, self._store.clock.now())


def _consume_exception(future: asyncio.Future[OperationsSnapshot]) -> None:
    if not future.cancelled():
        future.exception()


def real_seconds(clock: Clock, span: timedelta) -> float:
    """Wall-clock seconds in a span of clock time (a rehearsal's scaled clock runs faster)."""
    return span.total_seconds() / getattr(clock, "factor", 1.0)


def readiness_checks(
    snapshot: OperationsSnapshot | None, problem: str | None, clock: Clock, limits: ReadinessLimits
) -> list[Check]:
    """The three checks, from a snapshot (or the reason there is none)."""
    if snapshot is None:
        unknown = "not checked: the database could not be read"
        return [
            Check("database", False, problem or "the database could not be read"),
            Check("workers", False, unknown),
            Check("backlog", False, unknown),
        ]
    return [
        Check("database", True, "answered SELECT 1"),
        _workers_check(snapshot, clock, limits),
        _backlog_check(snapshot, clock, limits),
    ]


def _workers_check(snapshot: OperationsSnapshot, clock: Clock, limits: ReadinessLimits) -> Check:
    newest = snapshot.newest_heartbeat
    if newest is None:
        return Check("workers", False, "no worker is running: start `shopbridge worker` or serve")
    silence = real_seconds(clock, snapshot.taken_at - newest)
    running = f"{snapshot.running_workers} running, newest heartbeat {_seconds(silence)} ago"
    # Compared in clock time, as stored: the heartbeat interval is real seconds on any clock.
    if snapshot.taken_at - newest > clock_span(clock, limits.worker_silence_seconds):
        return Check(
            "workers",
            False,
            f"no worker heartbeat in the last {_seconds(limits.worker_silence_seconds)} "
            f"({running})",
        )
    return Check("workers", True, running)


def _backlog_check(snapshot: OperationsSnapshot, clock: Clock, limits: ReadinessLimits) -> Check:
    late = []
    for queue in QUEUES:
        since = snapshot.oldest_waiting_since(queue)
        if since is None:
            continue
        waited = real_seconds(clock, snapshot.taken_at - since)
        if waited > limits.max_wait_seconds:
            late.append(f"{queue}: an item has waited {_seconds(waited)} for a worker")
    limit = _seconds(limits.max_wait_seconds)
    if late:
        return Check("backlog", False, f"{'; '.join(late)} (limit {limit})")
    return Check("backlog", True, f"nothing due has waited more than {limit}")


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


class SnapshotCollector(Collector):
    """Prometheus gauges of one database snapshot (or only `shopbridge_database_up 0`)."""

    def __init__(self, snapshot: OperationsSnapshot | None, clock: Clock) -> None:
        self._snapshot = snapshot
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "shopbridge_database_up", "1 when this scrape could read the database, else 0."
        )
        up.add_metric([], 0 if self._snapshot is None else 1)
        yield up
        if self._snapshot is not None:
            yield from self._queues(self._snapshot)
            yield from self._workers(self._snapshot)
            yield from self._merchants(self._snapshot)

    def _age(self, snapshot: OperationsSnapshot, since: datetime | None) -> float:
        if since is None:
            return 0.0
        return max(0.0, real_seconds(self._clock, snapshot.taken_at - since))

    def _queues(self, snapshot: OperationsSnapshot) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "shopbridge_queue_depth",
            "Work waiting per queue: inbox and outbox pending (also in backoff), deadlines due, "
            "stock pushes due.",
            labels=["queue"],
        )
        waiting = GaugeMetricFamily(
            "shopbridge_queue_oldest_waiting_seconds",
            "How long the oldest item a worker could claim now has waited unclaimed (0: none).",
            labels=["queue"],
        )
        for queue in QUEUES:
            depth.add_metric([queue], snapshot.depth(queue))
            waiting.add_metric([queue], self._age(snapshot, snapshot.oldest_waiting_since(queue)))
        kind_depth = GaugeMetricFamily(
            "shopbridge_queue_kind_depth",
            "Work waiting per queue and kind (inbox: source; outbox: command; deadline: kind).",
            labels=["queue", "kind"],
        )
        kind_waiting = GaugeMetricFamily(
            "shopbridge_queue_kind_oldest_waiting_seconds",
            "How long the oldest claimable item of this queue and kind has waited (0: none).",
            labels=["queue", "kind"],
        )
        for item in snapshot.queues:
            kind_depth.add_metric([item.queue, item.kind], item.depth)
            kind_waiting.add_metric(
                [item.queue, item.kind], self._age(snapshot, item.oldest_waiting_since)
            )
        failed = GaugeMetricFamily(
            "shopbridge_queue_failed",
            "Items that failed for good and wait for the merchant's Retry.",
            labels=["queue"],
        )
        for queue, count in snapshot.failed.items():
            failed.add_metric([queue], count)
        yield from (depth, waiting, kind_depth, kind_waiting, failed)

    def _workers(self, snapshot: OperationsSnapshot) -> Iterator[Metric]:
        running = GaugeMetricFamily(
            "shopbridge_workers_running", "Workers registered and not stopped."
        )
        running.add_metric([], snapshot.running_workers)
        yield running
        if snapshot.newest_heartbeat is not None:
            age = GaugeMetricFamily(
                "shopbridge_worker_heartbeat_age_seconds",
                "Seconds since the newest heartbeat of a running worker (absent: no worker).",
            )
            age.add_metric([], self._age(snapshot, snapshot.newest_heartbeat))
            yield age

    def _merchants(self, snapshot: OperationsSnapshot) -> Iterator[Metric]:
        attention = GaugeMetricFamily(
            "shopbridge_orders_needing_attention",
            "Orders flagged for the merchant (listed under Needs attention), per connection id.",
            labels=["connection"],
        )
        for connection_id, count in sorted(snapshot.attention_by_connection.items()):
            attention.add_metric([str(connection_id)], count)
        by_status = GaugeMetricFamily(
            "shopbridge_connections", "Connections per status.", labels=["status"]
        )
        for status, count in snapshot.connections_by_status.items():
            by_status.add_metric([status], count)
        reconnect = GaugeMetricFamily(
            "shopbridge_connections_needing_reconnect",
            "Connections a platform refused (uninstalled, tokens revoked): work waits for the "
            "merchant to reconnect.",
        )
        reconnect.add_metric([], snapshot.connections_by_status.get("needs_reconnect", 0))
        yield from (attention, by_status, reconnect)


class Health:
    """The three endpoints of one app, on its store."""

    def __init__(self, store: Store, limits: ReadinessLimits, metrics_token: str = "") -> None:
        self._store = store
        self._limits = limits
        self._metrics_token = metrics_token
        self._probe = DatabaseProbe(store, limits.database_timeout_seconds)

    async def _snapshot(self) -> tuple[OperationsSnapshot | None, str | None]:
        try:
            return await self._probe.snapshot(), None
        except DatabaseUnavailable as problem:
            return None, str(problem)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(self, request: Request) -> Response:
        snapshot, problem = await self._snapshot()
        checks = readiness_checks(snapshot, problem, self._store.clock, self._limits)
        failing = [c.name for c in checks if not c.ok]
        body = {
            "status": "not ready" if failing else "ready",
            "failing": failing,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    async def metrics(self, request: Request) -> Response:
        if self._metrics_token and not _bearer_matches(request, self._metrics_token):
            return Response(
                "metrics need the bearer token set in metrics_token\n",
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="shopbridge metrics"'},
                media_type="text/plain",
            )
        snapshot, _ = await self._snapshot()
        from_database = CollectorRegistry(auto_describe=False)
        from_database.register(SnapshotCollector(snapshot, self._store.clock))
        # Two expositions end to end are one valid exposition: their metric names differ.
        body = await run_in_threadpool(
            lambda: generate_latest(REGISTRY) + generate_latest(from_database)
        )
        return Response(body, media_type=PROMETHEUS_TEXT)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self.metrics),
        ]


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
