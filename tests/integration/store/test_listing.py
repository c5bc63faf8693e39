"""The merchant's list at any size: keyset pages, prefix search, the capped attention count, and
query plans that read the indexes of migration 0011 (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.store import MirrorRow, Store, listing
from shopbridge.store.listing import ListCursor
from shopbridge.store.tables import order_mirrors

PAGE = 3


def save_order(store: Store, connection_id: int, order_id: str, **projection: object) -> None:
    with store.order_unit(connection_id, order_id) as unit:
        unit.save({"order": order_id}, **projection)


def ids(rows: list[MirrorRow]) -> list[str]:
    return [row.tiktok_order_id for row in rows]


def newest_first(store: Store, connection_id: int, **filters: Any) -> list[str]:
    """The whole list in one read, the order every page walk must reproduce."""
    return ids(store.list_mirrors(connection_id, limit=10_000, **filters))


def walk_older(store: Store, connection_id: int, **filters: Any) -> list[list[str]]:
    """Every page from the newest, each read `after` the last row of the one before."""
    pages: list[list[str]] = []
    rows = store.list_mirrors(connection_id, limit=PAGE, **filters)
    while rows:
        pages.append(ids(rows))
        rows = store.list_mirrors(
            connection_id, limit=PAGE, after=ListCursor.of(rows[-1]), **filters
        )
    return pages


@pytest.fixture
def ties(store: Store, manual_clock: ManualClock, connection_id: int) -> list[str]:
    """Eleven orders in four instants, three or so created in the same microsecond each."""
    made: list[str] = []
    for number in range(11):
        if number % 3 == 0:
            manual_clock.advance(timedelta(seconds=1))
        order_id = f"5770001{number:05d}"
        save_order(store, connection_id, order_id, phase="held" if number % 2 else "released")
        made.append(order_id)
    return made


def test_pages_after_a_cursor_cover_the_list_once_in_order(
    store: Store, connection_id: int, ties: list[str]
) -> None:
    """Walking Older from the newest page lists every order exactly once, newest first, even
    where several were created in the same instant (the id breaks the tie)."""
    pages = walk_older(store, connection_id)
    walked = [order_id for page in pages for order_id in page]
    assert walked == newest_first(store, connection_id)
    assert sorted(walked) == sorted(ties)
    assert [len(page) for page in pages] == [3, 3, 3, 2]


def test_pages_before_a_cursor_walk_back_to_the_same_pages(
    store: Store, connection_id: int, ties: list[str]
) -> None:
    """From the oldest page, each page read `before` the first row of the next is the page that
    came before it, newest first."""
    pages = walk_older(store, connection_id)
    rows = store.list_mirrors(connection_id, limit=10_000)
    by_id = {row.tiktok_order_id: row for row in rows}
    for newer, older in itertools.pairwise(pages):
        back = store.list_mirrors(connection_id, limit=PAGE, before=ListCursor.of(by_id[older[0]]))
        assert ids(back) == newer


def test_filters_keep_working_from_a_cursor(
    store: Store, manual_clock: ManualClock, connection_id: int, ties: list[str]
) -> None:
    """A phase, the attention flag and the unpaid rule filter every page, not only the first."""
    manual_clock.advance(timedelta(seconds=1))
    save_order(store, connection_id, "577000200001", phase="held", tiktok_status="UNPAID")
    save_order(store, connection_id, "577000200002", phase="held", needs_attention=True)
    save_order(store, connection_id, "577000200003", phase="released", needs_attention=True)
    for filters in (
        {"phase": "held"},
        {"phase": "held", "include_unpaid": False},
        {"needs_attention": True},
        {"needs_attention": False, "include_unpaid": False},
    ):
        walked = [
            order_id for page in walk_older(store, connection_id, **filters) for order_id in page
        ]
        assert walked == newest_first(store, connection_id, **filters), filters
    assert "577000200001" not in newest_first(store, connection_id, include_unpaid=False)
    assert newest_first(store, connection_id, needs_attention=True) == [
        "577000200003",
        "577000200002",
    ]


def test_cursor_reads_back_from_its_link_text(store: Store, connection_id: int) -> None:
    """A cursor written into a link parses back to the same row's place; anything else is None."""
    save_order(store, connection_id, "1")
    row = store.list_mirrors(connection_id, limit=1)[0]
    cursor = ListCursor.of(row)
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-\d+", str(cursor))
    assert ListCursor.parse(str(cursor)) == cursor
    for junk in ("", "page=2", "20261399T000000.000000Z-1", f"{cursor}x", "x-1"):
        assert ListCursor.parse(junk) is None, junk


