"""The two dialect-specific INSERT forms the store needs, behind one call each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignoring_conflict(
    connection: sa.Connection, table: sa.Table, unique_columns: list[str]
) -> Any:
    """INSERT .. ON CONFLICT (unique_columns) DO NOTHING: atomic even under concurrent inserts."""
    return _insert(connection, table).on_conflict_do_nothing(index_elements=unique_columns)


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
