"""The worker: claim due work, run each item inside one boundary, record what happened.

Three kinds of work, each claimed with a lease: inbox deliveries (webhooks, reconciliation
findings, merchant actions), deadlines (the holdback's end, the unpaid window) and outbox
commands (in priority order: stock reservations first). Several workers may run at once, in one
process or many; the store's claims never hand one item to two of them at once.

Every claimed item goes through one function, `handle`, its boundary:
1. *run* the item: the remote part (re-read TikTok, act on Shopify), fenced by its lease — each
   remote effect first checks that the claim is still ours (`ClaimLease.check`);
2. *record* what happened and finish the claim in **one unit of work**: the events applied to
   their orders, the decided actions, deadlines and timeline, and the claim's finish commit
   together or not at all. Every store call runs in a thread, off the event loop that also
   answers webhooks;
3. a failure is classified once (`failures.classify`) and, for every kind of item alike, retried
   with backoff until the attempt cap, or surfaced on its order or its connection with a Retry,
   or (a malformed delivery) recorded at once. One bad item never stops the others.

Leases live and die with their worker: its heartbeat renews the lease of every item it holds,
queued or running, and releases at once the items of any sibling on the same host whose process
is gone (so a `kill -9`ed worker's items come back within a heartbeat, not a lease). A worker that
stops gracefully gives back the items it has not started.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import random
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from shopbridge import metrics
from shopbridge.alerts import AlertDigest
from shopbridge.clock import Clock, clock_span
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_command
from shopbridge.domain.commands import Priority, action_words
from shopbridge.engine import stock
from shopbridge.engine.bridge import Bridge
from shopbridge.engine.executors import ContextSource, execute
from shopbridge.engine.failures import Failure, FailureKind, classify, is_database_unavailable
from shopbridge.engine.inbox import InboxHandler, InboxOutcome
from shopbridge.engine.reconcile import poll_new_orders, reconcile
from shopbridge.engine.subscriptions import ensure_webhooks
from shopbridge.logs import bind_item
from shopbridge.store import (
    ConnectionUnit,
    DeadlineItem,
    Fence,
    InboxItem,
    LeaseLost,
    OutboxItem,
    Store,
    WorkKind,
)
from shopbridge.store.stock import StockSku
from shopbridge.store.store import STOCK_ROWS_PER_SLOT

log = structlog.get_logger("shopbridge.worker")

# Inbox deliveries run right after reservations (they are how new orders become known);
# deadlines with releases. Outbox items carry their command's priority.
INBOX_PRIORITY = 5
# Stock reservations (CreateShopifyOrder): claimed on their own before anything else.
RESERVATION_PRIORITY = Priority.RESERVE
DEADLINE_PRIORITY = 20
# Stock pushes come after every order's work (workflow.md rule 2), a batch per connection.
STOCK_PRIORITY = 60
STOCK_BATCH = STOCK_ROWS_PER_SLOT
STOCK_SYNC_CHECK = timedelta(seconds=30)  # how often a worker looks for due full syncs
# Recording an outcome is retried this often when the database is briefly unavailable; after
# that the item's lease runs out and it runs again (its executor recognises what it did).
RECORD_ATTEMPTS = 4

Finish = Callable[[ConnectionUnit], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, in clock time; after `max_attempts` an item is failed."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        exponential = min(self.cap, self.base * (1 << max(0, attempt - 1)))
        return exponential * rng.uniform(0.5, 1.5)


@dataclass(frozen=True)
class StockBatch:
    """Due SKUs of one connection, claimed together so one call per product can carry them;
    each row keeps its own fence."""

    connection_id: int
    rows: tuple[StockSku, ...]

    @property
    def id(self) -> int:
        return self.rows[0].id

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]


@dataclass(frozen=True)
class Claimed:
    """One item this worker holds: what it is, and the fence its writes must name."""

    kind: WorkKind
    item: InboxItem | DeadlineItem | OutboxItem | StockBatch
    fence: Fence

    @property
    def priority(self) -> int:
        if isinstance(self.item, OutboxItem):
            return self.item.priority
        if isinstance(self.item, StockBatch):
            return STOCK_PRIORITY
        return INBOX_PRIORITY if self.kind is WorkKind.INBOX else DEADLINE_PRIORITY

    @property
    def attempts(self) -> int:
        return self.fence.attempt


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 16):04x}"


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        # The state follows the parenthesised command name: "Z" is a zombie, "X" dead.
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    return True


class ClaimLease:
    """The executor's view of one outbox claim: check it before effects, save progress.

    A check asks the database only when the lease may be running short. Nobody else can take
    a claim before its lease ends: claims skip rows whose `locked_until` is still ahead, and a
    live worker's leases are released only by itself (a sibling reaps the leases of a process
    that is gone). So while at least half the lease is left, as this worker last wrote it (at
    the claim, a check or a saved step), the claim is still ours and the effect may go ahead
    without a round trip: the same guarantee a renewing check gives, with half a lease of
    margin for the effect and for clocks that differ between hosts. An action runs several
    effects in a row; asking each time was a write transaction per effect, 6 per order.
    """

    def __init__(self, worker: Worker, item: OutboxItem, fence: Fence) -> None:
        self._worker = worker
        self._item = item
        self._fence = fence
        self._progress: dict[str, Any] = dict(item.progress or {})
        self._leased_until = item.locked_until

    @property
    def progress(self) -> dict[str, Any]:
        return self._progress

    @property
    def first_attempt(self) -> bool:
        # Every claim counts an attempt, and putting an item back for a reconnect or a Retry
        # zeroes the count but leaves its last error: a first claim has neither before it.
        item = self._item
        return item.attempts == 1 and item.last_error is None and not item.progress

    async def check(self) -> None:
        store, lease, clock = self._worker.store, self._worker.lease, self._worker.clock
        if self._leased_until is not None and clock.now() + lease / 2 <= self._leased_until:
            return
        renewed_from = clock.now()
        held = await asyncio.to_thread(
            store.hold, WorkKind.OUTBOX, self._item.id, self._fence, lease
        )
        if not held:
            raise LeaseLost(
                f"outbox item {self._item.id} ({self._item.kind}) is no longer held by "
                f"{self._fence.worker_id}: not acting on it"
            )
        self._leased_until = renewed_from + lease

    async def save(self, **progress: Any) -> None:
        self._progress.update(progress)
        store, lease, clock = self._worker.store, self._worker.lease, self._worker.clock
        renewed_from = clock.now()
        await asyncio.to_thread(
            store.save_progress, self._item.id, self._fence, self._progress, lease
        )
        self._leased_until = renewed_from + lease


class _Lanes:
    """One lane per order: a worker runs different orders' items side by side, but one order's
    items one after another, in the order they were claimed (their remote effects never
    interleave). Items not known to be about one order (deliveries, stock) need no lane."""

    def __init__(self) -> None:
        self._waiting: dict[int, collections.deque[Claimed]] = {}

    def enter(self, claimed: Claimed) -> bool:
        """Whether `claimed` may run now; if not, it waits for its order's lane."""
        mirror_id = _order_of(claimed)
        if mirror_id is None:
            return True
        if mirror_id in self._waiting:
            self._waiting[mirror_id].append(claimed)
            return False
        self._waiting[mirror_id] = collections.deque()
        return True

    def leave(self, claimed: Claimed) -> Claimed | None:
        """`claimed` is done; returns the next item of its order, to run now, if one waits."""
        mirror_id = _order_of(claimed)
        if mirror_id is None:
            return None
        waiting = self._waiting[mirror_id]
        if waiting:
            return waiting.popleft()
        del self._waiting[mirror_id]
        return None

    def take_waiting(self) -> list[Claimed]:
        """Every item still waiting for its lane (they will not run: the worker stops)."""
        waiting = [claimed for lane in self._waiting.values() for claimed in lane]
        for lane in self._waiting.values():
            lane.clear()
        return waiting

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._waiting.values())


