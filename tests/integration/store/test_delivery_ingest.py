"""Group commit of webhook deliveries (store/ingest.py), on SQLite and PostgreSQL.

Each delivery is answered only after the transaction holding it has committed; deliveries that
arrive while a commit is under way share the next one; duplicates are recognised as before, in
the database and inside one batch; a row the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shopbridge.store import Store, create_db_engine, text
from shopbridge.store.db import is_sqlite, write_transaction
from shopbridge.store.ingest import Delivery, DeliveryWriter, insert_deliveries
from shopbridge.store.tables import inbox

HEADERS = {"content-type": "application/json", "authorization": "a" * 64}
MOMENT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def delivery(key: str, *, connection_id: int | None = None, source: str = "tiktok") -> Delivery:
    return Delivery(
        source=source,
        delivery_key=key,
        topic="ORDER_STATUS_CHANGE",
        connection_id=connection_id,
        headers=HEADERS,
        body=f'{{"tts_notification_id":"{key}"}}'.encode(),
        received_at=MOMENT,
    )


def stored_keys(engine: sa.Engine) -> list[str]:
    with engine.connect() as db:
        query = sa.select(inbox.c.delivery_key).order_by(inbox.c.delivery_key)
        return list(db.execute(query).scalars())


@contextmanager
def inbox_writes_blocked(db_url: str) -> Iterator[None]:
    """Another connection holds the inbox's write lock until the block ends, so the writer's
    next transaction waits, and whatever is submitted meanwhile queues for the batch after."""
    engine = create_db_engine(db_url)
    try:
        with write_transaction(engine) as db:
            if not is_sqlite(db):
                db.execute(sa.text("LOCK TABLE inbox IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@pytest.fixture
def writer(db_engine: sa.Engine) -> Iterator[DeliveryWriter]:
    writer = DeliveryWriter(db_engine)
    yield writer
    writer.close()


def wait_until_started(writer: DeliveryWriter, answer: Future[bool]) -> None:
    """The writer has taken `answer`'s delivery into a batch (its transaction is under way)."""
    deadline = time.monotonic() + 5
    while not answer.running() and not answer.done():
        assert time.monotonic() < deadline, "the writer never started the first batch"
        time.sleep(0.005)


def test_concurrent_deliveries_share_a_commit_and_are_answered_only_after_it(
    writer: DeliveryWriter, db_url: str, db_engine: sa.Engine
) -> None:
    """Deliveries that arrive while a commit is under way are stored by the next transaction,
    all together, and none is answered before that transaction has committed."""
    with inbox_writes_blocked(db_url):
        first = writer.submit(delivery("first"))
        wait_until_started(writer, first)
        rest = [writer.submit(delivery(f"next-{n:02d}")) for n in range(20)]
        time.sleep(0.3)
        assert not any(answer.done() for answer in [first, *rest])
        assert stored_keys(db_engine) == []
    assert first.result(timeout=10) is True
    assert [answer.result(timeout=10) for answer in rest] == [True] * 20
    assert (writer.batches, writer.rows) == (2, 21)
    assert len(stored_keys(db_engine)) == 21


async def test_each_answer_comes_after_its_row_is_visible_to_another_connection(
    writer: DeliveryWriter, db_url: str
) -> None:
    """When `record` returns, a separate connection already sees the row (it is committed)."""
    observer = create_db_engine(db_url)
    seen_at_answer: list[bool] = []

    async def record_and_look(key: str) -> None:
        assert await writer.record(delivery(key)) is True
        seen_at_answer.append(f"-:{key}" in stored_keys(observer))

    try:
        await asyncio.gather(*(record_and_look(f"visible-{n:02d}") for n in range(40)))
    finally:
        observer.dispose()
    assert seen_at_answer == [True] * 40
    assert writer.rows == 40


def test_a_duplicate_is_recognised_in_the_database_and_inside_one_batch(
    db_engine: sa.Engine,
) -> None:
    """The same key twice in one batch is stored once, the copy reported as not new, and the
    rows around it are stored; a key the inbox already holds is reported as not new."""
    with write_transaction(db_engine) as db:
        assert insert_deliveries(db, [delivery("a"), delivery("b"), delivery("a")]) == [
            True,
            True,
            False,
        ]
    with write_transaction(db_engine) as db:
        assert insert_deliveries(db, [delivery("b"), delivery("c")]) == [False, True]
    assert stored_keys(db_engine) == ["-:a", "-:b", "-:c"]


