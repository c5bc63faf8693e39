"""The one source of time in shopbridge.

Everything that needs "now" or needs to wait takes a `Clock`, so tests can run
hours of TikTok policy (24 h unpaid window, 60 min holdback, 48 h request
auto-approval) in milliseconds, and demos can run them in minutes.

Processes share an accelerated clock through a *spec* (`--clock`):

- `system` — wall-clock time (the default, and the only one for real shops);
- `scaled:FACTOR` — time runs FACTOR times faster; `serve` and `worker` anchor it in the
  database (the first process stores the moment it started), so every process on that database
  agrees;
- `scaled:FACTOR@EPOCH` — the same, anchored at EPOCH (wall-clock Unix seconds), for processes
  without the database (the sandboxes of a rehearsal).

Simulated time is `EPOCH + (wall time - EPOCH) * FACTOR`: at the anchor it equals the wall clock,
so timestamps stay near today's date.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells aware-UTC time and waits in that time."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    factor = 1.0

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
    """Simulated time running `factor` times faster than the wall clock, from `epoch` on.

    Computed from the wall clock (not a process's monotonic clock) so that several processes
    given the same factor and epoch tell the same time.
    """

    def __init__(self, factor: float, epoch: float | None = None) -> None:
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError("the scale factor must be a positive number")
        self.factor = factor
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> datetime:
        wall = time.time()
        return datetime.fromtimestamp(self.epoch + (wall - self.epoch) * self.factor, UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)

    @property
    def spec(self) -> str:
        """The spec that gives another process this very clock."""
        return f"scaled:{self.factor:g}@{self.epoch!r}"


@dataclass(frozen=True)
class ClockSpec:
    """A parsed `--clock` value: `system`, `scaled:FACTOR` or `scaled:FACTOR@EPOCH`."""

    factor: float = 1.0
    epoch: float | None = None

    @property
    def scaled(self) -> bool:
        return self.factor != 1.0 or self.epoch is not None

    @classmethod
    def parse(cls, text: str) -> ClockSpec:
        value = text.strip().lower()
        if value in ("", "system"):
            return cls()
        kind, _, rest = value.partition(":")
        factor_text, _, epoch_text = rest.partition("@")
        try:
            if kind != "scaled":
                raise ValueError
            factor = float(factor_text)
            epoch = float(epoch_text) if epoch_text else None
        except ValueError:
            raise ValueError(
                f"clock {text!r} is not system, scaled:FACTOR or scaled:FACTOR@EPOCH"
            ) from None
        if not (math.isfinite(factor) and factor > 0) or (
            epoch is not None and not math.isfinite(epoch)
        ):
            raise ValueError(f"clock {text!r}: the factor must be positive and the epoch finite")
        return cls(factor, epoch)

    def clock(self, epoch: float | None = None) -> Clock:
        """The clock this spec names; `epoch` anchors a scaled spec that gave none."""
        if not self.scaled:
            return SystemClock()
        return ScaledClock(self.factor, self.epoch if self.epoch is not None else epoch)


def clock_span(clock: Clock, real_seconds: float) -> timedelta:
    """How much clock time passes in `real_seconds` of wall-clock time.

    Leases and heartbeats are about processes, which live in real time; they are stored in clock
    time, so a lease of 10 real seconds is 10 minutes on a clock running 60 times faster. A
    manual clock only moves when told, so it counts its own seconds.
    """
    return timedelta(seconds=real_seconds * getattr(clock, "factor", 1.0))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("shopbridge works in aware UTC datetimes only")
