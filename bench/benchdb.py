"""The databases the benchmarks run on: a temporary SQLite file, or a PostgreSQL schema of its
own (created for the run and dropped afterwards, so no other table is ever touched)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shopbridge.store import normalize_url

PG_URL_VARIABLES = ("SHOPBRIDGE_BENCH_PG_URL", "SHOPBRIDGE_TEST_PG_URL")


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
    """The PostgreSQL server to benchmark on, from the environment; None to skip its rows."""
    for name in PG_URL_VARIABLES:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return None