@pytest.fixture
def named(store: Store, manual_clock: ManualClock, connection_id: int) -> None:
    for order_id, name in [
        ("577000111222333", "#1001"),
        ("577000111999000", "#10010"),
        ("577000999888777", "#2001"),
        ("578123001001001", "SB1001"),
        ("579000000000000", None),
    ]:
        manual_clock.advance(timedelta(seconds=1))
        save_order(store, connection_id, order_id, shopify_order_name=name)


@pytest.mark.usefixtures("named")
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("1001", ["577000111999000", "577000111222333"]),
        ("#1001", ["577000111999000", "577000111222333"]),
        ("  #10010 ", ["577000111999000"]),
        ("577000111", ["577000111999000", "577000111222333"]),
        ("577000111222333", ["577000111222333"]),
        ("sb10", ["578123001001001"]),
        ("SB1001", ["578123001001001"]),
        ("1112", []),  # the middle of an id: not a prefix
        ("10_1", []),  # LIKE's wildcards are plain characters
        ("%", []),
        ("579", ["579000000000000"]),
    ],
)
def test_search_matches_the_start_of_an_order_number(
    store: Store, connection_id: int, search: str, expected: list[str]
) -> None:
    """Search finds orders whose TikTok id or Shopify name starts with the text; "1001"
    finds "#1001", a Shopify name prefix matches in any case, nothing matches mid-number."""
    assert newest_first(store, connection_id, search=search) == expected