def test_duplicates_queued_together_are_stored_once(
    writer: DeliveryWriter, db_url: str, db_engine: sa.Engine
) -> None:
    """Three copies of one delivery in one batch: exactly one caller is told it is new."""
    with inbox_writes_blocked(db_url):
        blocker = writer.submit(delivery("blocker"))
        wait_until_started(writer, blocker)
        copies = [writer.submit(delivery("same")) for _ in range(3)]
        others = [writer.submit(delivery(f"other-{n}")) for n in range(3)]
    assert sorted(answer.result(timeout=10) for answer in copies) == [False, False, True]
    assert [answer.result(timeout=10) for answer in others] == [True] * 3
    assert writer.batches == 2
    assert stored_keys(db_engine) == ["-:blocker", "-:other-0", "-:other-1", "-:other-2", "-:same"]


def test_a_row_the_database_refuses_fails_alone(
    writer: DeliveryWriter, store: Store, db_url: str, db_engine: sa.Engine
) -> None:
    """A delivery for a connection that no longer exists (a foreign key violation) fails its
    own caller; the deliveries batched with it are stored and answered."""
    connection_id = store.add_connection(name="Demo", tiktok_shop_id="7494049642642441621")
    with inbox_writes_blocked(db_url):
        blocker = writer.submit(delivery("blocker"))
        wait_until_started(writer, blocker)
        good = [writer.submit(delivery(f"good-{n}", connection_id=connection_id)) for n in range(3)]
        orphan = writer.submit(delivery("orphan", connection_id=connection_id + 1000))
        more = writer.submit(delivery("more"))
    assert [answer.result(timeout=10) for answer in good] == [True] * 3
    assert more.result(timeout=10) is True
    with pytest.raises(sa.exc.IntegrityError):
        orphan.result(timeout=10)
    keys = stored_keys(db_engine)
    assert keys == sorted(["-:blocker", "-:more", *(f"{connection_id}:good-{n}" for n in range(3))])


def test_record_delivery_still_stores_one_delivery_and_dedupes(store: Store) -> None:
    """Store.record_delivery, for callers outside the receivers, keeps its contract."""
    kwargs = {
        "source": "shopify",
        "delivery_key": "event-1",
        "topic": "orders/updated",
        "connection_id": None,
        "headers": {"x-shopify-topic": "orders/updated\x00"},
        "body": b"{}",
    }
    assert store.record_delivery(**kwargs) is True
    assert store.record_delivery(**kwargs) is False
    [item] = store.inbox_items()
    assert (item.source, item.delivery_key, item.status) == ("shopify", "-:event-1", "pending")
    assert item.received_at == store.clock.now()


def test_an_unknown_source_or_status_is_refused_before_anything_is_queued() -> None:
    """A programming error is raised in the caller, never sent to the database."""
    with pytest.raises(ValueError, match="inbox source"):
        delivery("x", source="ebay")
    with pytest.raises(ValueError, match="inbox status"):
        Delivery("tiktok", "x", "t", None, {}, b"", MOMENT, status="done-ish")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(HEADERS, id="plain"),
        pytest.param({"x-note": "caf\u00e9", "x-nul": "a\x00b"}, id="latin-1-and-nul"),
        pytest.param({"x-long": "v" * 3000}, id="over-long"),
        pytest.param({f"x-{n}": str(n) for n in range(150)}, id="too-many"),
        pytest.param({"x-lone": "\ud800"}, id="lone-surrogate"),
    ],
)
def test_stored_headers_are_what_text_headers_makes_of_them(headers: dict[str, str]) -> None:
    """The receivers' shortcut for plain headers stores exactly what the cleaning would."""
    stored = Delivery("tiktok", "k", "t", None, headers, b"", MOMENT).row()["headers"]
    assert stored == text.headers(headers)
