"""Units of work: everything one decision changes, committed together or not at all.

A unit holds one open write transaction. For an order it also holds the mirror row's lock, so
two workers handling events of the same order run one after the other (Saleor: assume every
handler runs concurrently with itself). Outbox rows become visible to executors only at commit,
so work is scheduled after the state that asked for it exists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shopbridge.clock import Clock, clock_span
from shopbridge.store import claims, stock, text
from shopbridge.store.records import Fence, LeaseLost, WorkKind
from shopbridge.store.sql import insert_for, prepared_insert_ignoring_conflict
from shopbridge.store.tables import (
    INBOX_STATUSES,
    TIMELINE_KINDS,
    connections,
    deadlines,
    order_mirrors,
    outbox,
    timeline,
)

# Columns of order_mirrors that `save` may set besides the state itself.
PROJECTION_COLUMNS = frozenset(
    {
        "phase",
        "tiktok_status",
        "shopify_order_id",
        "shopify_order_name",
        "tiktok_created_at",
        "paid_at",
        "holdback_ends_at",
        "cancel_request_deadline",
        "needs_attention",
        "attention_reason",
    }
)


class ConnectionUnit:
    """A unit of work for one connection, not about a single order (e.g. an app-level webhook)."""

    def __init__(
        self,
        connection: sa.Connection,
        clock: Clock,
        connection_id: int | None,
        timeline_rows: list[dict[str, Any]] | None = None,
    ) -> None:
        self._db = connection
        self._clock = clock
        self.connection_id = connection_id
        # Timeline lines wait here and are written in one executemany before commit (an
        # event, a decision, a result: several lines per unit, one statement); the order
        # units opened in this unit share the list.
        self._timeline = [] if timeline_rows is None else timeline_rows
        self._order_mirror_id: int | None = None
        self._lease_lost: LeaseLost | None = None
        # Claim (fence) of deadlines this unit rescheduled or cleared, by deadline id: their
        # claim may be finished afterwards in the same unit.
        self._replaced_deadline_locks: dict[int, Fence | None] = {}
        self._orders: list[OrderUnit] = []

    # -- new work ----------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        priority: int,
        run_at: datetime | None = None,
    ) -> bool:
        """Schedule an action; False (and nothing changes) when the key was enqueued before."""
        if self.connection_id is None:
            raise ValueError("actions belong to a connection: open the unit with its id")
        now = self._clock.now()
        statement = prepared_insert_ignoring_conflict(
            self._db.dialect.name, outbox, ("idempotency_key",), "id"
        )
        inserted = self._db.execute(
            statement,
            {
                "connection_id": self.connection_id,
                "order_mirror_id": self._order_mirror_id,
                "kind": kind,
                "payload": dict(payload),
                "idempotency_key": idempotency_key,
                "priority": priority,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": run_at or now,
                "created_at": now,
            },
        ).first()
        return inserted is not None

    # -- finishing claimed items, in this same transaction ------------------------------------

    def finish_inbox(
        self, item_id: int, fence: Fence, status: str, error: str | None = None
    ) -> None:
        if status == "pending" or status not in INBOX_STATUSES:
            raise ValueError(
                f"an inbox item finishes as one of done/ignored/malformed/failed, not {status!r}"
            )
        self._guarded(
            claims.FINISH_INBOX,
            f"inbox item {item_id}",
            fence,
            id=item_id,
            status=status,
            error=error,
            now=self._clock.now(),
        )

    def hold_for_reconnect(self, kind: WorkKind, item_id: int, fence: Fence, error: str) -> None:
        """Put an inbox or outbox item back to wait, with fresh attempts, until the merchant
        reconnects the connection (see `Store.needs_reconnect`)."""
        sql = claims.HOLD_INBOX if kind is WorkKind.INBOX else claims.HOLD_OUTBOX
        what = f"{kind.value} item {item_id}"
        self._guarded(sql, what, fence, id=item_id, error=error, now=self._clock.now())

    def needs_reconnect(self, connection_id: int, reason: str) -> None:
        """The connection lost a platform's access: its work waits until it is reconnected
        (an active connection only; one already waiting keeps its first reason)."""
        self._db.execute(
            connections.update()
            .where(connections.c.id == connection_id, connections.c.status == "active")
            .values(
                status="needs_reconnect",
                reconnect_reason=reason,
                settings_version=connections.c.settings_version + 1,
            )
        )

    def retry_inbox(
        self, item_id: int, fence: Fence, error: str, next_attempt_at: datetime
    ) -> None:
        self._guarded(
            claims.RETRY_INBOX,
            f"inbox item {item_id}",
            fence,
            id=item_id,
            error=error,
            next_attempt_at=next_attempt_at,
        )

    def retry_outbox(
        self, item_id: int, fence: Fence, error: str, next_attempt_at: datetime
    ) -> None:
        self._guarded(
            claims.RETRY_OUTBOX,
            f"outbox item {item_id}",
            fence,
            id=item_id,
            error=error,
            next_attempt_at=next_attempt_at,
        )

    def complete_outbox(self, item_id: int, fence: Fence) -> None:
        self._guarded(
            claims.COMPLETE_OUTBOX,
            f"outbox item {item_id}",
            fence,
            id=item_id,
            now=self._clock.now(),
        )

    def fail_outbox(self, item_id: int, fence: Fence, error: str) -> None:
        self._guarded(
            claims.FAIL_OUTBOX,
            f"outbox item {item_id}",
            fence,
            id=item_id,
            error=error,
            now=self._clock.now(),
        )

    def finish_deadline(self, deadline_id: int, fence: Fence) -> None:
        if deadline_id in self._replaced_deadline_locks:
            # This unit already rescheduled or cleared the claimed deadline: nothing to delete,
            # but the claim must still have been ours.
            if self._replaced_deadline_locks[deadline_id] != fence:
                self._lose(f"deadline {deadline_id}", fence)
            return
        self._guarded(claims.FINISH_DEADLINE, f"deadline {deadline_id}", fence, id=deadline_id)

    def retry_deadline(
        self, deadline_id: int, fence: Fence, error: str, next_attempt_at: datetime
    ) -> None:
        self._guarded(
            claims.RETRY_DEADLINE,
            f"deadline {deadline_id}",
            fence,
            id=deadline_id,
            error=error,
            next_attempt_at=next_attempt_at,
        )

    def fail_deadline(self, deadline_id: int, fence: Fence, error: str) -> None:
        self._guarded(
            claims.FAIL_DEADLINE,
            f"deadline {deadline_id}",
            fence,
            id=deadline_id,
            error=error,
            now=self._clock.now(),
        )

    # -- work about an order that failed outside the domain --------------------------------

    def mark_stock(self, seller_skus: Iterable[str], note: tuple[str, str] | None = None) -> None:
        """These SKUs' TikTok stock is due to follow Shopify again (committed with the unit)."""
        if self.connection_id is not None:
            debounce = clock_span(self._clock, stock.DEBOUNCE_SECONDS)
            now = self._clock.now()
            stock.mark(
                self._db, now, self.connection_id, seller_skus, debounce=debounce, history=note
            )

    def add_timeline_to(self, mirror_id: int, kind: str, summary: str) -> None:
        """A line on an order's timeline written outside a decision (e.g. a retry notice)."""
        self._timeline.append(timeline_row(self._clock.now(), mirror_id, kind, summary, None))

    def mark_stuck(self, mirror_id: int, reason: str) -> None:
        """Show a failure the domain could not record (e.g. a deadline that kept failing)."""
        self._db.execute(
            order_mirrors.update()
            .where(order_mirrors.c.id == mirror_id)
            .values(stuck_reason=reason, needs_attention=True)
        )
        self.add_timeline_to(mirror_id, "flag", reason)

    # -- orders, in this same transaction --------------------------------------------------

    def order(self, connection_id: int, tiktok_order_id: str) -> OrderUnit:
        """This transaction's unit for one order, holding its mirror row locked (created if new).

        Several orders may be opened in one unit (a delivery that concerns several); each is
        checked before the whole transaction commits.
        """
        unit = open_order(
            self._db, self._clock, connection_id, tiktok_order_id, timeline_rows=self._timeline
        )
        self._orders.append(unit)
        return unit

    def _guarded(self, sql: str, what: str, fence: Fence, **parameters: Any) -> None:
        if isinstance(parameters.get("error"), str):  # may quote what a platform or body said
            parameters["error"] = text.clean(parameters["error"], 2000)
        statement = claims.statement(sql, self._db.dialect.name)  # built once, kept
        row = self._db.execute(
            statement, {"worker_id": fence.worker_id, "fence": fence.attempt, **parameters}
        ).first()
        if row is None:
            self._lose(what, fence)

    def _lose(self, what: str, fence: Fence) -> None:
        self._lease_lost = LeaseLost(
            f"{what} is no longer leased by worker {fence.worker_id!r} (claim {fence.attempt})"
        )
        raise self._lease_lost

    def _check_before_commit(self) -> None:
        # A caller that caught LeaseLost inside the block must not commit half a unit.
        if self._lease_lost is not None:
            raise self._lease_lost
        self._write_timeline()
        for unit in self._orders:
            unit._check_before_commit()

    def _write_timeline(self) -> None:
        if self._timeline:
            self._db.execute(timeline.insert(), list(self._timeline))
            self._timeline.clear()