class _GroupCommit:
    """Records the outcomes of items that finish while a recording is being written, together
    in one transaction (`Store.commit_units`): each commit waits for the disk, and with several
    items in flight, one commit for all that finished meanwhile keeps the disk off the critical
    path. The first item waits for nobody: it is written at once, and whatever finishes during
    that write goes into the next one. Each item still commits all of its unit or nothing."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._waiting: list[tuple[Claimed, Finish, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def commit(self, claimed: Claimed, finish: Finish) -> None:
        """Record one item's outcome; raises what recording it raised (LeaseLost, ..)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((claimed, finish, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            # The same order of rows in every batch of every worker: fewer lock waits.
            batch.sort(key=lambda entry: _order_of(entry[0]) or 0)
            work = [(claimed.item.connection_id, finish) for claimed, finish, _ in batch]
            try:
                outcomes = await asyncio.to_thread(self._worker.store.commit_units, work)
            except Exception as error:
                outcomes = [error] * len(batch)
            for (_claimed, _finish, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its item was cancelled (the worker stops)
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)


def _order_of(claimed: Claimed) -> int | None:
    """The order mirror an item is about, when that is known before running it."""
    item = claimed.item
    if isinstance(item, OutboxItem | DeadlineItem):
        return item.order_mirror_id
    return None


