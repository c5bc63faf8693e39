"""The two dialect-specific INSERT forms the store needs, behind one call each."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect_name: str, table: sa.Table) -> Any:
    """The INSERT of this dialect (which has ON CONFLICT) into `table`."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    return module.insert(table)


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    return insert_for(connection.dialect.name, table)


def insert_ignoring_conflict(
    connection: sa.Connection, table: sa.Table, unique_columns: list[str]
) -> Any:
    """INSERT .. ON CONFLICT (unique_columns) DO NOTHING: atomic even under concurrent inserts."""
    return _insert(connection, table).on_conflict_do_nothing(index_elements=unique_columns)


@functools.cache
def prepared_insert_ignoring_conflict(
    dialect_name: str, table: sa.Table, unique_columns: tuple[str, ...], returning: str | None
) -> Any:
    """`insert_ignoring_conflict` built once per dialect, its values given at execution
    (`connection.execute(statement, {column: value})`): a statement object that is reused
    keeps its SQLAlchemy cache key, so it is neither rebuilt, keyed nor compiled again."""
    statement = insert_for(dialect_name, table).on_conflict_do_nothing(
        index_elements=list(unique_columns)
    )
    return statement if returning is None else statement.returning(table.c[returning])


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    unique_columns: list[str],
    values: Mapping[str, Any],
    *,
    update: Mapping[str, Any],
) -> Any:
    """INSERT .. ON CONFLICT (unique_columns) DO UPDATE SET update."""
    return (
        _insert(connection, table)
        .values(**values)
        .on_conflict_do_update(index_elements=unique_columns, set_=dict(update))
    )
