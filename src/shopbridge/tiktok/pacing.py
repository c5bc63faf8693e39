"""Client-side pacing under TikTok's rate limit.

TikTok allows 50 requests per second per API endpoint per app+shop pair and answers HTTP 429
beyond that (tiktok_shop_api.md §6.3). Every client of one shop in this process shares one
`Pacer` (the module-level `SHARED_PACER` by default), which lets at most `rate` requests of
one endpoint start in any one-second window: 45 leaves headroom for network jitter.

Real monotonic time, not the injectable `Clock`: the limit is the platform's, measured in
wall time, and a test's manual clock must not stop requests from flowing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

DEFAULT_RATE = 45
WINDOW_SECONDS = 1.0


class Pacer:
    """Per-key sliding-window limiter; safe to share across threads and event loops."""

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
        # Start times already granted per key, newest last; only the last `rate` matter.
        self._granted: dict[Hashable, deque[float]] = {}

    def reserve(self, key: Hashable) -> float:
        """Book the next free start time for `key`; returns how long to wait for it."""
        with self._lock:
            now = self._monotonic()
            granted = self._granted.setdefault(key, deque(maxlen=self.rate))
            start = now if len(granted) < self.rate else max(now, granted[0] + self.window)
            granted.append(start)
            return start - now

    async def acquire(self, key: Hashable) -> None:
        """Wait until a request for `key` may start without exceeding the rate."""
        delay = self.reserve(key)
        if delay > 0:
            await asyncio.sleep(delay)


SHARED_PACER = Pacer()