@dataclass
class _Held:
    """The items this worker holds, by kind: its heartbeat renews their leases."""

    ids: dict[WorkKind, set[int]] = field(default_factory=lambda: {k: set() for k in WorkKind})

    def add(self, claimed: Claimed) -> None:
        self.ids[claimed.kind].update(_item_ids(claimed))

    def discard(self, claimed: Claimed) -> None:
        self.ids[claimed.kind].difference_update(_item_ids(claimed))

    def snapshot(self) -> dict[WorkKind, set[int]]:
        return {kind: set(ids) for kind, ids in self.ids.items()}


class Worker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        contexts: ContextSource,
        inbox_handler: InboxHandler,
        bridge: Bridge,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        concurrency: int = 4,
        lease: timedelta | None = None,
        heartbeat_seconds: float = 2.0,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
        reconcile_every: timedelta | None = None,
        poll_every: timedelta | None = None,
        public_url: str = "",
        alerts: AlertDigest | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.contexts = contexts
        self.inbox_handler = inbox_handler
        self.bridge = bridge
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self._capacity = 2 * self.concurrency
        # A lease outlives a few missed heartbeats, no more: a worker that died on another host
        # loses its items after it; one on this host is reaped at the next heartbeat.
        self.lease = lease or clock_span(clock, 5 * heartbeat_seconds)
        self.heartbeat_seconds = heartbeat_seconds
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self.wake = asyncio.Event()
        self.reconcile_every = reconcile_every
        self.poll_every = poll_every
        self.public_url = public_url  # where webhooks are pointed (re-checked every pass)
        self.alerts = alerts  # the digest of what needs the merchant, looked at every check
        self._next_reconcile_check: datetime | None = None
        self._next_stock_sync_check: datetime | None = None
        self._held = _Held()
        self._group: _GroupCommit | None = None  # while items run side by side (run, drain)
        self._running = 0
        self._finished = 0  # items finished by this worker's runners (how `drain` waits)
        self._slot_freed = asyncio.Event()
        self._database_trouble: str | None = None

    # -- passes, for tests and the demo's steps ----------------------------------------------

    async def run_once(self) -> int:
        """One pass: a claim round of `batch_size` items (reservations first, see
        `_claim_round`), each item in turn, most urgent first; returns how many were handled."""
        claimed = await self._claim_round(self.batch_size)
        for item in sorted(claimed, key=lambda c: c.priority):
            await self.handle(item)
        return len(claimed) + await self.reconcile_due()

    async def run_until_idle(self, max_passes: int = 1000) -> int:
        """Work until nothing is due (for tests and the demo's steps)."""
        total = 0
        for _ in range(max_passes):
            handled = await self.run_once()
            if handled == 0:
                return total
            total += handled
        raise RuntimeError(f"still busy after {max_passes} passes")

    async def process_inbox(self) -> int:
        return await self._drain(WorkKind.INBOX)

    async def process_deadlines(self) -> int:
        return await self._drain(WorkKind.DEADLINE)

    async def process_outbox(self) -> int:
        return await self._drain(WorkKind.OUTBOX)

    async def process_stock(self) -> int:
        return await self._drain(WorkKind.STOCK)

    async def _drain(self, kind: WorkKind) -> int:
        claimed = await self._claim(kind, self.batch_size)
        for item in claimed:
            await self.handle(item)
        return len(claimed)

    async def drain(self) -> int:
        """Work as `run` does, `concurrency` items in flight (one order's items one after
        another), until nothing is due and nothing runs; returns how many items were handled.
        Without heartbeats, reconciliation or a stop signal: for benchmarks and tests.

        Claims wait until half the slots are free, so that one claim round (a transaction)
        serves several items instead of one."""
        queue: asyncio.PriorityQueue[tuple[int, int, Claimed]] = asyncio.PriorityQueue()
        order, lanes = itertools.count(), _Lanes()
        self._slot_freed = asyncio.Event()  # of this event loop (a drain may run in a new one)
        self._group = _GroupCommit(self)
        runners = [asyncio.create_task(self._runner(queue, lanes)) for _ in range(self.concurrency)]
        batch = max(1, self._capacity // 2)
        handled = 0
        try:
            while True:
                free = self._free_slots(queue, lanes)
                idle = free == self._capacity
                finished_before = self._finished
                claimed = await self._claim_round(free)
                for item in claimed:
                    queue.put_nowait((item.priority, next(order), item))
                handled += len(claimed)
                if len(claimed) == min(free, self.batch_size) < free:
                    continue  # the round was cut short by the batch size: more may be due
                if not claimed and idle:
                    return handled
                # Wait for slots: at least `batch` free (after an empty round, at least one
                # item finished since, as it may have made work due), or every slot free.
                while True:
                    free = self._free_slots(queue, lanes)
                    finished = self._finished > finished_before
                    if free == self._capacity or (free >= batch and (claimed or finished)):
                        break
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
        finally:
            for task in runners:
                task.cancel()
            await asyncio.gather(*runners, return_exceptions=True)
            self._group = None

    def _free_slots(
        self, queue: asyncio.PriorityQueue[tuple[int, int, Claimed]], lanes: _Lanes
    ) -> int:
        """Items this worker may claim now: `concurrency` running, as many again queued, so a
        runner that finishes finds its next item claimed (most urgent first: the queue is by
        priority) instead of waiting for a claim round; heartbeats renew queued items too."""
        return self._capacity - self._running - queue.qsize() - len(lanes)

    # -- the long-running worker -------------------------------------------------------------

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.2) -> None:
        """Work until `stop` is set: `concurrency` items at a time, claimed as slots free up."""
        host, pid = socket.gethostname(), os.getpid()
        await asyncio.to_thread(self.store.register_worker, self.worker_id, host, pid)
        log.info("worker started", worker_id=self.worker_id, concurrency=self.concurrency)
        queue: asyncio.PriorityQueue[tuple[int, int, Claimed]] = asyncio.PriorityQueue()
        order, lanes = itertools.count(), _Lanes()
        self._group = _GroupCommit(self)
        runners = [asyncio.create_task(self._runner(queue, lanes)) for _ in range(self.concurrency)]
        heartbeat = asyncio.create_task(self._heartbeat(host))
        reconciler: asyncio.Task[int] | None = None
        syncer: asyncio.Task[int] | None = None
        try:
            await self._reap(host)
            while not stop.is_set():
                free = self._free_slots(queue, lanes)
                claimed = 0
                if free > 0:
                    try:
                        for item in await self._claim_round(free):
                            queue.put_nowait((item.priority, next(order), item))
                            claimed += 1
                    except Exception as error:
                        if not is_database_unavailable(error):
                            log.exception("claiming work failed", worker_id=self.worker_id)
                        self._trouble(error)
                        await _wait_any(stop.wait(), seconds=min(5.0, 10 * idle_seconds))
                        continue
                    self._healthy()
                if self._reconcile_may_be_due() and (reconciler is None or reconciler.done()):
                    reconciler = asyncio.create_task(self.reconcile_due())
                if self._stock_sync_may_be_due() and (syncer is None or syncer.done()):
                    syncer = asyncio.create_task(self.stock_syncs_due())
                if claimed == 0 or claimed >= free:
                    self.wake.clear()
                    self._slot_freed.clear()
                    waits = [stop.wait(), self._slot_freed.wait()]
                    if claimed == 0:
                        waits.append(self.wake.wait())
                    await _wait_any(*waits, seconds=idle_seconds)
        finally:
            await self._shut_down(queue, runners, heartbeat, reconciler, syncer, lanes)
            self._group = None
        log.info("worker stopped", worker_id=self.worker_id)

    async def _runner(
        self, queue: asyncio.PriorityQueue[tuple[int, int, Claimed]], lanes: _Lanes
    ) -> None:
        while True:
            _, _, claimed = await queue.get()
            if not lanes.enter(claimed):
                continue  # its order is busy here: it runs when the order's item before it ends
            self._running += 1
            try:
                current: Claimed | None = claimed
                while current is not None:
                    await self.handle(current)
                    current = lanes.leave(current)
            finally:
                self._running -= 1
                self._finished += 1
                self._slot_freed.set()

    async def _shut_down(
        self,
        queue: asyncio.PriorityQueue[tuple[int, int, Claimed]],
        runners: list[asyncio.Task[None]],
        heartbeat: asyncio.Task[None],
        reconciler: asyncio.Task[int] | None,
        syncer: asyncio.Task[int] | None = None,
        lanes: _Lanes | None = None,
    ) -> None:
        # Give back what was claimed but not started, so another worker takes it at once.
        unstarted: dict[WorkKind, set[int]] = {kind: set() for kind in WorkKind}
        waiting = [] if lanes is None else lanes.take_waiting()
        while not queue.empty():
            waiting.append(queue.get_nowait()[2])
        for claimed in waiting:
            unstarted[claimed.kind].update(_item_ids(claimed))
            self._held.discard(claimed)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.release, self.worker_id, unstarted)
        # Let running items finish (their effects and records are short), then stop.
        for _ in range(100):
            if self._running == 0:
                break
            await asyncio.sleep(0.05)
        tasks = [*runners, heartbeat, *(t for t in (reconciler, syncer) if t is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.release, self.worker_id, self._held.snapshot())
            await asyncio.to_thread(self.store.stop_worker, self.worker_id, "stopped")

    async def _heartbeat(self, host: str) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await asyncio.to_thread(
                    self.store.beat, self.worker_id, self._held.snapshot(), self.lease
                )
                await self._reap(host)
            except Exception as error:
                self._trouble(error)

    async def _reap(self, host: str) -> None:
        dead = await asyncio.to_thread(
            self.store.reap_dead_workers, host, process_alive, self.worker_id
        )
        if dead:
            log.info(
                "released the work of stopped workers",
                workers=[w.id for w in dead],
                worker_id=self.worker_id,
            )
            self.wake.set()

    def _trouble(self, error: BaseException) -> None:
        message = classify(error).message
        if self._database_trouble != message:
            log.warning("worker cannot reach the database", error=message, worker_id=self.worker_id)
        self._database_trouble = message

    def _healthy(self) -> None:
        if self._database_trouble is not None:
            log.info("worker reaches the database again", worker_id=self.worker_id)
            self._database_trouble = None

    # -- claiming ----------------------------------------------------------------------------

    async def _claim_round(self, slots: int) -> list[Claimed]:
        """Claim work for `slots` free slots, in one transaction (`Store.claim_round`). Stock
        reservations come first and on their own (workflow.md rule 2): the other queues
        (deliveries, deadlines, other actions, stock) get only the slots reservations left,
        so while reservations wait, none of them takes a slot, however long it has been due."""
        rows = await asyncio.to_thread(
            self.store.claim_round,
            self.worker_id,
            self.lease,
            slots,
            self.batch_size,
            RESERVATION_PRIORITY,
        )
        stock_rows = [row for kind, row in rows if kind is WorkKind.STOCK]
        claimed = [
            Claimed(kind, item, Fence(self.worker_id, item.attempts))
            for kind, item in rows
            if not isinstance(item, StockSku)
        ]
        for item in claimed:
            self._held.add(item)
        return claimed + self._held_batches(typing.cast(list[StockSku], stock_rows))

    async def _claim(self, kind: WorkKind, limit: int) -> list[Claimed]:
        items: list[InboxItem] | list[DeadlineItem] | list[OutboxItem]
        if kind is WorkKind.STOCK:
            return self._held_batches(
                await asyncio.to_thread(
                    self.store.stock.claim, self.worker_id, STOCK_BATCH * limit, self.lease
                )
            )
        if kind is WorkKind.INBOX:
            items = await asyncio.to_thread(
                self.store.claim_inbox, self.worker_id, limit, self.lease
            )
        elif kind is WorkKind.DEADLINE:
            items = await asyncio.to_thread(
                self.store.claim_deadlines, self.worker_id, limit, self.lease
            )
        else:
            items = await asyncio.to_thread(
                self.store.claim_outbox, self.worker_id, limit, self.lease
            )
        claimed = [Claimed(kind, item, Fence(self.worker_id, item.attempts)) for item in items]
        for item in claimed:
            self._held.add(item)
        return claimed

    def _held_batches(self, rows: list[StockSku]) -> list[Claimed]:
        by_connection: dict[int, list[StockSku]] = {}
        for row in rows:
            by_connection.setdefault(row.connection_id, []).append(row)
        claimed = [
            Claimed(WorkKind.STOCK, StockBatch(cid, tuple(batch)), Fence(self.worker_id, 0))
            for cid, batch in sorted(by_connection.items())
        ]
        for item in claimed:
            self._held.add(item)
        return claimed

    # -- one item: the boundary --------------------------------------------------------------

    async def handle(self, claimed: Claimed) -> None:
        """Run one claimed item, then record its outcome and finish its claim in one unit."""
        if isinstance(claimed.item, StockBatch):
            await self._push_stock(claimed, claimed.item)
            return
        item = claimed.item
        with bind_item(
            connection_id=item.connection_id,
            tiktok_order_id=getattr(item, "tiktok_order_id", None),
            item=_describe(claimed),
        ):
            await self._handle(claimed)

    async def _handle(self, claimed: Claimed) -> None:
        try:
            try:
                finish = await self._perform(claimed)
            except LeaseLost as lost:
                log.warning("claim lost; not acting on it", reason=str(lost))
                return
            except Exception as error:
                failure = classify(error)
                if failure.kind is FailureKind.BUG:
                    log.exception("unexpected failure", item=_describe(claimed))
                finish = self._after_failure(claimed, failure)
            await self._record(claimed, finish)
        except Exception:  # never let one item take the worker down
            log.exception("could not handle an item", item=_describe(claimed))
        finally:
            self._held.discard(claimed)

    async def _push_stock(self, claimed: Claimed, batch: StockBatch) -> None:
        """A stock batch records per row, under each row's own fence (engine/stock.py)."""
        try:
            ctx = await self.contexts.context(batch.connection_id)
            await stock.run_claimed(
                self.store,
                ctx,
                batch.rows,
                self.lease,
                lambda failures: self.retry.delay(failures, self._rng),
                self.retry.max_attempts,
            )
        except Exception as error:  # never let one batch take the worker down
            if is_database_unavailable(error):
                self._trouble(error)
            else:
                log.exception("could not push stock", connection=batch.connection_id)
        finally:
            self._held.discard(claimed)

    async def _perform(self, claimed: Claimed) -> Finish:
        item, fence = claimed.item, claimed.fence
        if isinstance(item, InboxItem):
            delivered = await self.inbox_handler.handle(item)
            return self._delivered(item, fence, delivered)
        if isinstance(item, DeadlineItem):
            return self._deadline_reached(item, fence)
        assert isinstance(item, OutboxItem)
        command = decode_command(dict(item.payload))
        ctx = await self.contexts.context(item.connection_id)
        outcome = await execute(command, ctx, ClaimLease(self, item, fence))
        metrics.outbox_outcome(command, outcome, self.clock.now())
        return self._executed(item, fence, outcome)

    async def _record(self, claimed: Claimed, finish: Finish) -> None:
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._commit_soon(claimed, finish)
                return
            except LeaseLost as lost:
                log.warning("claim lost; its outcome is not recorded", reason=str(lost))
                return
            except Exception as error:
                if is_database_unavailable(error):
                    if attempt + 1 < RECORD_ATTEMPTS:
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    self._trouble(error)
                    log.warning(
                        "could not record an outcome; the item runs again when its lease ends",
                        item=_describe(claimed),
                    )
                    return
                # Deciding or recording raised: record the failure without the domain.
                log.exception("recording an outcome failed", item=_describe(claimed))
                failure = classify(error)
                try:
                    await self._commit_soon(claimed, self._bare(claimed, failure))
                except LeaseLost:
                    return
                return

    async def _commit_soon(self, claimed: Claimed, finish: Finish) -> None:
        """Record one item's outcome: with the others that finish meanwhile when several are
        in flight (`_GroupCommit`), else in a transaction of its own."""
        if self._group is None:
            await asyncio.to_thread(self._commit, claimed, finish)
        else:
            await self._group.commit(claimed, finish)

    def _commit(self, claimed: Claimed, finish: Finish) -> None:
        with self.store.unit(claimed.item.connection_id) as unit:
            finish(unit)

    # -- what each kind of item records ------------------------------------------------------

    def _delivered(self, item: InboxItem, fence: Fence, outcome: InboxOutcome) -> Finish:
        def finish(unit: ConnectionUnit) -> None:
            for (connection_id, order_id), events in _by_order(outcome.events):
                order = unit.order(connection_id, order_id)
                for event in events:
                    self.bridge.decide(order, event)
            unit.finish_inbox(item.id, fence, outcome.status, outcome.note)

        return finish

    def _deadline_reached(self, item: DeadlineItem, fence: Fence) -> Finish:
        def finish(unit: ConnectionUnit) -> None:
            order = unit.order(item.connection_id, item.tiktok_order_id)
            self.bridge.decide(order, ev.DeadlineReached(item.kind))
            order.finish_deadline(item.id, fence)

        return finish

    def _executed(self, item: OutboxItem, fence: Fence, outcome: ev.Event) -> Finish:
        failed = outcome.message if isinstance(outcome, ev.ActionFailed) else None
        moved = _stock_moved(item, outcome)

        def finish(unit: ConnectionUnit) -> None:
            target = unit
            if moved:
                # Shopify's available changed (a reservation, a restock): TikTok follows.
                unit.mark_stock(moved)
            if item.tiktok_order_id is not None:
                target = unit.order(item.connection_id, item.tiktok_order_id)
                self.bridge.decide(target, outcome)
            if failed is None:
                target.complete_outbox(item.id, fence)
            else:
                target.fail_outbox(item.id, fence, failed)

        return finish

    def _after_failure(self, claimed: Claimed, failure: Failure) -> Finish:
        """What a failed run records: a retry, or the failure for the merchant to see; work
        whose platform refused the connection waits for the merchant to reconnect it."""
        item = claimed.item
        if (
            failure.kind is FailureKind.ACCESS_LOST
            and not isinstance(item, DeadlineItem)
            and item.connection_id is not None
        ):
            return self._wait_for_reconnect(claimed, item.connection_id, failure)
        if isinstance(item, OutboxItem) and not self._retries(claimed, failure):
            command = decode_command(dict(item.payload))
            metrics.action_failed(command.kind)
            message = failure.message
            if failure.retried:
                message = f"{message} (gave up after {claimed.attempts} attempts)"
            return self._executed(
                item,
                claimed.fence,
                ev.ActionFailed(command.key, command.kind, message, failure.code),
            )
        return self._bare(claimed, failure)

    def _wait_for_reconnect(self, claimed: Claimed, connection_id: int, failure: Failure) -> Finish:
        item, fence = claimed.item, claimed.fence
        kind = WorkKind.INBOX if isinstance(item, InboxItem) else WorkKind.OUTBOX
        log.warning("connection needs reconnecting", connection=connection_id, why=failure.message)

        def finish(unit: ConnectionUnit) -> None:
            unit.needs_reconnect(connection_id, failure.message)
            unit.hold_for_reconnect(kind, item.id, fence, failure.message)

        return finish

    def _bare(self, claimed: Claimed, failure: Failure) -> Finish:
        """A failure recorded without the domain: retry, or fail and show it with a Retry."""
        item, fence = claimed.item, claimed.fence
        assert not isinstance(item, StockBatch)  # stock batches record per row (_push_stock)
        retry = self._retries(claimed, failure)
        due = self.clock.now() + self.retry.delay(claimed.attempts, self._rng)
        final = failure.message
        if failure.retried:
            final = f"{final} (gave up after {claimed.attempts} attempts)"

        def finish(unit: ConnectionUnit) -> None:
            if isinstance(item, InboxItem):
                if failure.kind is FailureKind.MALFORMED:
                    unit.finish_inbox(item.id, fence, "malformed", failure.message)
                elif retry:
                    unit.retry_inbox(item.id, fence, failure.message, due)
                else:
                    unit.finish_inbox(item.id, fence, "failed", final)
            elif isinstance(item, DeadlineItem):
                if retry:
                    unit.retry_deadline(item.id, fence, failure.message, due)
                else:
                    unit.fail_deadline(item.id, fence, final)
                    unit.mark_stuck(
                        item.order_mirror_id,
                        f"Could not process the {item.kind.replace('_', ' ')} deadline: {final}. "
                        "Retry it on this page once the cause is fixed.",
                    )
            elif retry:
                unit.retry_outbox(item.id, fence, failure.message, due)
                if item.order_mirror_id is not None:
                    unit.add_timeline_to(
                        item.order_mirror_id,
                        "action",
                        f"{_words(item.kind)} failed (attempt {claimed.attempts}), "
                        f"retrying at {due:%H:%M:%S} UTC: {failure.message}",
                    )
            else:
                unit.fail_outbox(item.id, fence, final)
                if item.order_mirror_id is not None:
                    unit.mark_stuck(
                        item.order_mirror_id, f"{_words(item.kind)} failed: {final}. Retry it."
                    )

        return finish

    def _retries(self, claimed: Claimed, failure: Failure) -> bool:
        return failure.retried and claimed.attempts < self.retry.max_attempts

    # -- full stock syncs ----------------------------------------------------------------------

    def _stock_sync_may_be_due(self) -> bool:
        now = self.clock.now()
        if self.reconcile_every is None:
            return False
        if self._next_stock_sync_check is not None and now < self._next_stock_sync_check:
            return False
        self._next_stock_sync_check = now + STOCK_SYNC_CHECK
        return True

    async def stock_syncs_due(self) -> int:
        """Run every full stock sync that is due (on schedule, never run, or asked for in the
        UI), each by one process; the pushes it queues are the workers' ordinary stock work."""
        now = self.clock.now()
        requested = set(await asyncio.to_thread(self.store.stock.requested_syncs))
        ran = 0
        for record in await asyncio.to_thread(self.store.list_connections):
            if record.status != "active":
                continue
            due_before = now - timedelta(minutes=record.stock_sync_minutes)
            scheduled = await asyncio.to_thread(self.store.start_stock_sync, record.id, due_before)
            if not (scheduled or record.id in requested):
                continue
            sync_id = await asyncio.to_thread(
                self.store.stock.start_sync, record.id, self.worker_id, stock.SYNC_STALE_AFTER
            )
            if sync_id is None:
                continue
            try:
                ctx = await self.contexts.context(record.id)
                summary = await stock.run_full_sync(self.store, ctx, sync_id, pusher=None)
                log.info("full stock sync done", connection=record.id, summary=summary)
            except Exception as error:
                failure = classify(error)
                if failure.kind is FailureKind.ACCESS_LOST:
                    await asyncio.to_thread(self.store.needs_reconnect, record.id, failure.message)
                log.warning("full stock sync failed", connection=record.id, error=failure.message)
            ran += 1
        return ran

    # -- reconciliation ----------------------------------------------------------------------

    def _reconcile_may_be_due(self) -> bool:
        return self.reconcile_every is not None and (
            self._next_reconcile_check is None or self.clock.now() >= self._next_reconcile_check
        )

    async def reconcile_due(self) -> int:
        """Run each connection's reconciliation pass when due, or else its quick look for new
        TikTok orders when that is due (each claimed by one worker); returns how many ran."""
        if self.reconcile_every is None or not self._reconcile_may_be_due():
            return 0
        now = self.clock.now()
        cadences = [self.reconcile_every, timedelta(minutes=1)]
        if self.poll_every is not None:
            cadences.append(self.poll_every)
        self._next_reconcile_check = now + min(cadences)
        if self.alerts is not None:
            try:
                await self.alerts.send_due(now)
            except Exception:  # alerts never stop the work they report on
                log.exception("sending the alert digest failed")
        passes = 0
        for record in await asyncio.to_thread(self.store.list_connections):
            full = await asyncio.to_thread(
                self.store.start_reconciliation, record.id, now - self.reconcile_every
            )
            poll = (
                not full
                and self.poll_every is not None
                and await asyncio.to_thread(self.store.start_poll, record.id, now - self.poll_every)
            )
            if not (full or poll):
                continue
            since = _parse_time(record.reconcile_cursor)
            try:
                ctx = await self.contexts.context(record.id)
                if full:
                    await reconcile(self.store, ctx, since, now)
                    await ensure_webhooks(self.store, ctx, self.public_url, now)
                else:
                    assert self.poll_every is not None
                    await poll_new_orders(self.store, ctx, now, self.poll_every)
            except Exception as error:
                failure = classify(error)
                if failure.kind is FailureKind.ACCESS_LOST:
                    await asyncio.to_thread(self.store.needs_reconnect, record.id, failure.message)
                if failure.kind is FailureKind.BUG:
                    log.exception("reconciliation failed", connection=record.id)
                else:
                    log.warning(
                        "reconciliation failed", connection=record.id, error=failure.message
                    )
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self.store.update_connection,
                        record.id,
                        last_reconcile_error=f"{now:%Y-%m-%d %H:%M} UTC: {failure.message}",
                    )
                continue
            passes += 1
        return passes


