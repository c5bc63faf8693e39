"""Alembic environment for shopbridge: run programmatically by `store.db.upgrade_database`.

It lives inside the package so that an installed wheel can migrate its own database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from shopbridge.store.db import create_db_engine, is_sqlite
from shopbridge.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as fresh:
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
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("shopbridge migrations run online only (store.db.upgrade_database)")
run_migrations_online()
