"""Slow down password guessing: failed logins per email address, kept in this process."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from shopbridge.clock import Clock

MAX_TRACKED = 10_000


class LoginThrottle:
    """After `limit` failed logins for one email within `window`, further tries for that email
    are refused until the oldest failure leaves the window.

    Per process only: with several web processes each counts on its own, which still bounds
    guessing to a few tries a minute per process.
    """

    def __init__(
        self, clock: Clock, limit: int = 5, window: timedelta = timedelta(minutes=15)
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, key: str) -> timedelta | None:
        """How long this key must wait before it may try again, or None if it may try now."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window - self.clock.now()

    def failed(self, key: str) -> None:
        if len(self._failures) >= MAX_TRACKED:
            for stale in [k for k in self._failures if not self._recent(k)]:
                del self._failures[stale]
        self._failures.setdefault(key, deque()).append(self.clock.now())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[datetime]:
        failures = self._failures.get(key, deque())
        cutoff = self.clock.now() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
