"""Group commit for webhook deliveries: one writer, one transaction per batch, each answer after
its commit.

A verified delivery must be durable before it is answered 200 (workflow.md rule 7). One
transaction per request made every request pay a whole commit (an fsync on SQLite with
synchronous=FULL, a WAL flush on PostgreSQL) and, on SQLite, queue for the one write lock: 371
req/s and a p99 of 640 ms at 16 connections. Here a single writer thread takes every delivery
waiting when it is free, inserts them in one transaction (one INSERT .. ON CONFLICT DO NOTHING,
run for every row by the driver: psycopg sends them in one pipelined round trip) and commits
once; whatever arrives meanwhile waits for the next batch. Each caller is answered only
when the commit holding its row has returned, so "answered" still implies "durable"; under load
the batches grow and the commits are shared, so throughput rises with concurrency instead of
latency.

Duplicates are recognised as `Store.record_delivery` always did, by the inbox's unique
(source, delivery_key): a row the database already holds is reported as not new; the same key
twice in one batch is inserted once, the later copies reported as not new. A batch the database
refuses for one row's sake (its connection deleted meanwhile, say) is retried row by row, so
only that row's caller sees the error. An error of the database itself (locked past the busy
timeout, connection lost) fails the whole batch: nothing was stored, every caller answers 5xx
and the platform retries.

The writer is a thread, not an asyncio task, so that callers on any event loop (uvicorn's, or a
test's background server) share it. A caller prepares its row itself and waits on a future of
its own loop; the writer wakes each loop once per batch. No thread of a pool is held while a
delivery waits, and requests take no connection from the engine's pool: the writer takes one
per batch. (Each request taking a pooled connection, twice, from a thread of Starlette's pool,
is what the PostgreSQL collapse under sustained load most likely was: 40 threads and the
worker's queueing for 10 connections, each waiting up to the pool's 30 s timeout.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from shopbridge.store import text
from shopbridge.store.db import write_transaction
from shopbridge.store.tables import INBOX_SOURCES, INBOX_STATUSES, inbox

log = structlog.get_logger("shopbridge.ingest")

# A batch bigger than this waits for the next commit: it bounds one transaction's size (and the
# SQLite write lock's hold) when thousands arrive at once.
MAX_BATCH = 500
# The writer thread ends after this long without work (and starts again on the next delivery),
# so a Store no longer used does not keep a thread, and through it its engine, alive.
IDLE_EXIT_SECONDS = 5.0


@dataclass(frozen=True)
class Delivery:
    """One delivery to store in the inbox, as the receiver saw it."""

    source: str
    delivery_key: str
    topic: str
    connection_id: int | None
    headers: Mapping[str, Any]
    body: bytes
    received_at: datetime
    status: str = "pending"
    error: str | None = None

    def __post_init__(self) -> None:
        # A programming error, raised in the caller before anything is queued.
        if self.source not in INBOX_SOURCES:
            raise ValueError(f"inbox source must be one of {INBOX_SOURCES}, not {self.source!r}")
        if self.status not in INBOX_STATUSES:
            raise ValueError(f"inbox status must be one of {INBOX_STATUSES}, not {self.status!r}")

    def row(self) -> dict[str, Any]:
        """The inbox row: whatever the text holds, it is cleaned, capped, over-long keys hashed,
        so the database never refuses it for its content."""
        return {
            "source": self.source,
            "delivery_key": stored_key(self.connection_id, self.delivery_key),
            "topic": text.clean(self.topic, 100),
            "connection_id": self.connection_id,
            "headers": _headers(self.headers),
            "body": bytes(self.body),
            "received_at": self.received_at,
            "status": self.status,
            "attempts": 0,
            "next_attempt_at": self.received_at,
            "last_error": None if self.error is None else text.clean(self.error, 2000),
            "processed_at": None if self.status == "pending" else self.received_at,
        }


def _headers(values: Mapping[str, str]) -> dict[str, str]:
    """`text.headers`, with a shortcut for the usual case: plain ASCII, no NUL, short enough
    is stored as it is (what `text.clean` would return for it anyway)."""
    kept = list(values.items())[: text.MAX_HEADERS]
    if all(_plain(name, 200) and _plain(value, 2000) for name, value in kept):
        return dict(kept)
    return text.headers(values)


def _plain(value: object, limit: int) -> bool:
    return (
        isinstance(value, str) and len(value) <= limit and value.isascii() and "\x00" not in value
    )


def stored_key(connection_id: int | None, delivery_key: str) -> str:
    """The inbox key: per connection, so one tenant's deliveries never suppress another's."""
    return text.key(f"{connection_id or '-'}:{delivery_key}", 200)


_COLUMNS = (
    "source",
    "delivery_key",
    "topic",
    "connection_id",
    "headers",
    "body",
    "received_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "processed_at",
)


@dataclass(frozen=True)
class _Statement:
    """The one INSERT of a delivery for a dialect, and how each value is bound."""

    sql: str
    bind: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        # The three moments of a row are one value (or None): bound once, not three times.
        moments: dict[int, Any] = {}
        values = []
        for name, bind in zip(_COLUMNS, self.bind, strict=True):
            value = row[name]
            if bind is None or value is None:
                values.append(value)
            elif isinstance(value, datetime):
                if id(value) not in moments:
                    moments[id(value)] = bind(value)
                values.append(moments[id(value)])
            else:
                values.append(bind(value))
        return tuple(values)


@functools.cache
def _statement(dialect: sa.Dialect) -> _Statement:
    # The column types' own bind processors (UTC datetimes as SQLite text, JSON, bytes), so a
    # row is stored exactly as SQLAlchemy would store it.
    bind = tuple(
        inbox.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in _COLUMNS
    )
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    returning = " RETURNING id" if dialect.name == "postgresql" else ""
    sql = (
        f"INSERT INTO inbox ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))})"
        f" ON CONFLICT (source, delivery_key) DO NOTHING{returning}"
    )
    return _Statement(sql, bind)


@dataclass(frozen=True)
class PreparedDelivery:
    """A delivery's inbox row as the driver takes it, and the key that makes it unique."""

    identity: tuple[str, str]  # (source, stored delivery key)
    parameters: tuple[Any, ...]


