"""The worker loop: claim due work, run it, record what happened.

Three kinds of work, each claimed with a lease so a crashed worker's items come back:
inbox deliveries (webhooks and reconciliation findings), deadlines (the holdback's end, the
unpaid window), and outbox commands (in priority order: stock reservations first). Several
workers may run at once, in one process or many; the store's claims never hand one item to two.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog

from shopbridge.clock import Clock
from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_command
from shopbridge.engine.bridge import Bridge
from shopbridge.engine.executors import ConnectionContext, execute
from shopbridge.engine.inbox import InboxHandler
from shopbridge.engine.ports import PermanentError, PlatformError, RetryableError
from shopbridge.engine.reconcile import reconcile
from shopbridge.store import InboxItem, LeaseLost, OrderUnit, OutboxItem, Store

log = structlog.get_logger("shopbridge.worker")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, in clock time; after `max_attempts` an action is failed."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=30)
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        exponential = min(self.cap, self.base * (1 << max(0, attempt - 1)))
        return exponential * rng.uniform(0.5, 1.5)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 16):04x}"


class Worker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        contexts: Callable[[int], ConnectionContext],
        inbox_handler: InboxHandler,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        lease: timedelta = timedelta(minutes=2),
        retry: RetryPolicy | None = None,
        seed: int | None = None,
        reconcile_every: timedelta | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.contexts = contexts
        self.inbox_handler = inbox_handler
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self.bridge = Bridge(store, clock, lambda cid: contexts(cid).policy)
        self.wake = asyncio.Event()
        self.reconcile_every = reconcile_every
        self._next_reconcile_check: datetime | None = None

    async def run_once(self) -> int:
        """One pass over all three queues; returns how many items were handled."""
        done = await self.process_inbox()
        done += self.process_deadlines()
        done += await self.process_outbox()
        done += await self.reconcile_due()
        return done

    async def run_until_idle(self, max_passes: int = 1000) -> int:
        """Work until nothing is due (for tests and the demo's steps)."""
        total = 0
        for _ in range(max_passes):
            handled = await self.run_once()
            if handled == 0:
                return total
            total += handled
        raise RuntimeError(f"still busy after {max_passes} passes")

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.1) -> None:
        """Work until `stop` is set; when idle, wait `idle_seconds` (real time) or until woken."""
        log.info("worker started", worker_id=self.worker_id)
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # one bad pass must not stop the worker; the item's lease expires
                log.exception("worker pass failed", worker_id=self.worker_id)
                handled = 0
            if handled == 0:
                self.wake.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.wake.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
        log.info("worker stopped", worker_id=self.worker_id)

    # -- inbox -----------------------------------------------------------------------------------

    async def process_inbox(self) -> int:
        items = self.store.claim_inbox(self.worker_id, self.batch_size, self.lease)
        for item in items:
            await self._handle_delivery(item)
        return len(items)

    async def _handle_delivery(self, item: InboxItem) -> None:
        try:
            outcome = await self.inbox_handler.handle(item)
        except PermanentError as error:
            self.store.finish_inbox(item.id, self.worker_id, "failed", error.message)
            return
        except Exception as error:  # anything else may pass: retry it, then surface it
            retryable = error if isinstance(error, RetryableError) else _unexpected(error)
            if item.attempts >= self.retry.max_attempts:
                self.store.finish_inbox(item.id, self.worker_id, "failed", retryable.message)
            else:
                due = self.clock.now() + self.retry.delay(item.attempts, self._rng)
                self.store.retry_inbox(item.id, self.worker_id, retryable.message, due)
            return
        try:
            for connection_id, order_id, event in outcome.events:
                self.bridge.apply(connection_id, order_id, event)
            self.store.finish_inbox(item.id, self.worker_id, outcome.status, outcome.note)
        except LeaseLost:
            log.warning("inbox lease lost", item=item.id, worker_id=self.worker_id)

    # -- deadlines -------------------------------------------------------------------------------

    def process_deadlines(self) -> int:
        items = self.store.claim_deadlines(self.worker_id, self.batch_size, self.lease)
        for item in items:
            try:
                self.bridge.apply(
                    item.connection_id,
                    item.tiktok_order_id,
                    ev.DeadlineReached(item.kind),
                    finish=partial(_finish_deadline, deadline_id=item.id, worker_id=self.worker_id),
                )
            except LeaseLost:
                log.warning("deadline lease lost", deadline=item.id, worker_id=self.worker_id)
        return len(items)

    # -- reconciliation --------------------------------------------------------------------------

    async def reconcile_due(self) -> int:
        """Run the reconciliation pass of each connection whose pass is due (one worker each)."""
        if self.reconcile_every is None:
            return 0
        now = self.clock.now()
        if self._next_reconcile_check is not None and now < self._next_reconcile_check:
            return 0
        self._next_reconcile_check = now + min(self.reconcile_every, timedelta(minutes=1))
        passes = 0
        for record in self.store.list_connections():
            if not self.store.start_reconciliation(record.id, now - self.reconcile_every):
                continue
            since = _parse_time(record.reconcile_cursor)
            try:
                await reconcile(self.store, self.bridge, self.contexts(record.id), since, now)
            except PlatformError as error:
                log.warning("reconciliation failed", connection=record.id, error=error.message)
                continue
            self.store.update_connection(record.id, reconcile_cursor=now.isoformat())
            passes += 1
        return passes

    # -- outbox ----------------------------------------------------------------------------------

    async def process_outbox(self) -> int:
        items = self.store.claim_outbox(self.worker_id, self.batch_size, self.lease)
        for item in items:
            await self._run_command(item)
        return len(items)

    async def _run_command(self, item: OutboxItem) -> None:
        command = decode_command(dict(item.payload))
        assert item.tiktok_order_id is not None, "every command belongs to an order"
        try:
            outcome = await execute(command, self.contexts(item.connection_id))
        except PermanentError as error:
            outcome = ev.ActionFailed(command.key, command.kind, error.message, error.code)
        except Exception as error:  # anything else may pass: retry it, then surface it
            retryable = error if isinstance(error, RetryableError) else _unexpected(error)
            if item.attempts < self.retry.max_attempts:
                due = self.clock.now() + self.retry.delay(item.attempts, self._rng)
                self.store.retry_outbox(item.id, self.worker_id, retryable.message, due)
                if item.order_mirror_id is not None:
                    self.store.add_timeline(
                        item.order_mirror_id,
                        "action",
                        f"{_words(command.kind)} failed (attempt {item.attempts}), "
                        f"retrying at {due:%H:%M:%S} UTC: {retryable.message}",
                    )
                return
            outcome = ev.ActionFailed(
                command.key,
                command.kind,
                f"{retryable.message} (gave up after {item.attempts} attempts)",
                retryable.code,
            )

        def finish(unit: OrderUnit) -> None:
            if isinstance(outcome, ev.ActionFailed):
                unit.fail_outbox(item.id, self.worker_id, outcome.message)
            else:
                unit.complete_outbox(item.id, self.worker_id)

        try:
            self.bridge.apply(item.connection_id, item.tiktok_order_id, outcome, finish=finish)
        except LeaseLost:
            log.warning("outbox lease lost", item=item.id, worker_id=self.worker_id)


def _unexpected(error: Exception) -> RetryableError:
    """A failure no platform classified (a bug, a surprise): retried like a 5xx, then surfaced."""
    log.exception("unexpected failure", error=repr(error))
    return RetryableError(f"unexpected {type(error).__name__}: {error}")


def _parse_time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _finish_deadline(unit: OrderUnit, deadline_id: int, worker_id: str) -> None:
    unit.finish_deadline(deadline_id, worker_id)


def _words(kind: str) -> str:
    return kind.replace("_", " ").capitalize()
