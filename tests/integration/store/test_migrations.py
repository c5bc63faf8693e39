"""Migrations: an empty database reaches head, and head is exactly `tables.metadata`."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shopbridge.store import create_db_engine, default_database_url, normalize_url, upgrade_database
from shopbridge.store.db import alembic_config
from shopbridge.store.tables import metadata

# The newest migration, read from the scripts so a new migration needs no edit here.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite:///unused.sqlite3")).get_current_head()


def test_empty_database_migrates_to_head_without_drift(empty_db_url: str) -> None:
    """An empty database upgraded to head has the schema `tables.metadata` describes, no diff."""
    upgrade_database(empty_db_url)
    engine = create_db_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            assert context.get_current_revision() is not None
    finally:
        engine.dispose()
    assert differences == []


def test_upgrading_twice_changes_nothing(empty_db_url: str) -> None:
    """Running the upgrade on a database already at head is a no-op, not an error."""
    upgrade_database(empty_db_url)
    upgrade_database(empty_db_url)
    engine = create_db_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    assert revision == HEAD


def _migrate_after(start: Any, url: str) -> None:
    start.wait()
    upgrade_database(url)


def test_workers_migrating_at_once_all_succeed(empty_db_url: str) -> None:
    """Three worker processes starting together on an empty database all reach head."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    workers = [context.Process(target=_migrate_after, args=(start, empty_db_url)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    engine = create_db_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
    finally:
        engine.dispose()


def test_migrations_downgrade_to_empty_and_up_again(empty_db_url: str) -> None:
    """Every migration's downgrade works: base leaves no tables, and head can be reached again."""
    upgrade_database(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    engine = create_db_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            left = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert left == set()
    upgrade_database(empty_db_url)


def test_plain_postgresql_urls_are_normalised_to_psycopg() -> None:
    """A user's postgresql:// URL is run with psycopg 3; SQLite URLs pass through."""
    assert normalize_url("postgresql://u:p@127.0.0.1/db") == "postgresql+psycopg://u:p@127.0.0.1/db"
    assert normalize_url("sqlite:////tmp/x.sqlite3") == "sqlite:////tmp/x.sqlite3"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u:p@127.0.0.1/db")


def test_default_database_is_a_sqlite_file_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default lives in ./var/shopbridge.sqlite3, and var/ is created for it."""
    monkeypatch.chdir(tmp_path)
    url = default_database_url()
    assert url == f"sqlite:///{tmp_path / 'var' / 'shopbridge.sqlite3'}"
    assert (tmp_path / "var").is_dir()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    """Every SQLite connection uses WAL, waits 5 s for locks, syncs commits, enforces FKs."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