def prepare(delivery: Delivery, dialect: sa.Dialect) -> PreparedDelivery:
    """The row for `dialect`. The receivers prepare their row themselves, so the writer thread
    runs little Python and holds the GIL as little as it can."""
    row = delivery.row()
    return PreparedDelivery(
        (row["source"], row["delivery_key"]), _statement(dialect).parameters(row)
    )


def insert_deliveries(db: sa.Connection, deliveries: Sequence[Delivery]) -> list[bool]:
    """Insert `deliveries` in the caller's transaction; for each, whether it is new (False: the
    inbox held it already, or an earlier one of this batch has its key)."""
    return insert_prepared(db, [prepare(d, db.dialect) for d in deliveries])


def insert_prepared(db: sa.Connection, rows: Sequence[PreparedDelivery]) -> list[bool]:
    """`insert_deliveries` for rows prepared already.

    One constant statement, run through the driver for every row: the SQL text never changes, so
    sqlite3 keeps it compiled and psycopg prepares it once, and psycopg sends a batch in one
    round trip (its pipelined `executemany`). SQLAlchemy's multi-row INSERT is slower here: its
    text differs with the batch size, and psycopg parses a long text again on every call
    (measured: 5 ms of a 32-row batch)."""
    first_of_key: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        first_of_key.setdefault(row.identity, index)
    sql = _statement(db.dialect).sql
    parameters = [rows[index].parameters for index in first_of_key.values()]
    dbapi_error = db.dialect.loaded_dbapi.Error
    cursor = db.connection.cursor()
    try:
        if db.dialect.name == "postgresql":
            inserted = _insert_postgresql(cursor, sql, parameters)
        else:
            inserted = []
            for values in parameters:
                cursor.execute(sql, values)
                inserted.append(cursor.rowcount == 1)
    except dbapi_error as error:
        # The driver's error, in SQLAlchemy's words (IntegrityError, OperationalError...), as
        # any other store call would raise it.
        raise sa.exc.DBAPIError.instance(sql, None, error, dbapi_error) from error
    finally:
        cursor.close()
    new_by_index = dict(zip(first_of_key.values(), inserted, strict=True))
    return [new_by_index.get(index, False) for index in range(len(rows))]


def _insert_postgresql(cursor: Any, sql: str, parameters: list[tuple[Any, ...]]) -> list[bool]:
    """Each row's INSERT .. RETURNING in one pipelined round trip; a row returned is new."""
    cursor.executemany(sql, parameters, returning=True)
    inserted = []
    while True:
        inserted.append(cursor.fetchone() is not None)
        if not cursor.nextset():
            return inserted


