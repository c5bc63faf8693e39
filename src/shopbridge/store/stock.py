"""Stock rows: each TikTok SKU's link to Shopify, its queue place, history, rules and full syncs.

Marking a SKU (a change seen on Shopify, a rule edited, an order reserved or cancelled) makes its
row due after a short debounce: a burst of changes is one push. Claims, fences and leases work as
for every queue (store/claims.py); `attempts` only grows, so it stays a fence, and `failures`
counts the pushes that failed in a row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shopbridge.clock import Clock, clock_span
from shopbridge.domain.stock import DEFAULT_RULE, RuleError, StockRule
from shopbridge.store import claims
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.records import Fence, LeaseLost
from shopbridge.store.sql import insert_ignoring_conflict, upsert
from shopbridge.store.tables import (
    connections,
    order_mirrors,
    sku_links,
    stock_history,
    stock_rules,
    stock_skus,
    stock_syncs,
    warehouse_map,
)

# A burst of changes to one SKU within this many real seconds is one push. Counted in real time
# (like leases): the bursts and the platforms' rate limits live there, whatever the clock's pace.
DEBOUNCE_SECONDS = 0.3
HISTORY_KEPT = 200  # rows per SKU; older ones are dropped as new ones come
MAX_SKU_LENGTH = 200

_GONE = ("CANCELLED", "CANCEL")  # a unit TikTok cancelled (display_status)


CSV_HEADER = ("tiktok_sku", "shopify_sku")


class LinkError(ValueError):
    """A SKU mapping that cannot be saved, naming the row; nothing of it was saved."""


def parse_links_csv(data: bytes) -> list[tuple[str, str]]:
    """(TikTok SKU, Shopify SKU) pairs of a mapping CSV whose first row is the header
    `tiktok_sku,shopify_sku`; LinkError naming the row (1 = the first row under the header,
    as `save_links` numbers them)."""
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise LinkError(
            "The file is not UTF-8 text: save it from your spreadsheet as CSV (UTF-8)."
        ) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as broken:
        raise LinkError(f"The file is not a CSV that can be read: {broken}.") from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise LinkError("The file is empty.")
    header = tuple(cell.strip().lower() for cell in _trimmed(rows[0]))
    if header != CSV_HEADER:
        found = ",".join(rows[0])[:100]
        raise LinkError(
            f"The first row must be the header tiktok_sku,shopify_sku (it is {found!r})."
        )
    pairs = []
    for number, row in enumerate(rows[1:], start=1):
        cells = _trimmed(row)
        if len(cells) != 2:
            raise LinkError(
                f"Row {number}: expected 2 columns (tiktok_sku, shopify_sku), found {len(cells)}."
            )
        pairs.append((cells[0], cells[1]))
    if not pairs:
        raise LinkError("The file has no rows under its header: nothing to import.")
    return pairs


def _trimmed(row: Sequence[str]) -> list[str]:
    """The row without empty cells at its end (a spreadsheet's trailing commas)."""
    cells = list(row)
    while len(cells) > 2 and not cells[-1].strip():
        cells.pop()
    return cells


@dataclass(frozen=True)
class StockSku:
    id: int
    connection_id: int
    seller_sku: str
    shopify_sku: str | None
    inventory_item_id: str | None
    tiktok_product_id: str | None
    tiktok_sku_id: str | None
    status: str
    shopify_levels: Mapping[str, int] | None
    levels_changes: int | None
    tiktok_levels: Mapping[str, int] | None
    last_quantity: int | None
    synced_at: datetime | None
    aligned: bool
    due_at: datetime | None
    changes: int
    claimed_changes: int | None
    locked_by: str | None
    locked_until: datetime | None
    attempts: int
    failures: int
    last_error: str | None
    updated_at: datetime

    @property
    def fence(self) -> Fence:
        return Fence(self.locked_by or "", self.attempts)

    @property
    def walked_levels(self) -> Mapping[str, int] | None:
        """Shopify's counts as a full sync's walk read them, when no change came since: the
        push may use them instead of reading Shopify again."""
        if self.levels_changes is not None and self.levels_changes == self.claimed_changes:
            return self.shopify_levels
        return None


@dataclass(frozen=True)
class StockEvent:
    at: datetime
    kind: str
    summary: str


@dataclass(frozen=True)
class StockSync:
    id: int
    connection_id: int
    status: str
    stage: str
    total: int
    done: int
    corrected: int
    problems: int
    message: str | None
    run_by: str | None
    requested_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return 0 if self.total <= 0 else min(99, self.done * 100 // self.total)


@dataclass(frozen=True)
class Pushed:
    """What a push found and did, for `StockStore.finish`."""

    status: str
    last_quantity: int | None = None
    shopify_levels: Mapping[str, int] | None = None
    tiktok_levels: Mapping[str, int] | None = None
    inventory_item_id: str | None = None
    tiktok_product_id: str | None = None
    tiktok_sku_id: str | None = None
    aligned: bool | None = None
    error: str | None = None
    history: tuple[tuple[str, str], ...] = ()  # (kind, summary)


def claim_in(
    db: sa.Connection,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta,
    connection_id: int | None = None,
) -> list[StockSku]:
    """`StockStore.claim` inside the caller's write transaction (a worker's claim round)."""
    statement = claims.statement(claims.CLAIM_STOCK, db.dialect.name)
    parameters = {
        "worker_id": worker_id,
        "now": now,
        "lease_until": now + lease,
        "limit": limit,
        "connection_id": connection_id or 0,
    }
    ids = list(db.execute(statement, parameters).scalars())
    if not ids:
        return []
    rows = db.execute(
        sa.select(stock_skus).where(stock_skus.c.id.in_(ids)).order_by(stock_skus.c.id)
    ).mappings()
    return [_sku(row) for row in rows]


def mark(
    db: sa.Connection,
    now: datetime,
    connection_id: int,
    seller_skus: Iterable[str],
    *,
    debounce: timedelta,
    history: tuple[str, str] | None = None,
) -> int:
    """Make these TikTok SKUs due for a push (rows made for SKUs not seen before); returns how
    many rows. Usable inside any open write transaction (a unit of work's, say)."""
    skus = sorted({s for s in seller_skus if s and len(s) <= MAX_SKU_LENGTH})
    if not skus:
        return 0
    for sku in skus:
        db.execute(
            insert_ignoring_conflict(db, stock_skus, ["connection_id", "seller_sku"]).values(
                connection_id=connection_id, seller_sku=sku, updated_at=now, due_at=now + debounce
            )
        )
    rows = stock_skus.c
    db.execute(
        stock_skus.update()
        .where(rows.connection_id == connection_id, rows.seller_sku.in_(skus))
        .values(
            changes=rows.changes + 1,
            due_at=sa.func.coalesce(rows.due_at, now + debounce),
            status=sa.case((rows.status == "failed", "pending"), else_=rows.status),
            failures=sa.case((rows.due_at.is_(None), 0), else_=rows.failures),
        )
    )
    if history is not None:
        ids = db.execute(
            sa.select(rows.id).where(rows.connection_id == connection_id, rows.seller_sku.in_(skus))
        ).scalars()
        kind, summary = history
        for row_id in ids:
            _add_history(db, row_id, now, kind, summary)
    return len(skus)


def _add_history(db: sa.Connection, row_id: int, at: datetime, kind: str, summary: str) -> None:
    db.execute(
        stock_history.insert().values(stock_sku_id=row_id, at=at, kind=kind, summary=summary[:2000])
    )


class StockStore:
    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.debounce = clock_span(clock, DEBOUNCE_SECONDS)

    # -- marking ---------------------------------------------------------------------------------

    def mark(
        self,
        connection_id: int,
        seller_skus: Iterable[str],
        *,
        history: tuple[str, str] | None = None,
    ) -> int:
        with write_transaction(self.engine) as db:
            return mark(
                db,
                self.clock.now(),
                connection_id,
                seller_skus,
                debounce=self.debounce,
                history=history,
            )

    def mark_shopify(
        self,
        connection_id: int,
        *,
        shopify_skus: Collection[str] = (),
        inventory_item_ids: Collection[str] = (),
        history: tuple[str, str] | None = None,
    ) -> list[str]:
        """Mark the TikTok SKUs that follow these Shopify SKUs or inventory items; returns the
        TikTok SKUs marked. A Shopify SKU not linked yet is marked under its own code (the push
        links it, or reports it unlinked); an unknown inventory item is left to the caller."""
        rows = stock_skus.c
        with write_transaction(self.engine) as db:
            found: set[str] = set()
            if inventory_item_ids:
                found |= set(
                    db.execute(
                        sa.select(rows.seller_sku).where(
                            rows.connection_id == connection_id,
                            rows.inventory_item_id.in_(list(inventory_item_ids)),
                        )
                    ).scalars()
                )
            if shopify_skus:
                linked = dict(
                    db.execute(
                        sa.select(sku_links.c.shopify_sku, sku_links.c.tiktok_sku).where(
                            sku_links.c.connection_id == connection_id,
                            sku_links.c.shopify_sku.in_(list(shopify_skus)),
                        )
                    ).all()
                )
                found |= {linked.get(s, s) for s in shopify_skus}
            mark(
                db, self.clock.now(), connection_id, found, debounce=self.debounce, history=history
            )
            return sorted(found)

    def mark_connection(self, connection_id: int, history: tuple[str, str] | None = None) -> int:
        """Every SKU of the connection is due (its rules or warehouses changed)."""
        with read_transaction(self.engine) as db:
            skus = list(
                db.execute(
                    sa.select(stock_skus.c.seller_sku).where(
                        stock_skus.c.connection_id == connection_id
                    )
                ).scalars()
            )
        with write_transaction(self.engine) as db:
            return mark(
                db, self.clock.now(), connection_id, skus, debounce=self.debounce, history=history
            )

    # -- the queue ---------------------------------------------------------------------------------

    def claim(
        self, worker_id: str, limit: int, lease: timedelta, connection_id: int | None = None
    ) -> list[StockSku]:
        """Lease due rows (of one connection, or any), oldest due first."""
        if lease <= timedelta(0):
            raise ValueError("a lease must be positive")
        with write_transaction(self.engine) as db:
            return claim_in(db, self.clock.now(), worker_id, limit, lease, connection_id)

    def hold_all(self, rows: Sequence[StockSku], lease: timedelta) -> list[StockSku]:
        """Renew the claims on these rows in one transaction, right before a remote write;
        returns the rows whose claim is no longer ours."""
        until = self.clock.now() + lease
        c = stock_skus.c
        lost = []
        with write_transaction(self.engine) as db:
            for row in rows:
                renewed = db.execute(
                    stock_skus.update()
                    .where(
                        c.id == row.id,
                        c.locked_by == row.fence.worker_id,
                        c.attempts == row.fence.attempt,
                    )
                    .values(locked_until=until)
                )
                if renewed.rowcount != 1:
                    lost.append(row)
        return lost

    def finish(self, row: StockSku, fence: Fence, pushed: Pushed) -> None:
        """Record a push (or a finding that needs no push) and end the claim; a change seen
        while it ran makes the row due again. LeaseLost when the claim is no longer ours."""
        if self.finish_all([(row, pushed)]):
            raise LeaseLost(f"stock row {row.id} ({row.seller_sku}) is no longer held")

    def finish_all(self, pushed: Sequence[tuple[StockSku, Pushed]]) -> list[StockSku]:
        """`finish` for many rows in one transaction, each under its own claim's fence;
        returns the rows whose claim was lost (nothing recorded for them)."""
        now = self.clock.now()
        lost = []
        with write_transaction(self.engine) as db:
            for row, outcome in pushed:
                if not _end_in(
                    db, now, row, row.fence, _pushed_values(outcome, now), outcome.history
                ):
                    lost.append(row)
        return lost

    def retry(self, row: StockSku, fence: Fence, error: str, due: datetime) -> None:
        c = stock_skus.c
        values = {
            "locked_by": None,
            "locked_until": None,
            "failures": c.failures + 1,
            "last_error": error[:2000],
            "due_at": due,
            "updated_at": self.clock.now(),
        }
        self._end(row, fence, values, ())

    def fail(self, row: StockSku, fence: Fence, error: str) -> None:
        values = {
            "status": "failed",
            "locked_by": None,
            "locked_until": None,
            "failures": stock_skus.c.failures + 1,
            "last_error": error[:2000],
            "due_at": None,
            "updated_at": self.clock.now(),
        }
        self._end(row, fence, values, (("failed", error),))

    def _end(
        self,
        row: StockSku,
        fence: Fence,
        values: Mapping[str, Any],
        history: Sequence[tuple[str, str]],
    ) -> None:
        with write_transaction(self.engine) as db:
            if not _end_in(db, self.clock.now(), row, fence, values, history):
                raise LeaseLost(f"stock row {row.id} ({row.seller_sku}) is no longer held")

    def retry_now(self, connection_id: int, seller_sku: str | None = None) -> int:
        """The merchant's Retry: failed rows (one, or all of the connection) are due now."""
        c = stock_skus.c
        condition = sa.and_(c.connection_id == connection_id, c.status == "failed")
        if seller_sku is not None:
            condition = sa.and_(condition, c.seller_sku == seller_sku)
        with write_transaction(self.engine) as db:
            done = db.execute(
                stock_skus.update()
                .where(condition)
                .values(status="pending", failures=0, due_at=self.clock.now())
            )
            return int(done.rowcount)

    # -- reading -----------------------------------------------------------------------------------

    def skus(
        self,
        connection_id: int,
        *,
        status: str | None = None,
        search: str = "",
        limit: int = 100,
        offset: int = 0,
    ) -> list[StockSku]:
        c = stock_skus.c
        query = sa.select(stock_skus).where(c.connection_id == connection_id)
        if status:
            query = query.where(c.status == status)
        if search:
            like = f"%{search.lower()}%"
            query = query.where(
                sa.or_(
                    sa.func.lower(c.seller_sku).like(like), sa.func.lower(c.shopify_sku).like(like)
                )
            )
        query = query.order_by(c.seller_sku).limit(limit).offset(offset)
        with read_transaction(self.engine) as db:
            return [_sku(row) for row in db.execute(query).mappings()]

    def sku(self, connection_id: int, seller_sku: str) -> StockSku | None:
        c = stock_skus.c
        with read_transaction(self.engine) as db:
            row = (
                db.execute(
                    sa.select(stock_skus).where(
                        c.connection_id == connection_id, c.seller_sku == seller_sku
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _sku(row)

    def status_counts(self, connection_id: int) -> dict[str, int]:
        c = stock_skus.c
        with read_transaction(self.engine) as db:
            rows = db.execute(
                sa.select(c.status, sa.func.count())
                .where(c.connection_id == connection_id)
                .group_by(c.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def due_count(self, connection_id: int) -> int:
        """SKUs of the connection waiting for a push (due or being pushed)."""
        c = stock_skus.c
        with read_transaction(self.engine) as db:
            return int(
                db.execute(
                    sa.select(sa.func.count()).where(
                        c.connection_id == connection_id, c.due_at.is_not(None)
                    )
                ).scalar_one()
            )

    def history(self, row_id: int, limit: int = HISTORY_KEPT) -> list[StockEvent]:
        h = stock_history.c
        with read_transaction(self.engine) as db:
            rows = db.execute(
                sa.select(h.at, h.kind, h.summary)
                .where(h.stock_sku_id == row_id)
                .order_by(h.at.desc(), h.id.desc())
                .limit(limit)
            ).all()
        return [StockEvent(at, kind, summary) for at, kind, summary in rows]

    def add_history(self, row_id: int, kind: str, summary: str) -> None:
        with write_transaction(self.engine) as db:
            _add_history(db, row_id, self.clock.now(), kind, summary)

    def unreserved(self, connection_id: int, seller_skus: Collection[str]) -> dict[str, int]:
        """Units of each SKU in TikTok orders known here but not reserved in Shopify yet (not
        cancelled either): a push takes them off what TikTok may sell."""
        m = order_mirrors.c
        with read_transaction(self.engine) as db:
            states = db.execute(
                sa.select(m.state).where(
                    m.connection_id == connection_id,
                    m.phase == "new",
                    sa.or_(m.tiktok_status.is_(None), m.tiktok_status != "CANCELLED"),
                )
            ).scalars()
            wanted = set(seller_skus)
            counts: dict[str, int] = {}
            for state in states:
                order = (state or {}).get("tiktok") or {}
                units = order.get("units") or ()
                if units:  # one per line item: the cancelled ones are no longer sold
                    for unit in units:
                        sku = unit.get("seller_sku")
                        if sku in wanted and str(unit.get("status")).upper() not in _GONE:
                            counts[sku] = counts.get(sku, 0) + 1
                    continue
                for line in order.get("lines") or ():
                    sku = line.get("seller_sku")
                    if sku in wanted:
                        counts[sku] = counts.get(sku, 0) + int(line.get("quantity") or 1)
        return counts

    # -- links found by a full sync or a push ------------------------------------------------------

    def save_found_links(
        self, connection_id: int, found: Iterable[Mapping[str, Any]], *, mark_due: bool = False
    ) -> None:
        """Upsert what a catalog read found per TikTok SKU: `seller_sku` and any of
        `shopify_sku`, `inventory_item_id`, `tiktok_product_id`, `tiktok_sku_id`, `status`."""
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            for entry in found:
                values = {k: v for k, v in entry.items() if k != "seller_sku"}
                update = {**values, "updated_at": now}
                if mark_due:
                    update["due_at"] = sa.func.coalesce(stock_skus.c.due_at, now)
                    update["changes"] = stock_skus.c.changes + 1
                    if "shopify_levels" in values:
                        update["levels_changes"] = stock_skus.c.changes + 1
                        values["levels_changes"] = 1
                if mark_due and "changes" not in values:
                    values["changes"] = 1
                db.execute(
                    upsert(
                        db,
                        stock_skus,
                        ["connection_id", "seller_sku"],
                        {
                            "connection_id": connection_id,
                            "seller_sku": entry["seller_sku"],
                            "updated_at": now,
                            "due_at": now if mark_due else None,
                            **values,
                        },
                        update=update,
                    )
                )

    # -- rules, links and warehouses: the merchant's settings --------------------------------------

    def rules(self, connection_id: int) -> tuple[StockRule, dict[str, StockRule]]:
        """The connection's rule (defaults filled in) and each SKU's overrides."""
        r = stock_rules.c
        with read_transaction(self.engine) as db:
            rows = db.execute(sa.select(stock_rules).where(r.connection_id == connection_id))
            found = {str(row.seller_sku): _rule(dict(row._mapping)) for row in rows}
        base = found.pop("", StockRule()).over(DEFAULT_RULE)
        return base, found

    def save_rule(self, connection_id: int, seller_sku: str, rule: StockRule | None) -> int:
        """Set (None: remove) the connection's rule (seller_sku "") or one SKU's overrides, then
        re-sync what it affects; returns how many SKUs were marked."""
        if rule is not None:
            rule.checked()
        if len(seller_sku) > MAX_SKU_LENGTH:
            raise RuleError(f"SKU is longer than {MAX_SKU_LENGTH} characters")
        r = stock_rules.c
        with write_transaction(self.engine) as db:
            db.execute(
                stock_rules.delete().where(
                    r.connection_id == connection_id, r.seller_sku == seller_sku
                )
            )
            if rule is not None:
                db.execute(
                    stock_rules.insert().values(
                        connection_id=connection_id,
                        seller_sku=seller_sku,
                        locations=list(rule.locations) if rule.locations is not None else None,
                        buffer_units=rule.buffer_units,
                        buffer_percent=rule.buffer_percent,
                        low_stock_threshold=rule.low_stock_threshold,
                        max_quantity=rule.max_quantity,
                        sync=rule.sync,
                    )
                )
        note = ("rule", "Stock rules changed: TikTok's count is worked out again")
        if seller_sku:
            return self.mark(connection_id, [seller_sku], history=note)
        return self.mark_connection(connection_id, history=note)

    def links(self, connection_id: int) -> dict[str, str]:
        """TikTok seller SKU -> Shopify SKU, for the SKUs whose codes differ."""
        s = sku_links.c
        with read_transaction(self.engine) as db:
            rows = db.execute(
                sa.select(s.tiktok_sku, s.shopify_sku)
                .where(s.connection_id == connection_id)
                .order_by(s.tiktok_sku)
            ).all()
        return {str(tiktok): str(shopify) for tiktok, shopify in rows}

    def save_links(
        self, connection_id: int, pairs: Sequence[tuple[str, str]], *, replace: bool = False
    ) -> int:
        """Add (or with `replace`, set all) SKU mappings; all or nothing. Rows are numbered
        from 1 in errors, as a CSV's data rows are."""
        existing = {} if replace else self.links(connection_id)
        taken = {shopify: tiktok for tiktok, shopify in existing.items()}
        tiktok_seen: dict[str, int] = {}
        shopify_seen: dict[str, int] = {}
        clean: list[tuple[str, str]] = []
        for number, (tiktok, shopify) in enumerate(pairs, start=1):
            tiktok, shopify = tiktok.strip(), shopify.strip()
            if not tiktok or not shopify:
                raise LinkError(f"row {number}: both a TikTok SKU and a Shopify SKU are needed")
            for sku in (tiktok, shopify):
                if len(sku) > MAX_SKU_LENGTH:
                    raise LinkError(f"row {number}: SKU longer than {MAX_SKU_LENGTH} characters")
            if tiktok in tiktok_seen:
                raise LinkError(
                    f"row {number}: TikTok SKU {tiktok!r} is mapped twice (also row "
                    f"{tiktok_seen[tiktok]})"
                )
            if shopify in shopify_seen:
                raise LinkError(
                    f"row {number}: Shopify SKU {shopify!r} is mapped twice (also row "
                    f"{shopify_seen[shopify]})"
                )
            if shopify in taken and taken[shopify] != tiktok:
                raise LinkError(
                    f"row {number}: Shopify SKU {shopify!r} already follows TikTok SKU "
                    f"{taken[shopify]!r}; remove that mapping first"
                )
            tiktok_seen[tiktok], shopify_seen[shopify] = number, number
            clean.append((tiktok, shopify))
        now = self.clock.now()
        s = sku_links.c
        with write_transaction(self.engine) as db:
            if replace:
                db.execute(sku_links.delete().where(s.connection_id == connection_id))
            else:
                db.execute(
                    sku_links.delete().where(
                        s.connection_id == connection_id, s.tiktok_sku.in_([t for t, _ in clean])
                    )
                )
            for tiktok, shopify in clean:
                db.execute(
                    sku_links.insert().values(
                        connection_id=connection_id,
                        tiktok_sku=tiktok,
                        shopify_sku=shopify,
                        created_at=now,
                    )
                )
                db.execute(
                    stock_skus.update()
                    .where(
                        stock_skus.c.connection_id == connection_id,
                        stock_skus.c.seller_sku == tiktok,
                    )
                    .values(shopify_sku=shopify, inventory_item_id=None)
                )
            mark(
                db,
                now,
                connection_id,
                [t for t, _ in clean],
                debounce=self.debounce,
                history=("link", "Mapped to a Shopify SKU by the merchant"),
            )
            _settings_changed(db, connection_id)
        return len(clean)

    def delete_link(self, connection_id: int, tiktok_sku: str) -> bool:
        s = sku_links.c
        with write_transaction(self.engine) as db:
            gone = db.execute(
                sku_links.delete().where(
                    s.connection_id == connection_id, s.tiktok_sku == tiktok_sku
                )
            )
            db.execute(
                stock_skus.update()
                .where(
                    stock_skus.c.connection_id == connection_id,
                    stock_skus.c.seller_sku == tiktok_sku,
                )
                .values(shopify_sku=None, inventory_item_id=None)
            )
            mark(db, self.clock.now(), connection_id, [tiktok_sku], debounce=self.debounce)
            _settings_changed(db, connection_id)
            return gone.rowcount > 0

    def warehouse_map(self, connection_id: int) -> dict[str, str]:
        w = warehouse_map.c
        with read_transaction(self.engine) as db:
            rows = db.execute(
                sa.select(w.location_id, w.warehouse_id).where(w.connection_id == connection_id)
            ).all()
        return {str(location): str(warehouse) for location, warehouse in rows}

    def save_warehouse_map(self, connection_id: int, mapping: Mapping[str, str]) -> int:
        """Set which TikTok warehouse each Shopify location feeds (empty: the default), then
        re-sync every SKU."""
        w = warehouse_map.c
        with write_transaction(self.engine) as db:
            db.execute(warehouse_map.delete().where(w.connection_id == connection_id))
            for location, warehouse in sorted(mapping.items()):
                if warehouse:
                    db.execute(
                        warehouse_map.insert().values(
                            connection_id=connection_id,
                            location_id=location,
                            warehouse_id=warehouse,
                        )
                    )
        return self.mark_connection(
            connection_id,
            history=("rule", "Warehouse mapping changed: TikTok's count is worked out again"),
        )

    # -- full syncs --------------------------------------------------------------------------------

    def request_sync(self, connection_id: int) -> int:
        """Ask for a full sync (a worker starts it); a request already waiting is reused."""
        s = stock_syncs.c
        with write_transaction(self.engine) as db:
            waiting = db.execute(
                sa.select(s.id).where(
                    s.connection_id == connection_id, s.status.in_(("requested", "running"))
                )
            ).scalar()
            if waiting is not None:
                return int(waiting)
            return int(
                db.execute(
                    stock_syncs.insert()
                    .values(
                        connection_id=connection_id,
                        status="requested",
                        requested_at=self.clock.now(),
                    )
                    .returning(s.id)
                ).scalar_one()
            )

    def start_sync(self, connection_id: int, run_by: str, stale_after: timedelta) -> int | None:
        """Take the connection's requested sync, or start one, for `run_by`; None while another
        process runs one (a run whose heartbeat is older than `stale_after` is taken over)."""
        now = self.clock.now()
        s = stock_syncs.c
        with write_transaction(self.engine) as db:
            active = db.execute(
                sa.select(s.id, s.status, s.heartbeat_at)
                .where(s.connection_id == connection_id, s.status.in_(("requested", "running")))
                .order_by(s.id)
            ).all()
            for sync_id, status, heartbeat in active:
                if status == "running" and heartbeat is not None and heartbeat > now - stale_after:
                    return None
                if status == "running":
                    db.execute(
                        stock_syncs.update()
                        .where(s.id == sync_id)
                        .values(
                            status="failed", finished_at=now, message="stopped without finishing"
                        )
                    )
            values = {"status": "running", "run_by": run_by, "started_at": now, "heartbeat_at": now}
            requested = next((i for i, status, _ in active if status == "requested"), None)
            if requested is not None:
                taken = db.execute(
                    stock_syncs.update()
                    .where(s.id == requested, s.status == "requested")
                    .values(**values)
                )
                return int(requested) if taken.rowcount == 1 else None
            return int(
                db.execute(
                    stock_syncs.insert()
                    .values(connection_id=connection_id, requested_at=now, **values)
                    .returning(s.id)
                ).scalar_one()
            )

    def requested_syncs(self) -> list[int]:
        """Connections with a full sync waiting to start."""
        s = stock_syncs.c
        with read_transaction(self.engine) as db:
            return sorted(
                set(db.execute(sa.select(s.connection_id).where(s.status == "requested")).scalars())
            )

    def sync_progress(self, sync_id: int, **progress: Any) -> None:
        allowed = {"stage", "total", "done", "corrected", "problems", "message"}
        values = {k: v for k, v in progress.items() if k in allowed}
        with write_transaction(self.engine) as db:
            db.execute(
                stock_syncs.update()
                .where(stock_syncs.c.id == sync_id)
                .values(heartbeat_at=self.clock.now(), **values)
            )

    def finish_sync(self, sync_id: int, status: str, message: str | None = None) -> None:
        now = self.clock.now()
        with write_transaction(self.engine) as db:
            db.execute(
                stock_syncs.update()
                .where(stock_syncs.c.id == sync_id)
                .values(status=status, message=message, finished_at=now, heartbeat_at=now)
            )

    def latest_sync(self, connection_id: int) -> StockSync | None:
        s = stock_syncs.c
        with read_transaction(self.engine) as db:
            row = (
                db.execute(
                    sa.select(stock_syncs)
                    .where(s.connection_id == connection_id)
                    .order_by(s.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return None if row is None else StockSync(**row)

    def get_sync(self, sync_id: int) -> StockSync | None:
        with read_transaction(self.engine) as db:
            row = (
                db.execute(sa.select(stock_syncs).where(stock_syncs.c.id == sync_id))
                .mappings()
                .first()
            )
        return None if row is None else StockSync(**row)


def _sku(row: sa.RowMapping) -> StockSku:
    values = dict(row)
    for name in ("shopify_levels", "tiktok_levels"):
        value = values[name]
        if isinstance(value, str):  # some drivers hand JSON back as text
            value = json.loads(value)
        values[name] = None if value is None else {str(k): int(v) for k, v in value.items()}
    return StockSku(**values)


def _rule(row: Mapping[str, Any]) -> StockRule:
    locations = row["locations"]
    return StockRule(
        locations=tuple(locations) if locations is not None else None,
        buffer_units=row["buffer_units"],
        buffer_percent=row["buffer_percent"],
        low_stock_threshold=row["low_stock_threshold"],
        max_quantity=row["max_quantity"],
        sync=row["sync"],
    )


def _pushed_values(pushed: Pushed, now: datetime) -> dict[str, Any]:
    c = stock_skus.c
    values: dict[str, Any] = {
        "status": pushed.status,
        "locked_by": None,
        "locked_until": None,
        "failures": 0,
        "last_error": pushed.error,
        "updated_at": now,
        "due_at": sa.case((c.changes > c.claimed_changes, now), else_=None),
    }
    for name in (
        "last_quantity",
        "shopify_levels",
        "tiktok_levels",
        "inventory_item_id",
        "tiktok_product_id",
        "tiktok_sku_id",
        "aligned",
    ):
        value = getattr(pushed, name)
        if value is not None:
            values[name] = dict(value) if isinstance(value, Mapping) else value
    if pushed.status == "synced":
        values["synced_at"] = now
    return values


def _end_in(
    db: sa.Connection,
    now: datetime,
    row: StockSku,
    fence: Fence,
    values: Mapping[str, Any],
    history: Sequence[tuple[str, str]],
) -> bool:
    """End one row's claim with these values if the fence still holds it; False if not."""
    c = stock_skus.c
    ended = db.execute(
        stock_skus.update()
        .where(c.id == row.id, c.locked_by == fence.worker_id, c.attempts == fence.attempt)
        .values(**values)
    )
    if ended.rowcount != 1:
        return False
    for kind, summary in history:
        _add_history(db, row.id, now, kind, summary)
    if history:
        _trim_history(db, row.id)
    return True


def _settings_changed(db: sa.Connection, connection_id: int) -> None:
    """Workers cache the SKU mapping with the connection: make them rebuild it."""
    db.execute(
        connections.update()
        .where(connections.c.id == connection_id)
        .values(settings_version=connections.c.settings_version + 1)
    )


def _trim_history(db: sa.Connection, row_id: int) -> None:
    h = stock_history.c
    cutoff = db.execute(
        sa.select(h.id)
        .where(h.stock_sku_id == row_id)
        .order_by(h.id.desc())
        .offset(HISTORY_KEPT)
        .limit(1)
    ).scalar()
    if cutoff is not None:
        db.execute(stock_history.delete().where(h.stock_sku_id == row_id, h.id <= cutoff))
