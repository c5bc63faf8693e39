"""Client-side pacing under TikTok's rate limit.

TikTok allows 50 requests per second per API endpoint per app+shop pair and answers HTTP 429
beyond that (tiktok_shop_api.md §6.3). Every client of one shop in this process shares one
`Pacer` (the module-level `SHARED_PACER` by default), which keeps at most `rate` (45, headroom
under 50) requests of one key either in flight or finished less than a window ago.

Why count from the moment a request *finishes* rather than when it starts: the server counts
when it receives a request, which is somewhere between our start and our finish. A burst of
new connections can reach the server late while the next burst, on warm connections, arrives
at once; spacing by start times then lets more than 50 land in the server's one-second window.
Spacing by finish times cannot: whichever request of a server window started last saw every
other one of that window still in flight or finished within the window.

Real monotonic time, not the injectable `Clock`: the limit is the platform's, measured in
wall time, and a test's manual clock must not stop requests from flowing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager

DEFAULT_RATE = 45
WINDOW_SECONDS = 1.0
IN_FLIGHT_POLL_SECONDS = 0.005


class Pacer:
    """Per-key limiter over a sliding window; safe to share across threads and event loops."""

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        window: float = WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate < 1:
            raise ValueError("a pacer must allow at least one request per window")
        self.rate = rate
        self.window = window
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._finished: dict[Hashable, deque[float]] = {}
        self._in_flight: dict[Hashable, int] = {}

    def try_start(self, key: Hashable) -> float:
        """Start a request for `key` (returns 0.0), or say how long to wait before asking again."""
        with self._lock:
            now = self._monotonic()
            finished = self._finished.setdefault(key, deque())
            while finished and finished[0] <= now - self.window:
                finished.popleft()
            in_flight = self._in_flight.get(key, 0)
            if len(finished) + in_flight < self.rate:
                self._in_flight[key] = in_flight + 1
                return 0.0
            if finished:
                return max(finished[0] + self.window - now, IN_FLIGHT_POLL_SECONDS)
            return IN_FLIGHT_POLL_SECONDS  # every slot is in flight: wait for one to finish

    def finish(self, key: Hashable) -> None:
        """Record that a request started with `try_start` has its answer (or gave up)."""
        with self._lock:
            self._in_flight[key] -= 1
            self._finished.setdefault(key, deque()).append(self._monotonic())

    @asynccontextmanager
    async def slot(self, key: Hashable) -> AsyncIterator[None]:
        """Hold a slot for `key` for the duration of one request."""
        while (delay := self.try_start(key)) > 0:  # noqa: ASYNC110 - finishers may be on other threads or loops
            await asyncio.sleep(delay)
        try:
            yield
        finally:
            self.finish(key)


SHARED_PACER = Pacer()
