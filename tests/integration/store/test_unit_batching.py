"""Fewer statements and commits per unit of work, same contents (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from shopbridge.store import ConnectionUnit, LeaseLost, Store


def _count_statements(engine: sa.Engine) -> Counter[str]:
    """Statements `engine` sends from now on, by their first three words."""
    seen: Counter[str] = Counter()

    def sent(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        seen[" ".join(sql.split()[:3])] += 1

    sa.event.listen(engine, "before_cursor_execute", sent)
    return seen


def test_a_units_timeline_lines_are_one_insert_in_their_order(
    store: Store, connection_id: int
) -> None:
    """Every timeline line of a unit is written by one statement at commit, in order."""
    statements = _count_statements(store.engine)
    with store.order_unit(connection_id, "577000000001") as unit:
        unit.add_timeline("event", "TikTok order read")
        unit.add_timeline("decision", "Reserving the stock", {"why": "new order"})
        unit.add_timeline("note", "nothing else to do")
        unit.save({"n": 1}, phase="reserving")
        mirror_id = unit.mirror_id

    assert statements["INSERT INTO timeline"] == 1
    entries = store.timeline(mirror_id)
    assert [(e.kind, e.summary) for e in entries] == [
        ("event", "TikTok order read"),
        ("decision", "Reserving the stock"),
        ("note", "nothing else to do"),
    ]
    assert entries[1].detail == {"why": "new order"}


def test_a_unit_about_an_existing_order_locks_it_with_one_statement(
    store: Store, connection_id: int
) -> None:
    """Opening an order that exists reads and locks its row, and inserts nothing."""
    with store.order_unit(connection_id, "577000000002") as unit:
        unit.save({"n": 1}, phase="reserving")
    statements = _count_statements(store.engine)
    with store.order_unit(connection_id, "577000000002") as unit:
        assert not unit.is_new and unit.state == {"n": 1}
    assert statements["INSERT INTO order_mirrors"] == 0
    assert statements["SELECT order_mirrors.id, order_mirrors.state,"] == 1


def _saving(order_id: str, *, fails: bool = False) -> Callable[[ConnectionUnit], None]:
    def fill(unit: ConnectionUnit) -> None:
        assert unit.connection_id is not None
        order = unit.order(unit.connection_id, order_id)
        order.save({"order": order_id}, phase="held")
        order.add_timeline("note", f"saved {order_id}")
        if fails:
            raise LeaseLost(f"the claim about {order_id} was lost")

    return fill


def test_a_group_commit_keeps_every_unit_but_the_one_that_failed(
    store: Store, connection_id: int
) -> None:
    """Store.commit_units: three units, the middle one raising, commit the other two in one
    transaction; nothing of the failed one is kept, and its error is its outcome."""
    commits = [0]
    sa.event.listen(store.engine, "commit", lambda _c: commits.__setitem__(0, commits[0] + 1))

    outcomes = store.commit_units(
        [
            (connection_id, _saving("577000000011")),
            (connection_id, _saving("577000000012", fails=True)),
            (connection_id, _saving("577000000013")),
        ]
    )

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], LeaseLost)
    assert commits[0] == 1
    for order_id in ("577000000011", "577000000013"):
        row = store.get_mirror(connection_id, order_id)
        assert row is not None and row.state == {"order": order_id}
        assert [e.summary for e in store.timeline(row.id)] == [f"saved {order_id}"]
    assert store.get_mirror(connection_id, "577000000012") is None


def test_a_unit_the_database_refuses_has_that_refusal_as_its_outcome(
    store: Store, connection_id: int
) -> None:
    """A unit about an unknown connection (a foreign key the database refuses) gets the
    database's error as its outcome, and the unit beside it is committed."""
    outcomes = store.commit_units(
        [(10_000_000, _saving("577000000021")), (connection_id, _saving("577000000022"))]
    )
    assert isinstance(outcomes[0], sa.exc.IntegrityError)
    assert outcomes[1] is None
    assert store.get_mirror(10_000_000, "577000000021") is None
    assert store.get_mirror(connection_id, "577000000022") is not None
