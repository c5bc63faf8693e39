"""The Store: shopbridge's one door to its database (SQLite or PostgreSQL), all methods sync."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import sqlalchemy as sa

from shopbridge.clock import Clock
from shopbridge.credentials import Tokens
from shopbridge.store import claims, listing
from shopbridge.store.connection_cache import ConnectionCache
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.ingest import Delivery, DeliveryWriter, insert_deliveries
from shopbridge.store.listing import ListCursor
from shopbridge.store.records import (
    ConnectionRecord,
    DeadlineItem,
    Fence,
    InboxItem,
    LeaseLost,
    MirrorRow,
    NotFound,
    OutboxItem,
    TimelineEntry,
    WorkerRecord,
    WorkKind,
)
from shopbridge.store.secrets import SecretBox
from shopbridge.store.sql import insert_ignoring_conflict, upsert
from shopbridge.store.stock import StockSku, StockStore
from shopbridge.store.stock import claim_in as stock_claim_in
from shopbridge.store.tables import (
    SECRET_CONNECTION_COLUMNS,
    connections,
    deadlines,
    inbox,
    order_mirrors,
    outbox,
    stock_skus,
    timeline,
    workers,
)
from shopbridge.store.unit import ConnectionUnit, OrderUnit, insert_timeline, open_order

_CONNECTION_FIELDS = frozenset(connections.c.keys()) - {"id", "created_at", "settings_version"}
# Bookkeeping of the reconciliation schedule: changing it changes nothing a worker caches.
_BOOKKEEPING_FIELDS = frozenset(
    {
        "last_reconciled_at",
        "last_polled_at",
        "reconcile_cursor",
        "last_reconcile_error",
        "webhook_status",
        "last_stock_sync_at",
        "stock_places",
    }
)
Platform = Literal["shopify", "tiktok"]
ClaimedItem = InboxItem | DeadlineItem | OutboxItem | StockSku
# Stock rows a claim round takes per free slot: a worker pushes them a batch per connection.
STOCK_ROWS_PER_SLOT = 50
_QUEUES: dict[WorkKind, sa.Table] = {
    WorkKind.INBOX: inbox,
    WorkKind.DEADLINE: deadlines,
    WorkKind.OUTBOX: outbox,
    WorkKind.STOCK: stock_skus,
}


@dataclass(frozen=True)
class Finding:
    """Something reconciliation found, to be delivered through the inbox like a webhook."""

    delivery_key: str
    topic: str
    body: bytes


@dataclass(frozen=True)
class QueuedAction:
    """An action to put in the outbox that belongs to no order (e.g. a stock correction)."""

    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    priority: int


class Store:
    def __init__(self, engine: sa.Engine, clock: Clock, secrets: SecretBox | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self._secrets = secrets
        self.stock = StockStore(engine, clock)
        # Counts the connection changes made through this Store, so that its ConnectionCache
        # sees them at once (another process's are seen within the cache's check interval).
        self.connections_generation = 0

    @cached_property
    def deliveries(self) -> DeliveryWriter:
        """The group-committing writer the webhook receivers store deliveries through."""
        return DeliveryWriter(self.engine)

    @cached_property
    def connection_cache(self) -> ConnectionCache:
        """The connections in memory, for the webhook receivers (see ConnectionCache)."""
        return ConnectionCache(self)

    # -- connections ---------------------------------------------------------------------------

    def add_connection(self, **fields: Any) -> int:
        values = self._connection_values(fields)
        with write_transaction(self.engine) as db:
            created = db.execute(
                connections.insert()
                .values(created_at=self.clock.now(), **values)
                .returning(connections.c.id)
            )
            connection_id = int(created.scalar_one())
        self.connections_generation += 1
        return connection_id

    def update_connection(self, connection_id: int, **fields: Any) -> None:
        """Change a connection; anything but reconciliation bookkeeping bumps its settings
        version, so every worker rebuilds its cached view of the connection within seconds."""
        values = self._connection_values(fields)
        if not values:
            return
        if set(values) - _BOOKKEEPING_FIELDS:
            values["settings_version"] = connections.c.settings_version + 1
        with write_transaction(self.engine) as db:
            updated = db.execute(
                connections.update().where(connections.c.id == connection_id).values(**values)
            )
            if updated.rowcount == 0:
                raise NotFound(f"no connection {connection_id}")
        if "settings_version" in values:
            self.connections_generation += 1

    def start_reconciliation(self, connection_id: int, due_before: datetime) -> bool:
        """Claim this connection's next reconciliation pass for the caller.

        True (and `last_reconciled_at` set to now) when the last pass started before
        `due_before` or never; False when another worker started one since. One atomic
        UPDATE, so of several workers exactly one runs each pass.
        """
        return self._start_pass(connection_id, connections.c.last_reconciled_at, due_before)

    def start_poll(self, connection_id: int, due_before: datetime) -> bool:
        """Claim this connection's next look for new TikTok orders (as `start_reconciliation`)."""
        return self._start_pass(connection_id, connections.c.last_polled_at, due_before)

    def start_stock_sync(self, connection_id: int, due_before: datetime) -> bool:
        """Claim the connection's scheduled full stock sync (as `start_reconciliation`)."""
        return self._start_pass(connection_id, connections.c.last_stock_sync_at, due_before)

    def _start_pass(
        self, connection_id: int, started: sa.Column[Any], due_before: datetime
    ) -> bool:
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            claimed = db.execute(
                connections.update()
                .where(
                    connections.c.id == connection_id,
                    connections.c.status == "active",
                    sa.or_(started.is_(None), started < due_before),
                )
                .values({started.name: now})
            )
            return claimed.rowcount == 1

    def connection_version(self, connection_id: int) -> int:
        """The connection's settings version (see `update_connection`)."""
        with read_transaction(self.engine) as db:
            version = db.execute(
                sa.select(connections.c.settings_version).where(connections.c.id == connection_id)
            ).scalar()
        if version is None:
            raise NotFound(f"no connection {connection_id}")
        return int(version)

    def needs_reconnect(self, connection_id: int, reason: str) -> None:
        """A platform refused the connection: its work waits until the merchant reconnects."""
        with self.unit(connection_id) as unit:
            unit.needs_reconnect(connection_id, reason)
        self.connections_generation += 1

    def reconnected(self, connection_id: int) -> None:
        """Both platforms accept the connection again: held work resumes, and a reconciliation
        pass runs at once (what happened while it was disconnected is caught up)."""
        with write_transaction(self.engine) as db:
            db.execute(
                connections.update()
                .where(connections.c.id == connection_id)
                .values(
                    status="active",
                    reconnect_reason=None,
                    last_reconciled_at=None,
                    last_polled_at=None,
                    settings_version=connections.c.settings_version + 1,
                )
            )
        self.connections_generation += 1

    def last_deliveries(self, connection_id: int) -> dict[tuple[str, str], datetime]:
        """(platform, topic) -> when its newest webhook arrived, for this connection."""
        newest = sa.func.max(inbox.c.received_at)
        query = (
            sa.select(inbox.c.source, inbox.c.topic, newest)
            .where(
                inbox.c.connection_id == connection_id, inbox.c.source.in_(("tiktok", "shopify"))
            )
            .group_by(inbox.c.source, inbox.c.topic)
        )
        with read_transaction(self.engine) as db:
            return {(source, topic): at for source, topic, at in db.execute(query)}

    # -- platform tokens -------------------------------------------------------------------------

    def tokens(self, connection_id: int, platform: Platform) -> Tokens | None:
        """The platform's current tokens of this connection (decrypted), None without any."""
        cols = _token_columns(platform)
        with read_transaction(self.engine) as db:
            row = db.execute(
                sa.select(cols.access, cols.expires, cols.refresh, cols.refresh_expires).where(
                    connections.c.id == connection_id
                )
            ).first()
        if row is None:
            raise NotFound(f"no connection {connection_id}")
        access, expires_at, refresh, refresh_expires_at = row
        if access is None:
            return None
        return Tokens(
            self._box().decrypt(access),
            expires_at,
            self._box().decrypt(refresh) if refresh is not None else None,
            refresh_expires_at,
        )

    def take_token_lease(
        self, connection_id: int, platform: Platform, owner: str, until: datetime
    ) -> bool:
        """Become the one process renewing this platform's tokens until `until` (a lapsed lease
        is taken over). One atomic UPDATE, so of several processes exactly one renews."""
        cols = _token_columns(platform)
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            taken = db.execute(
                connections.update()
                .where(
                    connections.c.id == connection_id,
                    sa.or_(
                        cols.lease_until.is_(None),
                        cols.lease_until < now,
                        cols.lease_owner == owner,
                    ),
                )
                .values({cols.lease_owner.name: owner, cols.lease_until.name: until})
            )
            return taken.rowcount == 1

    def save_tokens(
        self, connection_id: int, platform: Platform, tokens: Tokens, owner: str | None = None
    ) -> None:
        """Store renewed tokens at once (a rotated refresh token must never be lost) and end
        `owner`'s renewal lease. Tokens are not settings: workers read them when they need to."""
        cols = _token_columns(platform)
        box = self._box()
        values: dict[str, Any] = {
            cols.access.name: box.encrypt(tokens.access_token),
            cols.expires.name: tokens.expires_at,
            cols.refresh.name: box.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
            cols.refresh_expires.name: tokens.refresh_expires_at,
        }
        with write_transaction(self.engine) as db:
            db.execute(connections.update().where(connections.c.id == connection_id).values(values))
            if owner is not None:
                _end_token_lease(db, connection_id, cols, owner)

    def release_token_lease(self, connection_id: int, platform: Platform, owner: str) -> None:
        with write_transaction(self.engine) as db:
            _end_token_lease(db, connection_id, _token_columns(platform), owner)

    def record_reconciliation(
        self,
        connection_id: int,
        findings: list[Finding],
        action: QueuedAction | None,
        cursor: str | None,
    ) -> int:
        """What one reconciliation pass found, in one unit of work: its findings as inbox
        deliveries (a key seen before is skipped), its action, and the cursor moved on (a quick
        look for new orders has no cursor). Returns how many findings were new."""
        now = self.clock.now()
        new = 0
        with self.unit(connection_id) as unit:
            db = unit._db
            for finding in findings:
                inserted = db.execute(
                    insert_ignoring_conflict(db, inbox, ["source", "delivery_key"])
                    .values(
                        source="reconcile",
                        delivery_key=finding.delivery_key,
                        topic=finding.topic,
                        connection_id=connection_id,
                        headers={},
                        body=finding.body,
                        received_at=now,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                    )
                    .returning(inbox.c.id)
                ).first()
                new += inserted is not None
            if action is not None:
                unit.enqueue(action.kind, action.payload, action.idempotency_key, action.priority)
            if cursor is not None:
                db.execute(
                    connections.update()
                    .where(connections.c.id == connection_id)
                    .values(reconcile_cursor=cursor, last_reconcile_error=None)
                )
        return new

    def get_connection(self, connection_id: int) -> ConnectionRecord:
        record = self._one_connection(connections.c.id == connection_id)
        if record is None:
            raise NotFound(f"no connection {connection_id}")
        return record

    def list_connections(self) -> list[ConnectionRecord]:
        with read_transaction(self.engine) as db:
            rows = db.execute(sa.select(connections).order_by(connections.c.id)).mappings().all()
        return [self._connection_record(row) for row in rows]

    def connection_versions(self) -> dict[int, int]:
        """Every connection's id and settings version: the one small read that tells a cache
        which connections changed (see ConnectionCache)."""
        query = sa.select(connections.c.id, connections.c.settings_version)
        with read_transaction(self.engine) as db:
            return {int(cid): int(version) for cid, version in db.execute(query)}

    def connections_by_ids(self, ids: Collection[int]) -> list[ConnectionRecord]:
        """These connections (decrypted), those that exist, by id."""
        if not ids:
            return []
        query = sa.select(connections).where(connections.c.id.in_(list(ids)))
        with read_transaction(self.engine) as db:
            rows = db.execute(query.order_by(connections.c.id)).mappings().all()
        return [self._connection_record(row) for row in rows]

    def connection_by_tiktok_shop(self, shop_id: str) -> ConnectionRecord | None:
        return self._one_connection(connections.c.tiktok_shop_id == str(shop_id))

    def connection_by_shopify_domain(self, domain: str) -> ConnectionRecord | None:
        return self._one_connection(connections.c.shopify_domain == domain.strip().lower())

    def _one_connection(self, condition: sa.ColumnElement[bool]) -> ConnectionRecord | None:
        with read_transaction(self.engine) as db:
            row = db.execute(sa.select(connections).where(condition)).mappings().first()
        return None if row is None else self._connection_record(row)

    def _connection_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - _CONNECTION_FIELDS
        if unknown:
            raise TypeError(f"not connection fields: {sorted(unknown)}")
        values = dict(fields)
        for name in SECRET_CONNECTION_COLUMNS & set(values):
            if values[name] is not None:
                values[name] = self._box().encrypt(values[name])
        if values.get("shopify_domain") is not None:
            values["shopify_domain"] = values["shopify_domain"].strip().lower()
        if values.get("tiktok_shop_id") is not None:
            values["tiktok_shop_id"] = str(values["tiktok_shop_id"])
        return values

    def _connection_record(self, row: sa.RowMapping) -> ConnectionRecord:
        values = dict(row)
        for name in SECRET_CONNECTION_COLUMNS:
            if values[name] is not None:
                values[name] = self._box().decrypt(values[name])
        values["carrier_mapping"] = dict(values["carrier_mapping"] or {})
        return ConnectionRecord(**values)

    def _box(self) -> SecretBox:
        # Only built when a secret is touched, so stores without secrets never create a key file.
        if self._secrets is None:
            self._secrets = SecretBox.from_environment()
        return self._secrets

    # -- inbox ---------------------------------------------------------------------------------

    def record_delivery(
        self,
        *,
        source: str,
        delivery_key: str,
        topic: str,
        connection_id: int | None,
        headers: Mapping[str, Any],
        body: bytes,
        status: str = "pending",
        error: str | None = None,
    ) -> bool:
        """Store one delivery durably; False when the same delivery was stored before.

        Delivery keys are unique per (source, connection): one tenant's deliveries can never
        suppress another's. Whatever the text holds, it is stored (cleaned, capped, over-long
        keys hashed), never refused by the database. The webhook receivers store through
        `deliveries` instead, which shares one commit among concurrent deliveries."""
        delivery = Delivery(
            source=source,
            delivery_key=delivery_key,
            topic=topic,
            connection_id=connection_id,
            headers=headers,
            body=body,
            received_at=self.clock.now(),
            status=status,
            error=error,
        )
        with write_transaction(self.engine) as db:
            [new] = insert_deliveries(db, [delivery])
        return new

    def claim_inbox(self, worker_id: str, limit: int, lease: timedelta) -> list[InboxItem]:
        with write_transaction(self.engine) as db:
            return self._claim_inbox(db, worker_id, limit, lease)

    def _claim_inbox(
        self, db: sa.Connection, worker_id: str, limit: int, lease: timedelta
    ) -> list[InboxItem]:
        ids = self._claim(db, claims.CLAIM_INBOX, worker_id, limit, lease)
        if not ids:
            return []
        rows = db.execute(_CLAIMED_INBOX, {"ids": ids}).mappings()
        return [_inbox_item(row) for row in rows]

    def claim_round(
        self,
        worker_id: str,
        lease: timedelta,
        slots: int,
        batch_size: int,
        first_priority: int,
    ) -> list[tuple[WorkKind, ClaimedItem]]:
        """A worker's claim round for `slots` free slots, in one transaction: first the actions
        of `first_priority` or more urgent (stock reservations) on their own; then, only when
        none of those waits any more (fewer came than asked), the other queues share the slots
        left (deadlines, other actions, deliveries, stock rows: each its share first, then what
        the others did not take). At most `batch_size` of each. One transaction, so a round
        costs one commit, however many queues it visits."""
        claimed: list[tuple[WorkKind, ClaimedItem]] = []
        wanted = min(slots, batch_size)
        if wanted <= 0:
            return claimed
        with write_transaction(self.engine) as db:
            urgent = self._claim_outbox(db, worker_id, wanted, lease, first_priority)
            claimed += [(WorkKind.OUTBOX, item) for item in urgent]
            if len(urgent) == wanted:
                return claimed  # more may wait: the other queues get no slot meanwhile
            # The slots left are shared: each queue first gets its share, then what the others
            # left. A stream of deliveries must not starve holdback deadlines and releases.
            kinds = (WorkKind.DEADLINE, WorkKind.OUTBOX, WorkKind.INBOX, WorkKind.STOCK)
            used = len(claimed)
            taken = dict.fromkeys(kinds, 0)
            share = max(1, -(-(slots - used) // len(kinds)))
            for cap in (share, batch_size):
                for kind in kinds:
                    left = min(slots - used, cap - taken[kind], batch_size - taken[kind])
                    if left <= 0:
                        continue
                    items: list[Any]
                    if kind is WorkKind.INBOX:
                        items = self._claim_inbox(db, worker_id, left, lease)
                    elif kind is WorkKind.DEADLINE:
                        items = self._claim_deadlines(db, worker_id, left, lease)
                    elif kind is WorkKind.OUTBOX:
                        items = self._claim_outbox(db, worker_id, left, lease, claims.ANY_PRIORITY)
                    else:
                        # Stock rows are pushed a batch per connection: a slot takes up to
                        # STOCK_ROWS_PER_SLOT of them (see the worker).
                        items = stock_claim_in(
                            db, self.clock.now(), worker_id, STOCK_ROWS_PER_SLOT * left, lease
                        )
                    slots_taken = (
                        -(-len(items) // STOCK_ROWS_PER_SLOT)
                        if kind is WorkKind.STOCK
                        else len(items)
                    )
                    taken[kind] += slots_taken
                    used += slots_taken
                    claimed += [(kind, item) for item in items]
        return claimed

    def retry_inbox(
        self, item_id: int, fence: Fence, error: str, next_attempt_at: datetime
    ) -> None:
        with self.unit(None) as unit:
            unit.retry_inbox(item_id, fence, error, next_attempt_at)

    def finish_inbox(
        self, item_id: int, fence: Fence, status: str, error: str | None = None
    ) -> None:
        with self.unit(None) as unit:
            unit.finish_inbox(item_id, fence, status, error)

    def requeue_inbox(self, item_id: int, connection_id: int) -> bool:
        """A merchant's Retry of a failed delivery; False if it is not a failed one of theirs."""
        return self._requeue(claims.REQUEUE_INBOX, item_id, inbox.c.connection_id, connection_id)

    def failed_inbox(self, connection_id: int, limit: int = 20) -> list[InboxItem]:
        """This connection's deliveries that could not be processed, newest first."""
        query = (
            sa.select(inbox)
            .where(inbox.c.connection_id == connection_id, inbox.c.status == "failed")
            .order_by(inbox.c.processed_at.desc(), inbox.c.id.desc())
            .limit(limit)
        )
        with read_transaction(self.engine) as db:
            return [_inbox_item(row) for row in db.execute(query).mappings()]

    def inbox_items(self, status: str | None = None) -> list[InboxItem]:
        query = sa.select(inbox).order_by(inbox.c.id)
        if status is not None:
            query = query.where(inbox.c.status == status)
        with read_transaction(self.engine) as db:
            return [_inbox_item(row) for row in db.execute(query).mappings()]

    # -- outbox --------------------------------------------------------------------------------

    def claim_outbox(
        self,
        worker_id: str,
        limit: int,
        lease: timedelta,
        *,
        max_priority: int = claims.ANY_PRIORITY,
    ) -> list[OutboxItem]:
        """Lease up to `limit` due actions, most urgent first; `max_priority` claims only those
        at least that urgent (a worker claims stock reservations on their own first)."""
        with write_transaction(self.engine) as db:
            return self._claim_outbox(db, worker_id, limit, lease, max_priority)

    def _claim_outbox(
        self, db: sa.Connection, worker_id: str, limit: int, lease: timedelta, max_priority: int
    ) -> list[OutboxItem]:
        ids = self._claim(
            db, claims.CLAIM_OUTBOX, worker_id, limit, lease, max_priority=max_priority
        )
        if not ids:
            return []
        rows = db.execute(_CLAIMED_OUTBOX, {"ids": ids}).mappings()
        return [_outbox_item(row) for row in rows]

    def retry_outbox(
        self, item_id: int, fence: Fence, error: str, next_attempt_at: datetime
    ) -> None:
        with self.unit(None) as unit:
            unit.retry_outbox(item_id, fence, error, next_attempt_at)

    def fail_outbox(self, item_id: int, fence: Fence, error: str) -> None:
        """Give up on an action for good (a 4xx, or retries exhausted); the merchant may Retry."""
        with self.unit(None) as unit:
            unit.fail_outbox(item_id, fence, error)

    def complete_outbox(self, item_id: int, fence: Fence) -> None:
        with self.unit(None) as unit:
            unit.complete_outbox(item_id, fence)

    def requeue_outbox(self, item_id: int, connection_id: int | None = None) -> bool:
        """A merchant's Retry: a failed action is due again now; False if it was not failed
        (or, with `connection_id`, not one of that connection's)."""
        owner = None if connection_id is None else outbox.c.connection_id
        return self._requeue(claims.REQUEUE_OUTBOX, item_id, owner, connection_id)

    def connection_actions(
        self, connection_id: int, status: str | None = None, limit: int = 20
    ) -> list[OutboxItem]:
        """Actions that belong to no order (e.g. reconciliation's stock corrections), newest
        first; `status="failed"` lists those waiting for the merchant's Retry."""
        query = _outbox_query().where(
            outbox.c.connection_id == connection_id, outbox.c.order_mirror_id.is_(None)
        )
        if status is not None:
            query = query.where(outbox.c.status == status)
        query = query.order_by(outbox.c.created_at.desc(), outbox.c.id.desc()).limit(limit)
        with read_transaction(self.engine) as db:
            return [_outbox_item(row) for row in db.execute(query).mappings()]

    def save_progress(
        self, item_id: int, fence: Fence, progress: Mapping[str, Any], lease: timedelta
    ) -> None:
        """Record what a resumable action has done so far; raises LeaseLost if not the holder."""
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            statement = _save_progress_statement(db.dialect.name)
            row = db.execute(
                statement,
                {
                    "id": item_id,
                    "worker_id": fence.worker_id,
                    "fence": fence.attempt,
                    "progress": dict(progress),
                    "lease_until": now + lease,
                },
            ).first()
        if row is None:
            raise LeaseLost(f"outbox item {item_id} is no longer leased by {fence.worker_id!r}")

    def _requeue(
        self,
        sql: str,
        item_id: int,
        owner: sa.ColumnElement[Any] | None,
        connection_id: int | None,
    ) -> bool:
        with write_transaction(self.engine) as db:
            if owner is not None:
                table = owner.table
                mine = db.execute(
                    sa.select(table.c.id).where(table.c.id == item_id, owner == connection_id)
                ).first()
                if mine is None:
                    return False
            statement = claims.statement(sql, db.dialect.name)
            return (
                db.execute(statement, {"id": item_id, "now": self.clock.now()}).first() is not None
            )

    def outbox_for_mirror(self, mirror_id: int) -> list[OutboxItem]:
        query = (
            _outbox_query()
            .where(outbox.c.order_mirror_id == mirror_id)
            .order_by(outbox.c.created_at, outbox.c.id)
        )
        with read_transaction(self.engine) as db:
            return [_outbox_item(row) for row in db.execute(query).mappings()]

    # -- deadlines -----------------------------------------------------------------------------

    def claim_deadlines(self, worker_id: str, limit: int, lease: timedelta) -> list[DeadlineItem]:
        with write_transaction(self.engine) as db:
            return self._claim_deadlines(db, worker_id, limit, lease)

    def _claim_deadlines(
        self, db: sa.Connection, worker_id: str, limit: int, lease: timedelta
    ) -> list[DeadlineItem]:
        ids = self._claim(db, claims.CLAIM_DEADLINES, worker_id, limit, lease)
        if not ids:
            return []
        rows = db.execute(_CLAIMED_DEADLINES, {"ids": ids}).mappings()
        return [DeadlineItem(**row) for row in rows]

    def retry_stuck(self, mirror_id: int, in_flight_key: str | None) -> int:
        """A merchant's Retry of an order's stuck work: its failed deadlines, and the failed
        action its decision still waits for (`in_flight_key`), run again with fresh attempts.
        Actions the domain already gave up on are retried through it instead (a new command).
        Returns how many items were requeued; the order is no longer marked stuck."""
        now = self.clock.now()
        requeued = 0
        with write_transaction(self.engine) as db:
            failed_deadlines = db.execute(
                sa.select(deadlines.c.id).where(
                    deadlines.c.order_mirror_id == mirror_id, deadlines.c.failed_at.is_not(None)
                )
            ).scalars()
            statement = claims.statement(claims.REQUEUE_DEADLINE, db.dialect.name)
            for deadline_id in list(failed_deadlines):
                requeued += db.execute(statement, {"id": deadline_id}).first() is not None
            if in_flight_key is not None:
                waited_for = db.execute(
                    sa.select(outbox.c.id).where(
                        outbox.c.order_mirror_id == mirror_id,
                        outbox.c.idempotency_key == in_flight_key,
                        outbox.c.status == "failed",
                    )
                ).scalar()
                if waited_for is not None:
                    statement = claims.statement(claims.REQUEUE_OUTBOX, db.dialect.name)
                    requeued += (
                        db.execute(statement, {"id": waited_for, "now": now}).first() is not None
                    )
            db.execute(
                order_mirrors.update()
                .where(order_mirrors.c.id == mirror_id)
                .values(stuck_reason=None)
            )
        return requeued

    def requeue_deadline(self, deadline_id: int, mirror_id: int) -> bool:
        """A merchant's Retry of a deadline that kept failing; its order is no longer stuck."""
        with write_transaction(self.engine) as db:
            mine = db.execute(
                sa.select(deadlines.c.id).where(
                    deadlines.c.id == deadline_id, deadlines.c.order_mirror_id == mirror_id
                )
            ).first()
            if mine is None:
                return False
            statement = claims.statement(claims.REQUEUE_DEADLINE, db.dialect.name)
            if db.execute(statement, {"id": deadline_id}).first() is None:
                return False
            db.execute(
                order_mirrors.update()
                .where(order_mirrors.c.id == mirror_id)
                .values(stuck_reason=None)
            )
            return True

    def deadlines_for_mirror(self, mirror_id: int) -> list[DeadlineItem]:
        query = (
            sa.select(deadlines, order_mirrors.c.connection_id, order_mirrors.c.tiktok_order_id)
            .join(order_mirrors, order_mirrors.c.id == deadlines.c.order_mirror_id)
            .where(deadlines.c.order_mirror_id == mirror_id)
            .order_by(deadlines.c.due_at, deadlines.c.id)
        )
        with read_transaction(self.engine) as db:
            return [DeadlineItem(**row) for row in db.execute(query).mappings()]

    # -- units of work -------------------------------------------------------------------------

    @contextmanager
    def order_unit(self, connection_id: int, tiktok_order_id: str) -> Iterator[OrderUnit]:
        """One transaction about one order, holding its mirror row locked (created if new)."""
        with write_transaction(self.engine) as db:
            unit = open_order(db, self.clock, connection_id, tiktok_order_id)
            yield unit
            unit._check_before_commit()

    def commit_units(
        self, work: Sequence[tuple[int | None, Callable[[ConnectionUnit], None]]]
    ) -> list[Exception | None]:
        """Several units of work in one transaction (a group commit): each `(connection_id,
        fill)` is a unit as `unit(connection_id)` opens it, filled by `fill`. Returns, for each,
        None when it was committed or the exception that stopped it (nothing of it was kept).

        One commit for many units: each commit waits for the disk (SQLite syncs every commit,
        PostgreSQL flushes its WAL), so the worker records the items that finished meanwhile
        together. A unit that raises is left out and the others are written again without it
        (rare: a lost lease, a bug), so no unit depends on another. When the database refuses
        the batch as a whole (a deadlock between two workers' batches, a lost connection), each
        unit is tried once more on its own, and what that raises is its outcome."""
        outcomes: list[Exception | None] = [None] * len(work)
        pending = list(range(len(work)))
        while pending:
            current: int | None = None
            try:
                with write_transaction(self.engine) as db:
                    for current in pending:
                        self._fill_unit(db, *work[current])
                    current = None
                return outcomes
            except Exception as error:
                if len(pending) > 1 and isinstance(error, sa.exc.DBAPIError):
                    for index in pending:
                        outcomes[index] = self._commit_alone(*work[index])
                    return outcomes
                if current is None:
                    raise
                outcomes[current] = error
                pending.remove(current)
        return outcomes

    def _fill_unit(
        self,
        db: sa.Connection,
        connection_id: int | None,
        fill: Callable[[ConnectionUnit], None],
    ) -> None:
        unit = ConnectionUnit(db, self.clock, connection_id)
        fill(unit)
        unit._check_before_commit()

    def _commit_alone(
        self, connection_id: int | None, fill: Callable[[ConnectionUnit], None]
    ) -> Exception | None:
        try:
            with write_transaction(self.engine) as db:
                self._fill_unit(db, connection_id, fill)
        except Exception as error:
            return error
        return None

    @contextmanager
    def unit(self, connection_id: int | None) -> Iterator[ConnectionUnit]:
        """One transaction for work that is not about one order (same finish/enqueue methods)."""
        with write_transaction(self.engine) as db:
            unit = ConnectionUnit(db, self.clock, connection_id)
            yield unit
            unit._check_before_commit()

    # -- mirrors and timeline ------------------------------------------------------------------

    def get_mirror(self, connection_id: int, tiktok_order_id: str) -> MirrorRow | None:
        return self._one_mirror(
            sa.and_(
                order_mirrors.c.connection_id == connection_id,
                order_mirrors.c.tiktok_order_id == str(tiktok_order_id),
            )
        )

    def mirror_by_shopify_order(
        self, connection_id: int, shopify_order_id: str
    ) -> MirrorRow | None:
        """The mirror whose Shopify order this is (Shopify webhooks name only their order)."""
        return self._one_mirror(
            sa.and_(
                order_mirrors.c.connection_id == connection_id,
                order_mirrors.c.shopify_order_id == shopify_order_id,
            )
        )

    def mirrors_by_shopify_orders(
        self, connection_id: int, shopify_order_ids: Collection[str]
    ) -> list[MirrorRow]:
        """The mirrors of these Shopify orders (those that are mirrors), in one query."""
        if not shopify_order_ids:
            return []
        query = sa.select(order_mirrors).where(
            order_mirrors.c.connection_id == connection_id,
            order_mirrors.c.shopify_order_id.in_(list(shopify_order_ids)),
        )
        with read_transaction(self.engine) as db:
            return [_mirror_row(row) for row in db.execute(query).mappings()]

    def mirrored_order_ids(self, connection_id: int, tiktok_order_ids: Collection[str]) -> set[str]:
        """Which of these TikTok orders have a mirror here."""
        if not tiktok_order_ids:
            return set()
        query = sa.select(order_mirrors.c.tiktok_order_id).where(
            order_mirrors.c.connection_id == connection_id,
            order_mirrors.c.tiktok_order_id.in_([str(i) for i in tiktok_order_ids]),
        )
        with read_transaction(self.engine) as db:
            return set(db.execute(query).scalars())

    def get_mirror_by_id(self, mirror_id: int) -> MirrorRow | None:
        return self._one_mirror(order_mirrors.c.id == mirror_id)

    def list_mirrors(
        self,
        connection_id: int,
        *,
        phase: str | None = None,
        search: str | None = None,
        include_unpaid: bool = True,
        needs_attention: bool | None = None,
        limit: int = 50,
        offset: int = 0,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[MirrorRow]:
        """Mirrors of one connection, newest first, for the merchant's list.

        `include_unpaid=False` hides orders TikTok still reports as UNPAID (workflow.md row 1:
        not listed yet); an unpaid order TikTok then cancelled is listed. `search` matches the
        start of the TikTok order id or Shopify order name. Pages: `after` a row's cursor, or
        the `limit` rows just `before` one (still returned newest first); `offset` reads and
        skips rows, for the CLI's one screen only (store/listing.py says why pages use cursors).
        """
        filters = listing.MirrorFilter(
            phase=phase,
            search=search,
            include_unpaid=include_unpaid,
            needs_attention=needs_attention,
        )
        with read_transaction(self.engine) as db:
            rows = listing.list_mirrors(
                db, connection_id, filters, limit=limit, offset=offset, after=after, before=before
            )
        return [_mirror_row(row) for row in rows]

    def count_needing_attention(
        self, connection_id: int, *, include_unpaid: bool = True, cap: int = 100
    ) -> int:
        """How many of the connection's orders need attention, up to `cap` (shown as "cap+")."""
        query = listing.attention_count_query(connection_id, include_unpaid=include_unpaid, cap=cap)
        with read_transaction(self.engine) as db:
            return int(db.execute(query).scalar_one())

    def phase_counts(self, connection_id: int) -> dict[str, int]:
        """How many of the connection's mirrors are in each phase (for progress reports)."""
        query = (
            sa.select(order_mirrors.c.phase, sa.func.count())
            .where(order_mirrors.c.connection_id == connection_id)
            .group_by(order_mirrors.c.phase)
        )
        with read_transaction(self.engine) as db:
            return {str(phase): int(count) for phase, count in db.execute(query)}

    def backlog(self) -> dict[str, int]:
        """Work waiting now: pending deliveries, pending actions, deadlines due, and what
        failed for good (deliveries, actions, deadlines), for operators and rehearsals."""
        now = self.clock.now()

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
            return sa.select(sa.func.count()).select_from(table).where(*where)

        counts = {
            "deliveries pending": count(inbox, inbox.c.status == "pending"),
            "actions pending": count(outbox, outbox.c.status == "pending"),
            "deadlines due": count(
                deadlines, deadlines.c.due_at <= now, deadlines.c.failed_at.is_(None)
            ),
            "stock pushes due": count(stock_skus, stock_skus.c.due_at.is_not(None)),
            "deliveries failed": count(inbox, inbox.c.status == "failed"),
            "actions failed": count(outbox, outbox.c.status == "failed"),
            "deadlines failed": count(deadlines, deadlines.c.failed_at.is_not(None)),
        }
        with read_transaction(self.engine) as db:
            return {name: int(db.execute(query).scalar_one()) for name, query in counts.items()}

    def timeline(self, mirror_id: int) -> list[TimelineEntry]:
        query = (
            sa.select(timeline)
            .where(timeline.c.order_mirror_id == mirror_id)
            .order_by(timeline.c.at, timeline.c.id)
        )
        with read_transaction(self.engine) as db:
            return [
                TimelineEntry(**{**row, "detail": _dict_or_none(row["detail"])})
                for row in db.execute(query).mappings()
            ]

    def add_timeline(
        self, mirror_id: int, kind: str, summary: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        with write_transaction(self.engine) as db:
            insert_timeline(db, self.clock.now(), mirror_id, kind, summary, detail)

    def _one_mirror(self, condition: sa.ColumnElement[bool]) -> MirrorRow | None:
        with read_transaction(self.engine) as db:
            row = db.execute(sa.select(order_mirrors).where(condition)).mappings().first()
        return None if row is None else _mirror_row(row)

    # -- leases and workers ----------------------------------------------------------------

    def hold(self, kind: WorkKind, item_id: int, fence: Fence, lease: timedelta) -> bool:
        """Renew one claim if it is still this fence's; False when it was lost.

        Called before a remote effect whenever the claim's lease may be running short (see
        `engine.worker.ClaimLease`): a worker that lost its claim must not act.
        """
        table = _QUEUES[kind]
        with write_transaction(self.engine) as db:
            renewed = db.execute(
                table.update()
                .where(
                    table.c.id == item_id,
                    table.c.locked_by == fence.worker_id,
                    table.c.attempts == fence.attempt,
                )
                .values(locked_until=self.clock.now() + lease)
            )
            return renewed.rowcount == 1

    def register_worker(self, worker_id: str, host: str, pid: int) -> None:
        """A worker starts (a name used before starts afresh: a fixed id, say)."""
        now = self.clock.now()
        row = {"host": host, "pid": pid, "started_at": now, "heartbeat_at": now}
        with write_transaction(self.engine) as db:
            db.execute(
                upsert(
                    db,
                    workers,
                    ["id"],
                    {"id": worker_id, **row},
                    update={**row, "stopped_at": None, "stop_reason": None},
                )
            )

    def beat(
        self, worker_id: str, held: Mapping[WorkKind, Collection[int]], lease: timedelta
    ) -> None:
        """A worker's heartbeat: it is alive, and so are the leases of the items it holds."""
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            db.execute(workers.update().where(workers.c.id == worker_id).values(heartbeat_at=now))
            for kind, ids in held.items():
                if ids:
                    table = _QUEUES[kind]
                    db.execute(
                        table.update()
                        .where(table.c.id.in_(list(ids)), table.c.locked_by == worker_id)
                        .values(locked_until=now + lease)
                    )

    def release(self, worker_id: str, held: Mapping[WorkKind, Collection[int]]) -> None:
        """Give back claimed items this worker will not start (it is stopping): due at once."""
        with write_transaction(self.engine) as db:
            for kind, ids in held.items():
                if ids:
                    table = _QUEUES[kind]
                    db.execute(
                        table.update()
                        .where(table.c.id.in_(list(ids)), table.c.locked_by == worker_id)
                        .values(locked_by=None, locked_until=None)
                    )

    def stop_worker(self, worker_id: str, reason: str) -> None:
        with write_transaction(self.engine) as db:
            db.execute(
                workers.update()
                .where(workers.c.id == worker_id, workers.c.stopped_at.is_(None))
                .values(stopped_at=self.clock.now(), stop_reason=reason[:200])
            )

    def reap_dead_workers(
        self, host: str, alive: Callable[[int], bool], exclude: str
    ) -> list[WorkerRecord]:
        """Release at once every lease held by a worker of this host whose process is gone.

        A worker on the same host can ask the operating system whether a sibling's process
        still exists, so a crashed sibling's items come back now instead of after its lease.
        """
        with read_transaction(self.engine) as db:
            rows = db.execute(
                sa.select(workers).where(
                    workers.c.host == host, workers.c.stopped_at.is_(None), workers.c.id != exclude
                )
            ).mappings()
            candidates = [WorkerRecord(**row) for row in rows]
        dead = [w for w in candidates if not alive(w.pid)]
        for worker in dead:
            with write_transaction(self.engine) as db:
                for table in _QUEUES.values():
                    db.execute(
                        table.update()
                        .where(table.c.locked_by == worker.id)
                        .values(locked_by=None, locked_until=None)
                    )
                db.execute(
                    workers.update()
                    .where(workers.c.id == worker.id)
                    .values(stopped_at=self.clock.now(), stop_reason="process gone")
                )
        return dead

    def list_workers(self, include_stopped: bool = False) -> list[WorkerRecord]:
        query = sa.select(workers).order_by(workers.c.started_at, workers.c.id)
        if not include_stopped:
            query = query.where(workers.c.stopped_at.is_(None))
        with read_transaction(self.engine) as db:
            return [WorkerRecord(**row) for row in db.execute(query).mappings()]

    # -- claims --------------------------------------------------------------------------------

    def _claim(
        self,
        db: sa.Connection,
        sql: str,
        worker_id: str,
        limit: int,
        lease: timedelta,
        **more: Any,
    ) -> list[int]:
        if lease <= timedelta(0):
            raise ValueError("a lease must be positive")
        now = self.clock.now()
        statement = claims.statement(sql, db.dialect.name)
        parameters = {
            "worker_id": worker_id,
            "now": now,
            "lease_until": now + lease,
            "limit": limit,
            **more,
        }
        return list(db.execute(statement, parameters).scalars())


@functools.cache
def _save_progress_statement(dialect_name: str) -> sa.TextClause:
    """SAVE_PROGRESS with its JSON parameter typed, once per dialect (as claims.statement)."""
    return claims.statement(claims.SAVE_PROGRESS, dialect_name).bindparams(
        sa.bindparam("progress", type_=outbox.c.progress.type)
    )


def _outbox_query() -> sa.Select[Any]:
    return sa.select(outbox, order_mirrors.c.tiktok_order_id).outerjoin(
        order_mirrors, order_mirrors.c.id == outbox.c.order_mirror_id
    )


# The rows a claim just leased, read back: built once (see claims.statement), the ids expanded
# into the IN list at execution.
_CLAIMED_IDS: sa.BindParameter[int] = sa.bindparam("ids", expanding=True)
_CLAIMED_INBOX = (
    sa.select(inbox)
    .where(inbox.c.id.in_(_CLAIMED_IDS))
    .order_by(inbox.c.next_attempt_at, inbox.c.id)
)
_CLAIMED_OUTBOX = (
    _outbox_query()
    .where(outbox.c.id.in_(_CLAIMED_IDS))
    .order_by(outbox.c.priority, outbox.c.next_attempt_at, outbox.c.id)
)
_CLAIMED_DEADLINES = (
    sa.select(deadlines, order_mirrors.c.connection_id, order_mirrors.c.tiktok_order_id)
    .join(order_mirrors, order_mirrors.c.id == deadlines.c.order_mirror_id)
    .where(deadlines.c.id.in_(_CLAIMED_IDS))
    .order_by(deadlines.c.due_at, deadlines.c.id)
)


def _inbox_item(row: sa.RowMapping) -> InboxItem:
    return InboxItem(**{**row, "headers": dict(row["headers"]), "body": bytes(row["body"])})


def _outbox_item(row: sa.RowMapping) -> OutboxItem:
    return OutboxItem(**{**row, "payload": dict(row["payload"])})


def _mirror_row(row: sa.RowMapping) -> MirrorRow:
    return MirrorRow(**{**row, "state": _dict_or_none(row["state"])})


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@dataclass(frozen=True)
class _TokenColumns:
    access: sa.Column[Any]
    expires: sa.Column[Any]
    refresh: sa.Column[Any]
    refresh_expires: sa.Column[Any]
    lease_owner: sa.Column[Any]
    lease_until: sa.Column[Any]


def _token_columns(platform: Platform) -> _TokenColumns:
    c = connections.c
    return _TokenColumns(
        c[f"{platform}_access_token"],
        c[f"{platform}_token_expires_at"],
        c[f"{platform}_refresh_token"],
        c[f"{platform}_refresh_expires_at"],
        c[f"{platform}_token_lease_owner"],
        c[f"{platform}_token_lease_until"],
    )


def _end_token_lease(
    db: sa.Connection, connection_id: int, cols: _TokenColumns, owner: str
) -> None:
    db.execute(
        connections.update()
        .where(connections.c.id == connection_id, cols.lease_owner == owner)
        .values({cols.lease_owner.name: None, cols.lease_until.name: None})
    )
