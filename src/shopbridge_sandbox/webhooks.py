"""At-least-once webhook delivery with a platform's retry schedule, shared by both sandboxes.

Deliveries are due in the sandbox's `Clock` time, so a test that advances a manual clock
by three hours sees TikTok's third retry go out. `pump()` sends whatever is due; the
sandbox app runs it in a background task and after each control call.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from shopbridge.clock import Clock
from shopbridge_sandbox.faults import Faults

# Building an SSL context costs ~0.15 s (loading CA certificates); build it once, not per pump.
_TLS = ssl.create_default_context()
# Deliveries in flight at once from one sandbox (TikTok and Shopify push concurrently).
PARALLEL_DELIVERIES = 16


@dataclass
class Delivery:
    id: int
    url: str
    body: bytes
    headers: dict[str, str]
    due_at: datetime
    attempts: int = 0
    status: str = "pending"  # pending | delivered | given_up
    last_result: str = ""
    history: list[tuple[datetime, str]] = field(default_factory=list)


class WebhookDispatcher:
    """Queues webhooks, applies fault knobs, retries non-2xx answers on a fixed schedule."""

    def __init__(
        self,
        clock: Clock,
        faults: Faults,
        retry_delays: Sequence[timedelta],
        timeout_seconds: float = 5.0,
    ) -> None:
        self._clock = clock
        self._faults = faults
        self._retry_delays = list(retry_delays)
        self._timeout = timeout_seconds
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.deliveries: list[Delivery] = []  # every delivery ever planned, for inspection
        # Pending deliveries by due time: a pump takes the due ones without scanning the rest.
        self._queue: list[tuple[datetime, int, Delivery]] = []

    def enqueue(self, url: str | None, body: bytes, headers: dict[str, str]) -> list[Delivery]:
        """Plan one notification; returns the copies that will be sent (none if dropped)."""
        if not url:
            return []
        plan = self._faults.webhook_plan()
        now = self._clock.now()
        created = []
        for _ in range(plan.copies):
            d = Delivery(next(self._ids), url, body, dict(headers), due_at=now + plan.delay)
            self.deliveries.append(d)
            self._plan(d)
            created.append(d)
        return created

    def pending(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "pending"]

    async def pump(self) -> int:
        """Send every delivery that is due now, several at once as the platforms do (so one
        slow receiver does not hold up the rest); returns how many were attempted."""
        async with self._lock:
            now = self._clock.now()
            due: list[Delivery] = []
            while self._queue and self._queue[0][0] <= now:
                _, _, delivery = heapq.heappop(self._queue)
                if delivery.status == "pending":
                    due.append(delivery)
            if not due:
                return 0
            slots = asyncio.Semaphore(PARALLEL_DELIVERIES)

            async def attempt(client: httpx.AsyncClient, delivery: Delivery) -> None:
                async with slots:
                    await self._attempt(client, delivery)

            async with httpx.AsyncClient(timeout=self._timeout, verify=_TLS) as client:
                await asyncio.gather(*(attempt(client, d) for d in due))
            return len(due)

    def _plan(self, delivery: Delivery) -> None:
        heapq.heappush(self._queue, (delivery.due_at, delivery.id, delivery))

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            response = await client.post(
                delivery.url, content=delivery.body, headers=delivery.headers
            )
            ok = response.status_code == 200 or 200 <= response.status_code < 300
            result = str(response.status_code)
        except httpx.HTTPError as exc:
            ok, result = False, type(exc).__name__
        now = self._clock.now()
        delivery.history.append((now, result))
        delivery.last_result = result
        if ok:
            delivery.status = "delivered"
            return
        retry_index = delivery.attempts - 1
        if retry_index < len(self._retry_delays):
            delivery.due_at = now + self._retry_delays[retry_index]
            self._plan(delivery)
        else:
            delivery.status = "given_up"

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.05) -> None:
        """Pump until `stop` is set; polls in real time so any clock works."""
        while not stop.is_set():
            try:
                await self.pump()
            except Exception:  # a sandbox must keep delivering whatever one webhook did
                await asyncio.sleep(poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
