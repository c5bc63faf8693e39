"""Alembic environment for shopbridge: run programmatically by `store.db.upgrade_database`.

It lives inside the package so that an installed wheel can migrate its own database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from shopbridge.store.db import (
    MIGRATION_BUSY_TIMEOUT_MS,
    create_db_engine,
    is_sqlite,
    take_write_lock_at_begin,
)
from shopbridge.store.tables import metadata

config = context.config

# An arbitrary constant naming "shopbridge schema migration" among advisory locks.
_LOCK_KEY = 0x5B_0D_6E_01


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(
        config.get_main_option("sqlalchemy.url") or "", busy_timeout_ms=MIGRATION_BUSY_TIMEOUT_MS
    )
    try:
        with engine.connect() as fresh:
            take_write_lock_at_begin(fresh)
            _run(fresh)
    finally:
        engine.dispose()


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=is_sqlite(connection),
        # One transaction for the whole upgrade on SQLite too. Alembic otherwise commits after
        # each revision there, so a second process waiting on the lock got in between two
        # revisions, read an old version and applied a revision again (duplicate column).
        transactional_ddl=True,
    )
    with context.begin_transaction():
        # Several workers may start (and migrate) at once: the first migrates, the others wait
        # and then find the database at head. SQLite: the BEGIN IMMEDIATE taken above.
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("shopbridge migrations run online only (store.db.upgrade_database)")
run_migrations_online()
