"""What an operator watches, read in one snapshot: queues, workers, attention, connections.

Read by `/readyz` and by every `/metrics` scrape, so each query is a grouped count over an index
(the claim indexes on status / due time, the tiny workers and connections tables), never a walk
of finished work. Orders needing attention are counted through the partial index of flagged
orders (`ix_order_mirrors_attention`, migration 0011).

"Waiting" means what a worker could claim right now and nobody has: due, not leased, not held
back by a retry's backoff, and not of a connection that waits for the merchant (needs
reconnect, paused). How long the oldest such item has waited says whether workers keep up;
items in backoff or held for the merchant say nothing about the workers and are only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shopbridge.store.db import read_transaction
from shopbridge.store.tables import (
    CONNECTION_STATUSES,
    connections,
    deadlines,
    inbox,
    order_mirrors,
    outbox,
    stock_skus,
    workers,
)
from shopbridge.store.types import UTCDateTime

QUEUES = ("inbox", "outbox", "deadline", "stock")


@dataclass(frozen=True)
class QueueKind:
    """One kind of work in one queue: inbox by source, outbox by command kind, deadlines by
    kind, stock pushes as one kind."""

    queue: str
    kind: str
    depth: int
    oldest_waiting_since: datetime | None
    """When the oldest claimable, unclaimed item became claimable; None when there is none."""


@dataclass(frozen=True)
class OperationsSnapshot:
    taken_at: datetime
    queues: tuple[QueueKind, ...]
    failed: dict[str, int]
    """Per queue, items that failed for good and wait for the merchant's Retry."""
    running_workers: int
    """Workers registered and not stopped (a crashed one stays until reaped)."""
    newest_heartbeat: datetime | None
    """The most recent heartbeat of a running worker; None when there is none."""
    attention_by_connection: dict[int, int]
    connections_by_status: dict[str, int]

    def oldest_waiting_since(self, queue: str) -> datetime | None:
        moments = [
            q.oldest_waiting_since
            for q in self.queues
            if q.queue == queue and q.oldest_waiting_since is not None
        ]
        return min(moments, default=None)

    def depth(self, queue: str) -> int:
        return sum(q.depth for q in self.queues if q.queue == queue)


def ping(engine: sa.Engine) -> None:
    """`SELECT 1`: raises when the database cannot be reached."""
    with engine.connect() as db:
        db.execute(sa.text("SELECT 1")).scalar_one()


def read_snapshot(engine: sa.Engine, now: datetime) -> OperationsSnapshot:
    """Everything /readyz and /metrics show, in one read transaction."""
    with read_transaction(engine) as db:
        queues = (
            *_kinds(db, "inbox", _inbox_query(now)),
            *_kinds(db, "outbox", _outbox_query(now)),
            *_kinds(db, "deadline", _deadline_query(now)),
            *_kinds(db, "stock", _stock_query(now)),
        )
        failed = {
            queue: int(db.execute(query).scalar_one())
            for queue, query in {
                "inbox": _count(inbox, inbox.c.status == "failed"),
                "outbox": _count(outbox, outbox.c.status == "failed"),
                "deadline": _count(deadlines, deadlines.c.failed_at.is_not(None)),
            }.items()
        }
        running, newest = db.execute(
            sa.select(
                sa.func.count(),
                sa.func.max(workers.c.heartbeat_at, type_=UTCDateTime()),
            ).where(workers.c.stopped_at.is_(None))
        ).one()
        attention = {
            int(connection_id): int(count)
            for connection_id, count in db.execute(_attention_counts())
        }
        statuses = dict.fromkeys(CONNECTION_STATUSES, 0)
        for status, count in db.execute(
            sa.select(connections.c.status, sa.func.count()).group_by(connections.c.status)
        ):
            statuses[str(status)] = int(count)
    return OperationsSnapshot(
        taken_at=now,
        queues=queues,
        failed=failed,
        running_workers=int(running),
        newest_heartbeat=newest,
        attention_by_connection=attention,
        connections_by_status=statuses,
    )


def _kinds(db: sa.Connection, queue: str, query: sa.Select[Any]) -> list[QueueKind]:
    return [
        QueueKind(queue, str(kind), int(depth), since) for kind, depth, since in db.execute(query)
    ]


def _count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(table).where(*where)


def _held_connections() -> sa.Select[Any]:
    # As the claim queries: work of a connection that is not active waits for the merchant.
    return sa.select(connections.c.id).where(connections.c.status != "active")


def _unleased(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now)


def _oldest(
    claimable: sa.ColumnElement[bool], since: sa.ColumnElement[Any]
) -> sa.ColumnElement[Any]:
    return sa.func.min(sa.case((claimable, since)), type_=UTCDateTime())


def _inbox_query(now: datetime) -> sa.Select[Any]:
    claimable = sa.and_(
        inbox.c.next_attempt_at <= now,
        _unleased(inbox, now),
        sa.or_(inbox.c.connection_id.is_(None), inbox.c.connection_id.not_in(_held_connections())),
    )
    return (
        sa.select(inbox.c.source, sa.func.count(), _oldest(claimable, inbox.c.next_attempt_at))
        .where(inbox.c.status == "pending")
        .group_by(inbox.c.source)
    )


def _outbox_query(now: datetime) -> sa.Select[Any]:
    claimable = sa.and_(
        outbox.c.next_attempt_at <= now,
        _unleased(outbox, now),
        outbox.c.connection_id.not_in(_held_connections()),
    )
    return (
        sa.select(outbox.c.kind, sa.func.count(), _oldest(claimable, outbox.c.next_attempt_at))
        .where(outbox.c.status == "pending")
        .group_by(outbox.c.kind)
    )


def _deadline_query(now: datetime) -> sa.Select[Any]:
    # A deadline that failed an attempt waits until `not_before`; from then on it waits for us.
    claimable_since = sa.case(
        (deadlines.c.not_before > deadlines.c.due_at, deadlines.c.not_before),
        else_=deadlines.c.due_at,
    )
    claimable = sa.and_(
        sa.or_(deadlines.c.not_before.is_(None), deadlines.c.not_before <= now),
        _unleased(deadlines, now),
    )
    return (
        sa.select(deadlines.c.kind, sa.func.count(), _oldest(claimable, claimable_since))
        .where(deadlines.c.due_at <= now, deadlines.c.failed_at.is_(None))
        .group_by(deadlines.c.kind)
    )


def _stock_query(now: datetime) -> sa.Select[Any]:
    claimable = sa.and_(
        stock_skus.c.due_at <= now,
        _unleased(stock_skus, now),
        stock_skus.c.connection_id.not_in(_held_connections()),
    )
    return (
        sa.select(
            sa.literal_column("'push'"), sa.func.count(), _oldest(claimable, stock_skus.c.due_at)
        )
        .where(stock_skus.c.due_at.is_not(None))
        # Without GROUP BY an empty table still gives one row (0, NULL): drop it like the rest.
        .having(sa.func.count() > 0)
    )


def _attention_counts() -> sa.Select[Any]:
    # As the orders list and the alert digest count them: unpaid orders are not listed yet.
    # `== true()` is how the partial index's condition is written: the planner then uses it.
    return (
        sa.select(order_mirrors.c.connection_id, sa.func.count())
        .where(
            order_mirrors.c.needs_attention == sa.true(),
            sa.func.coalesce(order_mirrors.c.tiktok_status, "UNPAID") != "UNPAID",
        )
        .group_by(order_mirrors.c.connection_id)
    )