_STOP = object()
Outcome = bool | Exception


@dataclass(frozen=True)
class _Waiting:
    """A queued delivery and who waits for it: an asyncio future of `loop`, or (loop None) a
    concurrent future of a thread."""

    row: PreparedDelivery
    answer: asyncio.Future[bool] | Future[bool]
    loop: asyncio.AbstractEventLoop | None


class DeliveryWriter:
    """The single writer that group-commits deliveries (see the module docstring)."""

    def __init__(self, engine: sa.Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self.batches = 0  # transactions committed (for benchmarks and tests)
        self.rows = 0  # deliveries those transactions carried

    async def record(self, delivery: Delivery) -> bool:
        """Store `delivery` durably; True when new, False when the inbox already had it.
        Returns only after the transaction holding the row has committed. A caller cancelled
        meanwhile is not answered; its row is stored all the same (a retry is a duplicate)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._put(_Waiting(prepare(delivery, self.engine.dialect), answer, loop))
        return await answer

    def submit(self, delivery: Delivery) -> Future[bool]:
        """Queue `delivery` from a thread; the future resolves after its commit."""
        answer: Future[bool] = Future()
        self._put(_Waiting(prepare(delivery, self.engine.dialect), answer, None))
        return answer

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._starting:
            thread = self._thread
            if thread is None:
                return
            # Under the lock, so that a thread ending for idleness sees it and stays to read it.
            self._queue.put(_STOP)
        thread.join(timeout)
        with self._starting:
            if self._thread is thread:
                self._thread = None

    def _put(self, waiting: _Waiting) -> None:
        # Queued before the thread is checked: a thread about to end for idleness sees it.
        self._queue.put(waiting)
        if self._thread is not None:
            return
        with self._starting:
            if self._thread is None:
                # A daemon: a process exiting mid-batch has answered none of it, so nothing
                # promised is lost (the platforms retry what got no 200).
                thread = threading.Thread(target=self._run, name="shopbridge-ingest", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_SECONDS)
            except queue.Empty:
                with self._starting:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.append(more)
            waiting = [
                w
                for w in batch
                if isinstance(w, _Waiting)
                and (not isinstance(w.answer, Future) or w.answer.set_running_or_notify_cancel())
            ]
            # Answered only after the transaction has committed and its connection is back in
            # the pool (a caller may dispose of the engine as soon as it is answered).
            _answer(waiting, self._write(waiting))

    def _write(self, waiting: list[_Waiting]) -> list[Outcome]:
        """Store `waiting` in one transaction; each caller's outcome: new or not, or the error."""
        if not waiting:
            return []
        try:
            # write_transaction: BEGIN IMMEDIATE on SQLite, queued behind this process's other
            # writers (store/db.py); a connection from the pool, checked in again at the end.
            with write_transaction(self.engine) as db:
                new: list[Outcome] = list(insert_prepared(db, [w.row for w in waiting]))
        except Exception as failure:
            if isinstance(failure, sa.exc.OperationalError) or len(waiting) == 1:
                # The database itself failed (locked, unreachable), or the one row did: none
                # of these rows is stored, and each caller answers 5xx (the platform retries).
                log.error("deliveries not stored", count=len(waiting), error=str(failure)[:300])
                return [failure] * len(waiting)
            # One row spoilt the statement: retry each alone, so only its caller sees the error.
            return [outcome for w in waiting for outcome in self._write([w])]
        self.batches += 1
        self.rows += len(waiting)
        return new


def _answer(waiting: list[_Waiting], outcomes: list[Outcome]) -> None:
    """Resolve every caller's future: one wake-up per event loop for the whole batch, not one
    per delivery (each costs a write to the loop's self-pipe and a turn of its selector)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], Outcome]]] = {}
    for w, outcome in zip(waiting, outcomes, strict=True):
        if w.loop is None:
            assert isinstance(w.answer, Future)
            if isinstance(outcome, Exception):
                w.answer.set_exception(outcome)
            else:
                w.answer.set_result(outcome)
        else:
            assert isinstance(w.answer, asyncio.Future)
            by_loop.setdefault(w.loop, []).append((w.answer, outcome))
    for loop, answers in by_loop.items():
        # A loop closed meanwhile has no one left to answer.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future[bool], Outcome]]) -> None:
    for answer, outcome in answers:
        if answer.done():  # its caller was cancelled (the client went away)
            continue
        if isinstance(outcome, Exception):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)