@pytest.mark.usefixtures("named")
def test_broad_search_lists_the_same_orders_as_a_narrow_one(
    store: Store, connection_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the cap of matches sorted by date, the walk in date order finds the same orders,
    page after page."""
    narrow = [newest_first(store, connection_id, search=text) for text in ("57", "#1", "1001")]
    monkeypatch.setattr(listing, "SEARCH_SORT_CAP", 1)
    broad = [newest_first(store, connection_id, search=text) for text in ("57", "#1", "1001")]
    assert broad == narrow
    assert len(narrow[0]) == 5
    pages = walk_older(store, connection_id, search="57")
    assert [order_id for page in pages for order_id in page] == narrow[0]


def test_search_is_per_connection(store: Store, connection_id: int) -> None:
    """Another connection's order with the same number is never found."""
    other = store.add_connection(name="Other shop")
    save_order(store, other, "577000111222333", shopify_order_name="#1001")
    assert newest_first(store, connection_id, search="#1001") == []
    assert newest_first(store, connection_id, search="577") == []


def test_attention_count_counts_flagged_orders_up_to_the_cap(
    store: Store, connection_id: int
) -> None:
    """The count is of this connection's flagged orders (unpaid ones left out when asked), and
    stops at the cap."""
    paid = {"tiktok_status": "AWAITING_SHIPMENT"}
    for number in range(5):
        save_order(store, connection_id, f"a{number}", needs_attention=True, **paid)
    save_order(store, connection_id, "unpaid", needs_attention=True, tiktok_status="UNPAID")
    save_order(store, connection_id, "calm", needs_attention=False, **paid)
    other = store.add_connection(name="Other shop")
    save_order(store, other, "elsewhere", needs_attention=True, **paid)
    assert store.count_needing_attention(connection_id) == 6
    assert store.count_needing_attention(connection_id, include_unpaid=False) == 5
    assert store.count_needing_attention(connection_id, include_unpaid=False, cap=3) == 3
    assert store.count_needing_attention(other) == 1


# -- query plans ---------------------------------------------------------------------------------


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on order_mirrors the store sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "order_mirrors" in statement:
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def plans(store: Store, read: Callable[[], object]) -> list[str]:
    """The plan of each statement `read` sends, one text per statement.

    PostgreSQL's planner would rightly read a table of a few rows whole; with sequential scans
    priced out it still does so where no index can answer, which is what is under test.
    """
    with statements(store) as seen:
        read()
    assert seen, "the read went to the database"
    found = []
    with store.engine.connect() as db:
        if db.dialect.name == "postgresql":
            db.exec_driver_sql("SET enable_seqscan = off")
            for statement, parameters in seen:
                rows = db.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()
                found.append("\n".join(rows))
        else:
            for statement, parameters in seen:
                rows = db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                found.append("\n".join(str(row[-1]) for row in rows))
        db.rollback()
    return found


CROWD = 3000


@pytest.fixture
def crowded(store: Store, connection_id: int) -> None:
    """Thousands of orders, inserted in bulk as a shop's history reads: mostly fulfilled, 2%
    needing attention, Shopify names in sequence; PostgreSQL's statistics then taken."""
    start = store.clock.now() - timedelta(days=30)
    phases = ["fulfilled"] * 6 + ["released"] * 2 + ["cancelled", "held"]
    rows = [
        {
            "connection_id": connection_id,
            "tiktok_order_id": f"5769{number:08d}",
            "state": {"n": number},
            "version": 1,
            "phase": phases[number % len(phases)],
            "tiktok_status": "AWAITING_SHIPMENT",
            "shopify_order_name": f"#{5000 + number}",
            "needs_attention": number % 50 == 0,
            "created_at": start + timedelta(minutes=number),
            "updated_at": start + timedelta(minutes=number),
        }
        for number in range(CROWD)
    ]
    with store.engine.begin() as db:
        db.execute(order_mirrors.insert(), rows)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as db:
            db.exec_driver_sql("ANALYZE order_mirrors")


def reads_no_whole_table(plan: str) -> bool:
    return not re.search(r"^SCAN order_mirrors|Seq Scan on order_mirrors", plan, re.MULTILINE)


@pytest.mark.usefixtures("crowded", "ties", "named")
@pytest.mark.parametrize(
    ("name", "read", "indexes"),
    [
        ("newest page", {}, ["ix_order_mirrors_connection_created_id"]),
        ("older page", {"after": True}, ["ix_order_mirrors_connection_created_id"]),
        ("newer page", {"before": True}, ["ix_order_mirrors_connection_created_id"]),
        (
            "phase",
            {"phase": "held", "after": True},
            ["ix_order_mirrors_connection_phase_created_id"],
        ),
        ("attention", {"needs_attention": True, "after": True}, ["ix_order_mirrors_attention"]),
        (
            "search",
            {"search": "1001"},
            [
                "ix_order_mirrors_connection_shopify_name",
                "ix_order_mirrors_connection_tiktok_prefix",
            ],
        ),
    ],
)
def test_list_reads_use_the_indexes(
    store: Store, connection_id: int, name: str, read: dict[str, Any], indexes: list[str]
) -> None:
    """Every page, filter and search of the list is answered by an index, never by reading
    every order (EXPLAIN on SQLite and PostgreSQL)."""
    cursor = ListCursor.of(store.list_mirrors(connection_id, limit=4)[-1])
    filters = {k: v for k, v in read.items() if k not in ("after", "before")}
    pages = {k: cursor for k in ("after", "before") if k in read}
    found = plans(
        store,
        lambda: store.list_mirrors(
            connection_id, include_unpaid=False, limit=PAGE, **filters, **pages
        ),
    )
    assert all(reads_no_whole_table(plan) for plan in found), (name, found)
    for index in indexes:
        assert any(index in plan for plan in found), (name, index, found)


@pytest.mark.usefixtures("crowded")
def test_attention_count_reads_the_partial_index(store: Store, connection_id: int) -> None:
    """The attention count reads the partial index of flagged orders, never the whole table."""
    found = plans(store, lambda: store.count_needing_attention(connection_id, include_unpaid=False))
    assert all(reads_no_whole_table(plan) for plan in found), found
    assert any("ix_order_mirrors_attention" in plan for plan in found), found