class OrderUnit(ConnectionUnit):
    """A unit of work for one TikTok order, holding its mirror row locked until commit."""

    def __init__(
        self,
        connection: sa.Connection,
        clock: Clock,
        connection_id: int,
        mirror_id: int,
        tiktok_order_id: str,
        state: dict[str, Any] | None,
        is_new: bool,
        stuck_reason: str | None = None,
        timeline_rows: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(connection, clock, connection_id, timeline_rows)
        self._order_mirror_id = mirror_id
        self.mirror_id = mirror_id
        self.tiktok_order_id = tiktok_order_id
        self.is_new = is_new
        self.stuck_reason = stuck_reason
        self._state = state
        self._touched = False

    @property
    def state(self) -> dict[str, Any] | None:
        """The mirror's saved state, None while the order has never been saved."""
        return self._state

    def save(self, state: Mapping[str, Any], **projection: Any) -> None:
        unknown = set(projection) - PROJECTION_COLUMNS
        if unknown:
            raise TypeError(f"not projection columns of order_mirrors: {sorted(unknown)}")
        if self.stuck_reason is not None:
            # Failed work outside the domain stays visible until the merchant retries it.
            reasons = [projection.get("attention_reason"), self.stuck_reason]
            projection["needs_attention"] = True
            projection["attention_reason"] = "; ".join(r for r in reasons if r)
        values = {"state": dict(state), "updated_at": self._clock.now(), **projection}
        self._db.execute(
            _save_statement(tuple(values)),
            {"mirror_id": self.mirror_id, **{f"new_{k}": v for k, v in values.items()}},
        )
        self._state = dict(state)
        self._touched = True

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        priority: int,
        run_at: datetime | None = None,
    ) -> bool:
        self._touched = True
        return super().enqueue(kind, payload, idempotency_key, priority, run_at)

    def set_deadline(self, kind: str, due_at: datetime) -> None:
        """Schedule (or move) this order's deadline of `kind`; a moved deadline is unleased."""
        self._remember_deadline_lock(kind)
        self._db.execute(
            _set_deadline_statement(self._db.dialect.name),
            {"mirror_id": self.mirror_id, "deadline_kind": kind, "due": due_at},
        )
        self._touched = True

    def clear_deadline(self, kind: str) -> None:
        self._remember_deadline_lock(kind)
        self._db.execute(_CLEAR_DEADLINE, {"mirror_id": self.mirror_id, "deadline_kind": kind})

    def clear_deadlines(self, kinds: Iterable[str] | None = None) -> None:
        """Clear the given deadline kinds of this order, or all of them."""
        query = sa.select(deadlines.c.kind).where(deadlines.c.order_mirror_id == self.mirror_id)
        existing = self._db.execute(query).scalars().all()
        wanted = set(existing) if kinds is None else set(kinds)
        for kind in sorted(wanted & set(existing)):
            self.clear_deadline(kind)

    def cancel_pending_outbox(self, kinds: Iterable[str] | None = None) -> int:
        """Cancel this order's pending actions (of `kinds`, or all) that no worker holds now.

        A leased action is left alone: its executor is already running it and re-reads the
        platforms before acting (workflow.md rule 3).
        """
        now = self._clock.now()
        condition = sa.and_(
            outbox.c.order_mirror_id == self.mirror_id,
            outbox.c.status == "pending",
            sa.or_(outbox.c.locked_until.is_(None), outbox.c.locked_until < now),
        )
        if kinds is not None:
            condition = sa.and_(condition, outbox.c.kind.in_(list(kinds)))
        result = self._db.execute(
            outbox.update().where(condition).values(status="cancelled", finished_at=now)
        )
        return result.rowcount

    def add_timeline(
        self, kind: str, summary: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        self._timeline.append(
            timeline_row(self._clock.now(), self.mirror_id, kind, summary, detail)
        )
        self._touched = True

    def _remember_deadline_lock(self, kind: str) -> None:
        row = self._db.execute(
            _DEADLINE_LOCK, {"mirror_id": self.mirror_id, "deadline_kind": kind}
        ).first()
        if row is not None:
            holder = None if row.locked_by is None else Fence(row.locked_by, row.attempts)
            self._replaced_deadline_locks.setdefault(row.id, holder)

    def _check_before_commit(self) -> None:
        super()._check_before_commit()
        if self.is_new and not self._touched:
            # Nothing was decided about this order: leave no empty mirror behind.
            self._db.execute(order_mirrors.delete().where(order_mirrors.c.id == self.mirror_id))


def timeline_row(
    at: datetime, mirror_id: int, kind: str, summary: str, detail: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One timeline line as the parameters of its INSERT (checked now, written later)."""
    if kind not in TIMELINE_KINDS:
        raise ValueError(f"timeline kind must be one of {TIMELINE_KINDS}, not {kind!r}")
    return {
        "order_mirror_id": mirror_id,
        "at": at,
        "kind": kind,
        "summary": summary,
        "detail": None if detail is None else dict(detail),
    }


def insert_timeline(
    connection: sa.Connection,
    at: datetime,
    mirror_id: int,
    kind: str,
    summary: str,
    detail: Mapping[str, Any] | None,
) -> None:
    connection.execute(timeline.insert(), timeline_row(at, mirror_id, kind, summary, detail))


# The statements of a unit of work, built once (see claims.statement for why): values come as
# parameters at execution, never baked into a new statement object.
_LOCK_MIRROR = (
    sa.select(order_mirrors.c.id, order_mirrors.c.state, order_mirrors.c.stuck_reason)
    .where(
        order_mirrors.c.connection_id == sa.bindparam("mirror_connection_id"),
        order_mirrors.c.tiktok_order_id == sa.bindparam("mirror_tiktok_order_id"),
    )
    # On PostgreSQL this waits for a concurrent unit of the same order to commit; on SQLite,
    # BEGIN IMMEDIATE already made this transaction the only writer. NO KEY UPDATE (key_share)
    # still lets other transactions insert rows that reference the mirror (a timeline entry, an
    # action), which FOR UPDATE would block.
    .with_for_update(key_share=True)
)
_DEADLINE_LOCK = (
    sa.select(deadlines.c.id, deadlines.c.locked_by, deadlines.c.attempts)
    .where(
        deadlines.c.order_mirror_id == sa.bindparam("mirror_id"),
        deadlines.c.kind == sa.bindparam("deadline_kind"),
    )
    .with_for_update()
)
_CLEAR_DEADLINE = deadlines.delete().where(
    deadlines.c.order_mirror_id == sa.bindparam("mirror_id"),
    deadlines.c.kind == sa.bindparam("deadline_kind"),
)


@functools.cache
def _save_statement(columns: tuple[str, ...]) -> sa.Update:
    """UPDATE of a mirror's state and these columns (`new_<column>` parameters), version + 1."""
    return (
        order_mirrors.update()
        .where(order_mirrors.c.id == sa.bindparam("mirror_id"))
        .values(
            version=order_mirrors.c.version + 1,
            **{c: sa.bindparam(f"new_{c}", type_=order_mirrors.c[c].type) for c in columns},
        )
    )


@functools.cache
def _set_deadline_statement(dialect_name: str) -> Any:
    """Schedule (or move, unleased and with fresh attempts) an order's deadline of a kind."""
    insert = insert_for(dialect_name, deadlines).values(
        order_mirror_id=sa.bindparam("mirror_id"),
        kind=sa.bindparam("deadline_kind"),
        due_at=sa.bindparam("due", type_=deadlines.c.due_at.type),
    )
    return insert.on_conflict_do_update(
        index_elements=["order_mirror_id", "kind"],
        set_={
            "due_at": insert.excluded.due_at,
            "locked_by": None,
            "locked_until": None,
            "attempts": 0,
            "not_before": None,
            "last_error": None,
            "failed_at": None,
        },
    )


def open_order(
    db: sa.Connection,
    clock: Clock,
    connection_id: int,
    tiktok_order_id: str,
    timeline_rows: list[dict[str, Any]] | None = None,
) -> OrderUnit:
    """Lock one order's mirror row in this transaction (creating it if new) and wrap it;
    `timeline_rows`: the enclosing unit's timeline lines, shared (written together)."""
    tiktok_order_id = str(tiktok_order_id)
    key = {"mirror_connection_id": connection_id, "mirror_tiktok_order_id": tiktok_order_id}
    # Most units are about an order that exists: lock it in one statement. A new one is
    # inserted (a concurrent insert of the same order waits on the unique key, then does
    # nothing) and then locked as an existing one would be.
    mirror = db.execute(_LOCK_MIRROR, key).first()
    created = None
    if mirror is None:
        now = clock.now()
        statement = prepared_insert_ignoring_conflict(
            db.dialect.name, order_mirrors, ("connection_id", "tiktok_order_id"), "id"
        )
        created = db.execute(
            statement,
            {
                "connection_id": connection_id,
                "tiktok_order_id": tiktok_order_id,
                "state": None,
                "version": 0,
                "needs_attention": False,
                "created_at": now,
                "updated_at": now,
            },
        ).first()
        mirror = db.execute(_LOCK_MIRROR, key).one()
    return OrderUnit(
        db,
        clock,
        connection_id,
        mirror.id,
        tiktok_order_id,
        None if mirror.state is None else dict(mirror.state),
        is_new=created is not None,
        stuck_reason=mirror.stuck_reason,
        timeline_rows=timeline_rows,
    )
