"""Shared database fixtures: every test that asks for them runs on SQLite AND PostgreSQL.

- `db_url`: the URL of a clean database migrated to head (a fresh SQLite file, or PostgreSQL
  tables emptied in this session's own schema; ids are not reset). Parametrised over
  `db_backend`.
- `db_engine`, `store`: an engine / a `Store` on that database, with `manual_clock` and
  `secret_box`.
- `postgres_url`: the same clean database, PostgreSQL only (for tests that need processes).
- `empty_db_url`: an empty, unmigrated database on each backend.

PostgreSQL comes from SHOPBRIDGE_TEST_PG_URL; without it PostgreSQL tests are skipped, except
under CI=true, where a missing URL fails them (CI must never silently skip PostgreSQL). Each test
session migrates its own schema once (so concurrent runs against one server do not collide) and
drops it at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import sqlalchemy as sa

    from shopbridge.clock import ManualClock
    from shopbridge.store import SecretBox, Store

PG_URL_VARIABLE = "SHOPBRIDGE_TEST_PG_URL"


def _postgres_server_url() -> str:
    url = os.environ.get(PG_URL_VARIABLE, "").strip()
    if url:
        return url
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true but {PG_URL_VARIABLE} is not set: CI must run the PostgreSQL tests")
    pytest.skip(f"set {PG_URL_VARIABLE} to run the PostgreSQL tests")


def _admin_engine(server_url: str) -> sa.Engine:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from shopbridge.store import normalize_url

    return sa.create_engine(
        normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )


def _url_in_schema(server_url: str, schema: str) -> str:
    """The server URL with every connection's search_path set to `schema` (survives pickling)."""
    from sqlalchemy.engine import make_url

    from shopbridge.store import normalize_url

    url = make_url(normalize_url(server_url)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    return url.render_as_string(hide_password=False)


@pytest.fixture
def _fresh_postgres_schema() -> Iterator[str]:
    """A new empty schema; yields its URL and drops the schema afterwards."""
    server_url = _postgres_server_url()
    yield from _schema_lifetime(server_url)


def _schema_lifetime(server_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"shopbridge_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(server_url)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _url_in_schema(server_url, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _migrated_postgres_session_url() -> Iterator[str]:
    from shopbridge.store import upgrade_database

    server_url = _postgres_server_url()
    for url in _schema_lifetime(server_url):
        upgrade_database(url)
        yield url


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shopbridge.store import upgrade_database

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


def _empty_all_tables(url: str) -> None:
    import sqlalchemy as sa

    from shopbridge.store import create_db_engine
    from shopbridge.store.tables import metadata

    # DELETE, not TRUNCATE: on a handful of rows it is ~100x faster (TRUNCATE recreates each
    # table's files). Ids are therefore not reset between tests.
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(sa.delete(table))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def postgres_url(_migrated_postgres_session_url: str) -> str:
    """A clean PostgreSQL database migrated to head (this session's schema, tables emptied)."""
    _empty_all_tables(_migrated_postgres_session_url)
    return _migrated_postgres_session_url


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean database migrated to head, on each backend."""
    if db_backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    template: Path = request.getfixturevalue("_migrated_sqlite_template")
    path = tmp_path / "shopbridge.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database that has never been migrated, on each backend."""
    if db_backend == "postgresql":
        return str(request.getfixturevalue("_fresh_postgres_schema"))
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest.fixture
def db_engine(db_url: str) -> Iterator[sa.Engine]:
    from shopbridge.store import create_db_engine

    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def manual_clock() -> ManualClock:
    from shopbridge.clock import ManualClock

    return ManualClock()


@pytest.fixture
def secret_box() -> SecretBox:
    from shopbridge.store import SecretBox

    return SecretBox(SecretBox.generate_key())


@pytest.fixture
def store(db_engine: sa.Engine, manual_clock: ManualClock, secret_box: SecretBox) -> Store:
    from shopbridge.store import Store

    return Store(db_engine, manual_clock, secret_box)
