"""Engines and migrations for the two supported databases.

SQLite (one file, the embedded default) and PostgreSQL (several worker processes). Everything
else in the store is written once against both.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url

# Ask for a write lock at BEGIN on SQLite (see `write_transaction`).
_BEGIN_IMMEDIATE = "shopbridge_begin_immediate"
SQLITE_BUSY_TIMEOUT_MS = 5000
# A process starting while another migrates waits for the whole upgrade (one transaction).
MIGRATION_BUSY_TIMEOUT_MS = 120_000
_ALEMBIC_IN_PROCESS = threading.Lock()
# The database holds the connections' tokens (encrypted) and the orders' addresses: what
# shopbridge creates for it is for the account that runs shopbridge only.
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL for a user's database URL: plain `postgresql://` means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite:///path or postgresql://user:password@host/db"
        )
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine_or_connection: sa.Engine | sa.Connection) -> bool:
    return engine_or_connection.dialect.name == "sqlite"


def create_db_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> sa.Engine:
    """An engine for `url`, configured for shopbridge's transactions on either database;
    `busy_timeout_ms`: how long a SQLite writer waits for another's write lock."""
    sa_url = make_url(normalize_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(sa_url, busy_timeout_ms)
    return sa.create_engine(sa_url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def _sqlite_engine(sa_url: sa.URL, busy_timeout_ms: int) -> sa.Engine:
    if sa_url.database in (None, "", ":memory:"):
        # Each pooled connection would get its own empty in-memory database.
        raise ValueError("shopbridge needs a SQLite file, not an in-memory database")
    if not sa_url.query.get("uri"):
        _create_private_file(Path(sa_url.database))
    engine = sa.create_engine(
        sa_url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    )
    _SQLITE_WRITERS[engine] = (threading.RLock(), busy_timeout_ms / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # The pysqlite recipe (SQLAlchemy docs, "Transactions with SQLite and the sqlite3
        # driver"): the driver must not emit its own BEGIN, so that we can emit BEGIN
        # IMMEDIATE for claims and units of work, and DDL is transactional for migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL, not WAL's usual NORMAL: a webhook answered 2xx must survive a power cut too
        # (workflow.md rule 7), so each commit is synced to disk before we reply.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A deferred transaction that reads and then writes can fail at once with
        # SQLITE_BUSY when another writer got in between (no busy wait applies); writers
        # therefore take the write lock up front, and wait for it up to busy_timeout.
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _create_private_file(path: Path) -> None:
    """Create a new SQLite file (and its folder) readable by this account only, before SQLite
    would create it 0644 less the umask. SQLite gives the -wal and -shm files the database
    file's permissions, so they are private too. What exists already is left as it is: the
    operator may have placed and shared it on purpose."""
    path.parent.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    # An empty file is an empty database to SQLite. O_EXCL: a file that exists (another
    # process may have made it a moment ago) is not touched; any other failure is left to
    # SQLite, which says why in the words the CLI shows.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def take_write_lock_at_begin(connection: sa.Connection) -> None:
    """Make this connection's transactions BEGIN IMMEDIATE on SQLite (no effect elsewhere)."""
    connection.execution_options(**{_BEGIN_IMMEDIATE: True})


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction that will write: BEGIN IMMEDIATE on SQLite, a plain BEGIN on PostgreSQL."""
    with _writers_of(engine), engine.connect() as connection:
        take_write_lock_at_begin(connection)
        with connection.begin():
            yield connection


@contextmanager
def _writers_of(engine: sa.Engine) -> Iterator[None]:
    writers = _SQLITE_WRITERS.get(engine)
    if writers is None:
        yield
        return
    lock, busy_timeout = writers
    # Waiting longer than SQLite itself would means a writer of this process waits for
    # another of its own (a test holding a write open, say): go on to SQLite's lock, which
    # answers "database is locked" after its busy timeout, as without this queue.
    queued = lock.acquire(timeout=busy_timeout)
    try:
        yield
    finally:
        if queued:
            lock.release()


# SQLite has one writer at a time. Threads of one process that all ask SQLite for the write lock
# wait in its busy handler, which sleeps (1 ms, then 2, 5, 10 .. 100 ms between tries) instead
# of waking when the lock is free: a worker with several items in flight spent most of its time
# asleep there. They queue on a lock of the process instead and take SQLite's write lock in
# turn, at once; other processes still meet at SQLite's lock. Reentrant: a thread may nest.
# The value: the lock, and the engine's busy timeout in seconds.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One read-only transaction (a consistent snapshot on both databases)."""
    with engine.connect() as connection, connection.begin():
        yield connection


def alembic_config(url: str) -> Config:
    """The Alembic configuration for the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", "shopbridge.store:migrations")
    # Alembic's config is ConfigParser-based: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Migrate the database at `url` to the newest schema (Alembic `upgrade head`).

    Safe to call from several processes at once (the migration takes a database lock); calls
    within one process are serialised because Alembic keeps its running context in a global.
    """
    with _ALEMBIC_IN_PROCESS:
        command.upgrade(alembic_config(url), "head")


def default_database_url() -> str:
    """The embedded default: a SQLite file in `./var/`, which is created (0700) if missing."""
    var = Path.cwd() / "var"
    # Only a folder made here is made private: ./var run from / would be the system's /var.
    var.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    return f"sqlite:///{var / 'shopbridge.sqlite3'}"
