"""TikTok's default rate limit: 50 requests per second per API per app+shop (§6.3, wave2 §7).

The gateway keys it on (app_key, shop_id, method, route template): an API is its template,
so Update Inventory for two products shares one window, not one per concrete path.

Measured in real monotonic time, not the sandbox clock: throttling protects servers, which
live in real time even when a test runs TikTok's calendar in fast-forward.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class RateLimiter:
    """A sliding one-second window per key; refused requests do not count."""

    def __init__(
        self,
        limit: int = 50,
        window_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._window = window_seconds
        self._monotonic = monotonic
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0  # requests answered 429 (benchmarks read it)

    def allow(self, key: Hashable) -> bool:
        now = self._monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= self.limit:
                self.refused += 1
                return False
            hits.append(now)
            return True
