"""The merchant's orders list as queries whose cost does not grow with the number of orders.

Three habits keep the list, its search and its "needs attention" count as fast at 100k orders
as at 1k (issue 14), each answered by an index of migration 0011:

- **Keyset paging.** A page starts after (or ends before) one row's `(created_at, id)`, the
  list's own order, so each page walks the index from that row; OFFSET would step over every
  row of the pages before it.
- **Prefix search.** Order numbers are searched by their start, which an index can answer;
  a search for "part of a number" (`LIKE '%x%'`) reads every row.
- **A capped count on a partial index.** The count of orders needing attention reads only
  those orders, and stops at the cap the page shows ("100+").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shopbridge.store.tables import order_mirrors

# Most matches of a search read and sorted by date (see `list_mirrors`).
SEARCH_SORT_CAP = 2000
_CURSOR = re.compile(r"(\d{8}T\d{6}\.\d{6})Z-(\d{1,19})")
_CURSOR_TIME = "%Y%m%dT%H%M%S.%f"
# Surrogates never reach a stored text (store/text.py), so the code point after 0xD7FF that
# bounds a prefix range is 0xE000.
_FIRST_AFTER_SURROGATES = 0xE000


@dataclass(frozen=True)
class ListCursor:
    """One row's place in the newest-first list: where a page starts or ends.

    Written into page links as `20261129T120000.123456Z-1234` (UTC time to the microsecond,
    then the row id that breaks ties between orders created in the same microsecond).
    """

    created_at: datetime
    id: int

    def __str__(self) -> str:
        return f"{self.created_at.astimezone(UTC).strftime(_CURSOR_TIME)}Z-{self.id}"

    @classmethod
    def parse(cls, text: str) -> ListCursor | None:
        """The cursor a link carries, or None when it is not one (an edited or stale URL)."""
        found = _CURSOR.fullmatch(text.strip())
        if found is None:
            return None
        try:
            created_at = datetime.strptime(found.group(1), _CURSOR_TIME).replace(tzinfo=UTC)
        except ValueError:
            return None
        row_id = int(found.group(2))
        return cls(created_at, row_id) if row_id < 2**63 else None

    @classmethod
    def of(cls, row: Any) -> ListCursor:
        """The cursor of a listed row (anything with `created_at` and `id`, e.g. a MirrorRow)."""
        return cls(row.created_at, row.id)


@dataclass(frozen=True)
class MirrorFilter:
    """What the merchant's list shows: each filter is None (or True) to show everything.

    `include_unpaid=False` hides orders TikTok still reports as UNPAID (workflow.md row 1);
    `search` matches the start of the TikTok order id or the Shopify order name.
    """

    phase: str | None = None
    search: str | None = None
    include_unpaid: bool = True
    needs_attention: bool | None = None

    def conditions(self, connection_id: int) -> list[sa.ColumnElement[bool]]:
        """The WHERE terms of these filters but the search (see `list_mirrors`), each written so
        that an index can answer it."""
        mirrors = order_mirrors.c
        conditions: list[sa.ColumnElement[bool]] = [mirrors.connection_id == connection_id]
        if self.phase is not None:
            conditions.append(mirrors.phase == self.phase)
        if self.needs_attention is not None:
            # A literal, not a bound parameter: the planners match it against the partial
            # index's condition only when they see its value (ix_order_mirrors_attention).
            flag = sa.true() if self.needs_attention else sa.false()
            conditions.append(mirrors.needs_attention == flag)
        if not self.include_unpaid:
            conditions.append(sa.func.coalesce(mirrors.tiktok_status, "UNPAID") != "UNPAID")
        return conditions

    @property
    def search_term(self) -> str:
        return (self.search or "").strip()


def list_mirrors(
    db: sa.Connection,
    connection_id: int,
    filters: MirrorFilter,
    *,
    limit: int,
    offset: int = 0,
    after: ListCursor | None = None,
    before: ListCursor | None = None,
) -> list[sa.RowMapping]:
    """One page of the list, newest first: the rows after `after`, or those just before
    `before`, or (neither) the newest; `offset` skips rows, for callers without a cursor.

    A search first asks the prefix indexes which orders match, each index its own column (one
    query over both columns would walk the whole list in date order, filtering). Up to
    SEARCH_SORT_CAP matches are sorted by date here and only the page's rows read whole (the
    planners would rather walk the whole list in date order than sort a few matches). A
    broader search (a few digits that thousands of ids share) walks the list in date order
    instead, keeping the rows among the matches: bounded by the list's length, as without
    any index.
    """
    if after is not None and before is not None:
        raise ValueError("a page starts after one row or ends before one, not both")
    mirrors = order_mirrors.c
    conditions = filters.conditions(connection_id)
    key = sa.tuple_(mirrors.created_at, mirrors.id)
    if after is not None:
        conditions.append(key < sa.tuple_(*_cursor_values(after)))
    if before is not None:
        conditions.append(key > sa.tuple_(*_cursor_values(before)))
    if filters.search_term:
        matching = sa.union_all(
            *(
                sa.select(mirrors.id, mirrors.created_at).where(*conditions, match)
                for match in _search_matches(filters.search_term, db.dialect.name)
            )
        ).subquery()
        found = db.execute(sa.select(matching).limit(SEARCH_SORT_CAP + 1)).all()
        if len(found) <= SEARCH_SORT_CAP:
            places = {row.id: row.created_at for row in found}
            return _read_in_order(db, places, limit, offset, newest_first=before is None)
        conditions.append(mirrors.id.in_(sa.select(matching.c.id)))
    query = sa.select(order_mirrors).where(*conditions)
    if before is not None:
        # The page just before a row is the walk backwards from it, then put newest first.
        query = query.order_by(mirrors.created_at.asc(), mirrors.id.asc())
        return list(db.execute(query.limit(limit).offset(offset)).mappings())[::-1]
    query = query.order_by(mirrors.created_at.desc(), mirrors.id.desc())
    return list(db.execute(query.limit(limit).offset(offset)).mappings())


def _read_in_order(
    db: sa.Connection, places: dict[int, datetime], limit: int, offset: int, *, newest_first: bool
) -> list[sa.RowMapping]:
    """The page of these rows (id -> created_at) in list order, read whole by id.

    Newest first; else (a page `before` a row) the `limit` oldest, then put newest first.
    """
    ordered = sorted(places, key=lambda row_id: (places[row_id], row_id), reverse=newest_first)
    page = ordered[offset : offset + limit]
    if not page:
        return []
    query = sa.select(order_mirrors).where(order_mirrors.c.id.in_(page))
    rows = {row["id"]: row for row in db.execute(query).mappings()}
    in_order = [rows[row_id] for row_id in page if row_id in rows]
    return in_order if newest_first else in_order[::-1]


def _search_matches(term: str, dialect: str) -> list[sa.ColumnElement[bool]]:
    """Each way an order can match `term`: its TikTok id or Shopify name starts with it.

    Shopify names read "#1001", and merchants type "1001" as often as "#1001": both find it.
    A name prefix configured in Shopify ("SB1001") matches as typed or upper-cased. The match
    is otherwise exact (case-sensitive), as order numbers are.
    """
    number = term.lstrip("#")
    names = {term, term.upper()}
    names |= {f"#{name}" for name in names if not name.startswith("#")}
    columns = order_mirrors.c
    matches = [_starts_with(columns.shopify_order_name, name, dialect) for name in sorted(names)]
    if number:
        matches.append(_starts_with(columns.tiktok_order_id, number, dialect))
    return matches


def attention_count_query(connection_id: int, *, include_unpaid: bool, cap: int) -> sa.Select[Any]:
    """How many of the connection's orders need attention, counting no further than `cap`
    (each counted order is one entry of the partial index, whatever the list's length)."""
    flagged = MirrorFilter(include_unpaid=include_unpaid, needs_attention=True)
    query = sa.select(order_mirrors.c.id).where(*flagged.conditions(connection_id))
    return sa.select(sa.func.count()).select_from(query.limit(cap).subquery())


def _starts_with(column: sa.Column[Any], prefix: str, dialect: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix`, case-sensitively, in a form that database's index answers.

    PostgreSQL: LIKE 'prefix%' on a text_pattern_ops index (a range on a plain index would
    follow the database's collation, where "#1001" may sort beside "1001"). SQLite: the range
    [prefix, next) on a plain index, compared byte by byte (its LIKE ignores case and so uses
    no ordinary index); UTF-8 bytes sort as code points do, as Python's strings compare.
    """
    if dialect not in ("postgresql", "sqlite"):
        raise ValueError(f"no prefix search written for the {dialect!r} database")
    if dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    upper = _after_prefix(prefix)
    lower_bound = column >= prefix
    return lower_bound if upper is None else sa.and_(lower_bound, column < upper)


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` (None: there is none)."""
    kept = prefix
    while kept:
        following = ord(kept[-1]) + 1
        if 0xD800 <= following < _FIRST_AFTER_SURROGATES:
            following = _FIRST_AFTER_SURROGATES
        if following <= 0x10FFFF:
            return kept[:-1] + chr(following)
        kept = kept[:-1]
    return None


def _cursor_values(cursor: ListCursor) -> tuple[sa.BindParameter[Any], sa.BindParameter[Any]]:
    # Typed binds: the time goes through UTCDateTime, stored as text on SQLite.
    return (
        sa.bindparam(None, cursor.created_at, type_=order_mirrors.c.created_at.type),
        sa.bindparam(None, cursor.id, type_=order_mirrors.c.id.type),
    )
