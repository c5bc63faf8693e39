"""The one source of time in shopbridge.

Everything that needs "now" or needs to wait takes a `Clock`, so tests can run
hours of TikTok policy (24 h unpaid window, 60 min holdback, 48 h request
auto-approval) in milliseconds, and demos can run them in minutes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells aware-UTC time and waits in that time."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when a test says so; safe to share across threads."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        _require_aware(start)
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        _require_aware(moment)
        with self._lock:
            if moment < self._now:
                raise ValueError("a clock never goes backwards")
            self._now = moment

    async def sleep(self, seconds: float) -> None:
        # Waiters poll in short real sleeps rather than hooking `advance`, because the
        # clock is shared by servers running on other threads and event loops.
        wake_at = self.now() + timedelta(seconds=max(0.0, seconds))
        while self.now() < wake_at:  # noqa: ASYNC110 - the waker may be on another thread or loop
            await asyncio.sleep(0.005)


class ScaledClock:
    """Simulated time running `factor` times faster than real time, for demos."""

    def __init__(self, factor: float, start: datetime | None = None) -> None:
        if factor <= 0:
            raise ValueError("the scale factor must be positive")
        start = start or datetime.now(UTC)
        _require_aware(start)
        self.factor = factor
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.factor)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("shopbridge works in aware UTC datetimes only")