async def _wait_any(*waits: Awaitable[Any], seconds: float) -> None:
    """Until the first of `waits` completes, or `seconds` pass."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _by_order(
    events: Iterable[tuple[int, str, ev.Event]],
) -> list[tuple[tuple[int, str], list[ev.Event]]]:
    """Events grouped by order (in arrival order within each), orders in a fixed order, so two
    units that lock the same orders lock them in the same order."""
    grouped: dict[tuple[int, str], list[ev.Event]] = {}
    for connection_id, order_id, event in events:
        grouped.setdefault((connection_id, str(order_id)), []).append(event)
    return sorted(grouped.items(), key=lambda pair: pair[0])


def _stock_moved(item: OutboxItem, outcome: ev.Event) -> tuple[str, ...]:
    """The SKUs whose Shopify stock this outcome moved."""
    if isinstance(outcome, ev.ShopifyOrderCreated):
        command = decode_command(dict(item.payload))
        order = getattr(command, "order", None)
        return tuple(line.seller_sku for line in order.lines) if order is not None else ()
    # InventorySynced, ShopifyUnitsRemoved, ShopifyReturnRecorded, ReturnRestocked
    return tuple(getattr(outcome, "skus", ()))


def _item_ids(claimed: Claimed) -> list[int]:
    item = claimed.item
    return item.ids if isinstance(item, StockBatch) else [item.id]


def _describe(claimed: Claimed) -> str:
    item = claimed.item
    if isinstance(item, StockBatch):
        return f"stock of {len(item.rows)} SKUs (connection {item.connection_id})"
    name = item.kind if isinstance(item, OutboxItem | DeadlineItem) else item.topic
    return f"{claimed.kind} {item.id} ({name}, attempt {claimed.attempts})"


def _parse_time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _words(kind: str) -> str:
    words = action_words(kind)
    return words[:1].upper() + words[1:]
